import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LIVE_TEAM_CONDITION, LIVE_TEAM_VALUES, teamKey } from '../teams/team-store';
import { REFRESH_PARTITION_TOKENS } from './refresh-index';

/** What the callback records about the DrChrono user who authorised the connection (ids only, no PHI). */
export interface DrChronoConnectionUser {
  id: number;
  username: string;
  doctor?: number | null;
  practiceGroup?: number | string | null;
}

/** The subset of DrChrono's UserProfile (`/api/users/current`) the team item records. */
export function connectionUserFromProfile(profile: {
  id: string | number;
  username: string;
  doctor?: string | number | null;
  practice_group?: string | number | null;
}): DrChronoConnectionUser {
  const id = Number(profile.id);
  if (!Number.isSafeInteger(id)) throw new Error('DrChrono user id is not an integer');
  const doctor = profile.doctor == null || profile.doctor === '' ? null : Number(profile.doctor);
  return {
    id,
    username: profile.username,
    doctor: doctor !== null && Number.isSafeInteger(doctor) ? doctor : null,
    practiceGroup: profile.practice_group ?? null,
  };
}

/**
 * Mark a team connected after its tokens are stored: status, user, token expiry, and a place in the
 * token-expiry index. Clears what a previous failure left (reauthorization flag, backoff, pending request).
 * With `lease`, it also releases the callback's token lease (only if still its owner) and writes only if the
 * team item's tokenVersion is still the one the callback claimed: a newer writer's expiry is never overwritten.
 * Returns whether the lease was released here.
 */
export async function markTeamConnected(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  teamId: string,
  input: {
    user: DrChronoConnectionUser;
    tokenExpiresAt: number;
    now: Date;
    lease?: { owner: string; tokenVersion: number };
    /** The scopes of the authorization behind the stored tokens (authorize-url.ts grantedScopesOf). */
    grantedScopes?: readonly string[];
  },
): Promise<boolean> {
  const values: Record<string, unknown> = {
    ':connected': 'connected',
    ':now': input.now.toISOString(),
    ':nowMs': input.now.getTime(),
    ':uid': input.user.id,
    ':uname': input.user.username,
    ':exp': input.tokenExpiresAt,
    ':part': REFRESH_PARTITION_TOKENS,
  };
  const sets = [
    '#status = :connected',
    'connectedAt = :now',
    'updatedAt = :now',
    'drchronoUserId = :uid',
    'drchronoUsername = :uname',
    'tokenExpiresAt = :exp',
    'tokensWrittenAt = :nowMs',
    'refreshPartition = :part',
  ];
  const removes = [
    'reauthRequiredAt',
    'refreshFailures',
    'refreshNotBefore',
    'refreshRequestedAt',
    'refreshRequestReason',
    'refreshRequestedTokenVersion',
    'refreshUncertainSince',
  ];
  if (input.grantedScopes) {
    sets.push('grantedScopes = :scopes');
    values[':scopes'] = [...input.grantedScopes];
  }
  if (input.user.doctor != null) {
    sets.push('drchronoDoctorId = :doc');
    values[':doc'] = input.user.doctor;
  } else removes.push('drchronoDoctorId');
  if (input.user.practiceGroup != null) {
    sets.push('drchronoPracticeGroup = :pg');
    values[':pg'] = input.user.practiceGroup;
  } else removes.push('drchronoPracticeGroup');
  const write = (condition: string, remove: string[], extra: Record<string, unknown>) =>
    ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(teamId),
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${remove.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ...values, ...LIVE_TEAM_VALUES, ...extra },
      }),
    );
  const { lease } = input;
  if (!lease) {
    await write(LIVE_TEAM_CONDITION, removes, {});
    return false;
  }
  const ours = { ':v': lease.tokenVersion };
  try {
    await write(`${LIVE_TEAM_CONDITION} AND tokenVersion = :v AND refreshLeaseOwner = :owner`, [...removes, 'refreshLeaseUntil', 'refreshLeaseOwner'], {
      ...ours,
      ':owner': lease.owner,
    });
    return true;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  try {
    // The lease ran out (someone else may hold it now: leave it), but our tokens are still the latest.
    // Never on a team being removed: that would take it out of the removal's fence (team-removal.ts).
    await write(`${LIVE_TEAM_CONDITION} AND tokenVersion = :v`, removes, ours);
  } catch (err) {
    // A newer writer claimed a version after ours; it records the connection state itself.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  return false;
}
