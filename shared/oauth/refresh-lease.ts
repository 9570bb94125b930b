import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TeamItemSchema, teamKey, type TeamItem } from '../teams/team-store';

/**
 * The per-team refresh lease: `refreshLeaseUntil` (epoch ms) and `refreshLeaseOwner` on the team item, taken with
 * one conditional UpdateItem. At most one refresher holds it at a time; a crashed holder's lease simply expires.
 *
 *   free / expired ──acquire──▶ held by owner ──release (owner only, with the outcome)──▶ free
 *
 * The acquire condition also requires the team to be connected and out of any transient-error backoff
 * (`refreshNotBefore`), so a team in backoff costs one failed conditional write and nothing else.
 */
export const DEFAULT_LEASE_MS = 2 * 60_000;

export interface Lease {
  teamId: string;
  owner: string;
  until: number;
  /** The team item as written by the acquire. */
  team: TeamItem;
}

export async function acquireRefreshLease(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  teamId: string,
  owner: string,
  nowMs: number,
  leaseMs: number = DEFAULT_LEASE_MS,
): Promise<Lease | null> {
  const until = nowMs + leaseMs;
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(teamId),
        UpdateExpression: 'SET refreshLeaseUntil = :until, refreshLeaseOwner = :owner',
        ConditionExpression:
          'attribute_exists(pk) AND #status = :connected' +
          ' AND (attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now)' +
          ' AND (attribute_not_exists(refreshNotBefore) OR refreshNotBefore <= :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':until': until, ':owner': owner, ':now': nowMs, ':connected': 'connected' },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { teamId, owner, until, team: TeamItemSchema.parse(out.Attributes) };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return null;
    throw err;
  }
}

/**
 * Release the lease while recording the outcome, in one UpdateItem conditional on still owning it. Returns false
 * when the lease was lost (expired and taken by another refresher); the caller's writes were then not applied.
 */
export async function releaseRefreshLease(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  lease: Pick<Lease, 'teamId' | 'owner'>,
  update: { set?: Record<string, unknown>; remove?: string[] } = {},
): Promise<boolean> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':owner': lease.owner };
  const sets: string[] = [];
  Object.entries(update.set ?? {}).forEach(([attr, value], i) => {
    names[`#s${i}`] = attr;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  });
  const removes = ['refreshLeaseUntil', 'refreshLeaseOwner', ...(update.remove ?? [])].map((attr, i) => {
    names[`#r${i}`] = attr;
    return `#r${i}`;
  });
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(lease.teamId),
        UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}REMOVE ${removes.join(', ')}`,
        ConditionExpression: 'refreshLeaseOwner = :owner',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}
