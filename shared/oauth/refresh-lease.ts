import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeIfCondition } from '../aws/conditional-write';
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
/** How long a token-version claim holds the lease for the secret write that follows it. */
export const TOKEN_WRITE_HOLD_MS = 30_000;
/** The secret write must be done this long before the hold ends (clock skew between writers). */
export const TOKEN_WRITE_MARGIN_MS = 5_000;

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
 * With `keepLease` the outcome is recorded and the lease stays until its `until`.
 */
export async function releaseRefreshLease(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  lease: Pick<Lease, 'teamId' | 'owner'>,
  update: { set?: Record<string, unknown>; remove?: string[] } = {},
  opts: { keepLease?: boolean } = {},
): Promise<boolean> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':owner': lease.owner };
  const sets: string[] = [];
  Object.entries(update.set ?? {}).forEach(([attr, value], i) => {
    names[`#s${i}`] = attr;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  });
  // keepLease: record the outcome but leave the lease to run out at its `until`. After a failed or aborted secret
  // write the request may still land server-side; no other writer may start before it is surely dead
  // (docs/oauth.md, "Who writes the tokens").
  const removes = [...(opts.keepLease ? [] : ['refreshLeaseUntil', 'refreshLeaseOwner']), ...(update.remove ?? [])].map((attr, i) => {
    names[`#r${i}`] = attr;
    return `#r${i}`;
  });
  return writeIfCondition(
    ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(lease.teamId),
        UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' '),
        ConditionExpression: 'refreshLeaseOwner = :owner',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    ),
  );
}

/**
 * The OAuth callback takes the same lease before it exchanges its code, so a callback and a refresher never
 * interleave (docs/oauth.md, "Who writes the tokens"). Unlike a refresher it needs no `connected` status and
 * ignores a refresh backoff: a reconnect is exactly what a team in trouble needs. Waits for a held lease by
 * polling until `waitMs` has passed; null when it is still held then.
 */
export async function acquireTokenLeaseForCallback(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  teamId: string,
  owner: string,
  opts: { now: () => number; leaseMs: number; waitMs: number; pollMs: number; sleep: (ms: number) => Promise<void> },
): Promise<Lease | null> {
  const giveUpAt = opts.now() + opts.waitMs;
  for (;;) {
    const nowMs = opts.now();
    const until = nowMs + opts.leaseMs;
    try {
      const out = await ddb.send(
        new UpdateCommand({
          TableName: teamsTable,
          Key: teamKey(teamId),
          UpdateExpression: 'SET refreshLeaseUntil = :until, refreshLeaseOwner = :owner',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now)',
          ExpressionAttributeValues: { ':until': until, ':owner': owner, ':now': nowMs },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { teamId, owner, until, team: TeamItemSchema.parse(out.Attributes) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    if (opts.now() + opts.pollMs > giveUpAt) return null;
    await opts.sleep(opts.pollMs);
  }
}

/**
 * Claim the next token version on the team item before writing tokens to the secret: one conditional UpdateItem
 * that succeeds only while this writer still owns the lease (nobody else took it, even if it ran past its end)
 * and only with a version above every earlier claim, so `tokenVersion` strictly increases across all writers.
 * It also sets the lease to end `holdMs` from now: the secret write must finish inside that (its deadline), so
 * a writer stalled past the claim cannot land its write after a newer writer's. False: the lease was lost.
 */
export async function claimTokenVersion(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  lease: Pick<Lease, 'teamId' | 'owner'>,
  next: number,
  nowMs: number,
  holdMs: number,
  binding?: ClaimBinding,
): Promise<{ until: number } | null> {
  const until = nowMs + holdMs;
  const sets = ['tokenVersion = :next', 'refreshLeaseUntil = :until'];
  const values: Record<string, unknown> = { ':next': next, ':until': until, ':owner': lease.owner };
  const removes: string[] = [];
  const adds: string[] = [];
  let condition = 'refreshLeaseOwner = :owner AND (attribute_not_exists(tokenVersion) OR tokenVersion < :next)';
  if (binding) {
    // The binding is recorded in the claim, the commit point of a token write: the account whose tokens the secret
    // is about to hold is the one the team is bound to (account-binding.ts), and a spent permission is spent here.
    sets.push('boundDrchronoUserId = :buid');
    values[':buid'] = binding.userId;
    if (binding.practiceGroup !== null) {
      sets.push('boundDrchronoPracticeGroup = :bpg');
      values[':bpg'] = binding.practiceGroup;
    } else removes.push('boundDrchronoPracticeGroup');
    if (binding.changed) {
      sets.push('accountBoundAt = :bat');
      values[':bat'] = new Date(nowMs).toISOString();
    }
    if (binding.spendLinkId) {
      adds.push('accountChangeLinksUsed :lids');
      values[':lids'] = new Set([binding.spendLinkId]);
      values[':lid'] = binding.spendLinkId;
      condition += ' AND NOT contains(accountChangeLinksUsed, :lid)';
    }
  }
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: teamsTable,
        Key: teamKey(lease.teamId),
        UpdateExpression: [`SET ${sets.join(', ')}`, removes.length ? `REMOVE ${removes.join(', ')}` : '', adds.length ? `ADD ${adds.join(', ')}` : '']
          .filter(Boolean)
          .join(' '),
        ConditionExpression: condition,
        ExpressionAttributeValues: values,
      }),
    );
    return { until };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return null;
    throw err;
  }
}

/** What the OAuth callback's claim records about the account it binds the team to (account-binding.ts). */
export interface ClaimBinding {
  userId: number;
  practiceGroup: string | null;
  /** A first binding or an allowed change (sets `accountBoundAt`). */
  changed: boolean;
  /** The link id whose one-time account-change permission this claim spends. */
  spendLinkId?: string;
}

/** The version a writer claims: above both the team item's last claim and the secret's (teams from before the claim). */
export function nextTokenVersion(team: TeamItem, secretVersion: number | undefined): number {
  return Math.max(team.tokenVersion ?? 0, secretVersion ?? 0) + 1;
}
