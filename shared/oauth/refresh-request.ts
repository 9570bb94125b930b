import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeIfCondition } from '../aws/conditional-write';
import { teamKey } from '../teams/team-store';
import { REFRESH_PARTITION_REQUESTED } from './refresh-index';

/**
 * The request path's only way to get a new access token: ask the scheduled refresher for one. Request-path code
 * never refreshes itself, because two uncoordinated refreshes with rotating refresh tokens lose the grant.
 *
 * Moves the team into the `refresh-requested` partition of the token-expiry index, so the next sweep refreshes it
 * (subject to the lease and any transient-error backoff). One UpdateItem; idempotent: repeated requests keep the
 * first request time. A team that is not connected (no refreshPartition) is left alone and `false` is returned.
 *
 * `rejectedTokenVersion`: the secret's tokenVersion of the access token DrChrono rejected. Pass it: a worker
 * holding a token cached from before the last refresh would otherwise trigger a refresh of the new token, whose
 * rotation makes the other workers' tokens stale in turn. The sweep ignores a request older than the stored tokens.
 */
export async function requestTokenRefresh(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  teamId: string,
  reason: string,
  now: Date = new Date(),
  rejectedTokenVersion?: number,
): Promise<boolean> {
  const withVersion = rejectedTokenVersion !== undefined;
  return writeIfCondition(
    ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(teamId),
        UpdateExpression:
          'SET refreshPartition = :requested, refreshRequestedAt = if_not_exists(refreshRequestedAt, :now), refreshRequestReason = :reason' +
          (withVersion ? ', refreshRequestedTokenVersion = :tv' : ''),
        ConditionExpression: 'attribute_exists(refreshPartition)',
        ExpressionAttributeValues: {
          ':requested': REFRESH_PARTITION_REQUESTED,
          ':now': now.getTime(),
          ':reason': reason.slice(0, 200),
          ...(withVersion ? { ':tv': rejectedTokenVersion } : {}),
        },
      }),
    ),
  );
}
