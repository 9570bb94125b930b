import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteSecretCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BACKFILL_QUEUE, INGEST_QUEUE, WRITE_BACK_QUEUE } from '../config/queue-settings';
import { ENTITIES, type Entity } from '../mapping/field-names';
import { countPartition, deletePartition, defaultSleep, RatePacer, type PacedDeleteOptions } from '../store/paced-delete';
import { recordPk } from '../store/records';
import { DEFAULT_TEAM_TTL_MS } from '../sync/sync-context';
import { DeadLetterEraseIncompleteError, deadLetterQueueUrl, eraseTeamDeadLetters } from './dead-letter-erase';
import { teamSecretName } from './team-secret';
import { getTeamItem, TEAM_SK, teamKey, type TeamItem } from './team-store';

/**
 * `team remove <teamId> --erase --yes`: erase everything of a team that can hold PHI and keep one PHI-free audit
 * item. Every step is idempotent, so running it again after an interruption continues where it stopped:
 *
 * 1. Fence: the team item becomes `status: removing` (conditional; the first start time is kept), leaves the
 *    refresher's index and takes the token lease for good. From then on the webhook answers 404, the workers drop
 *    the team's queued work (logged by id only), the tick skips it, and no token writer can take the lease.
 * 2. Delete, paced (paced-delete.ts): the records partitions (`<teamId>#patient|appointment|employee`), the
 *    integration log partition (`<teamId>`) and every item of the team's teams-table partition but the team item
 *    (backfill, reconcile and deletion-check state and listings, name caches, budget counters, and whatever
 *    else is keyed by the team). Counts are added to the team item after each batch.
 * 3. Drain: a worker that read the team as active just before the fence may still be writing; wait until the
 *    longest such invocation is surely over (DRAIN_MS after the fence), then
 * 4. sweep again, so nothing written meanwhile survives.
 * 5. Take the team's messages off the work queues' DLQs (dead-letter-erase.ts); queued work on the queues themselves
 *    is dropped by the workers, logged by id only.
 * 6. Delete the secret without a recovery window (it holds the practice's tokens; see docs/operations.md).
 * 7. Replace the team item with the audit item: team id, created, removal start and end, counts; nothing else.
 *
 * OAuth state items (`STATE#<nonce>`) are keyed by nonce, hold only a team id, and expire in 10 minutes: they are
 * left to their TTL, and a callback with one finds the team removed.
 */
export const REMOVAL_COUNT_KINDS = ['patients', 'appointments', 'employees', 'integrationLog', 'teamItems', 'deadLetters', 'secret'] as const;
export type RemovalCountKind = (typeof REMOVAL_COUNT_KINDS)[number];
export type RemovalCounts = Record<RemovalCountKind, number>;

const ENTITY_KIND: Record<Entity, RemovalCountKind> = { patient: 'patients', appointment: 'appointments', employee: 'employees' };

/** Owner of the token lease a removal takes; never released, so no token writer starts again. */
export const REMOVAL_LEASE_OWNER = 'team-removal';
const FOREVER_MS = Number.MAX_SAFE_INTEGER;

/**
 * How long after the fence a worker that read the team as active may still write: the sync worker's cached team
 * item (30 s), plus the longest invocation of a worker that writes team data (sync, backfill/reconcile, write-back), plus a
 * margin for clock skew and SQS.
 */
export const DRAIN_MS =
  DEFAULT_TEAM_TTL_MS + Math.max(INGEST_QUEUE.functionTimeoutSeconds, BACKFILL_QUEUE.functionTimeoutSeconds, WRITE_BACK_QUEUE.functionTimeoutSeconds) * 1000 + 30_000;

export interface RemovalDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  teamsTable: string;
  recordsTable: string;
  integrationLogTable: string;
  teamSecretPrefix: string;
  /** The work queues (ingest, backfill, write-back) whose DLQs are cleared of the team's messages. */
  sqs?: SQSClient;
  workQueueUrls?: readonly string[];
  /** Item deletes per second across all tables. */
  itemsPerSecond: number;
  drainMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Progress lines (ids and counts only). */
  progress?: (line: string) => void;
  /** Passed to every batch (tests shorten backoff). */
  batch?: Partial<Pick<PacedDeleteOptions, 'maxAttempts' | 'baseBackoffMs' | 'maxBackoffMs' | 'random'>>;
}

export type RemovalResult =
  | { outcome: 'removed'; counts: RemovalCounts; startedAt: string; removedAt: string; resumed: boolean }
  | { outcome: 'already-removed'; counts: RemovalCounts; startedAt?: string; removedAt?: string };

export class TeamNotRegisteredError extends Error {
  override name = 'TeamNotRegisteredError';
}

export function zeroCounts(): RemovalCounts {
  return Object.fromEntries(REMOVAL_COUNT_KINDS.map((k) => [k, 0])) as RemovalCounts;
}

export function countsOf(team: Pick<TeamItem, 'removalCounts'>): RemovalCounts {
  const c = zeroCounts();
  for (const k of REMOVAL_COUNT_KINDS) c[k] = team.removalCounts?.[k] ?? 0;
  return c;
}

/** Everything a removal would delete now (the dry run without --yes). */
export async function planRemoval(deps: Pick<RemovalDeps, 'ddb' | 'teamsTable' | 'recordsTable' | 'integrationLogTable'>, teamId: string): Promise<Omit<RemovalCounts, 'secret' | 'deadLetters'>> {
  const [patients, appointments, employees, integrationLog, teamItems] = await Promise.all([
    ...ENTITIES.map((e) => countPartition(deps.ddb, deps.recordsTable, recordPk(teamId, e))),
    countPartition(deps.ddb, deps.integrationLogTable, teamId),
    countPartition(deps.ddb, deps.teamsTable, teamId, (k) => k.sk === TEAM_SK),
  ]);
  return { patients: patients!, appointments: appointments!, employees: employees!, integrationLog: integrationLog!, teamItems: teamItems! };
}

/** Step 1. Idempotent; returns the fenced team item. */
export async function fenceTeam(deps: Pick<RemovalDeps, 'ddb' | 'teamsTable'>, teamId: string, now: Date): Promise<TeamItem> {
  const out = await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.teamsTable,
      Key: teamKey(teamId),
      UpdateExpression:
        'SET #status = :removing, removalStartedAt = if_not_exists(removalStartedAt, :now), updatedAt = :now,' +
        ' removalCounts = if_not_exists(removalCounts, :zero), refreshLeaseOwner = :owner, refreshLeaseUntil = :forever' +
        ' REMOVE refreshPartition, tokenExpiresAt',
      ConditionExpression: 'attribute_exists(pk) AND #status <> :removed',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':removing': 'removing',
        ':removed': 'removed',
        ':now': now.toISOString(),
        ':zero': zeroCounts(),
        ':owner': REMOVAL_LEASE_OWNER,
        ':forever': FOREVER_MS,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return out.Attributes as TeamItem;
}

async function addCount(deps: RemovalDeps, teamId: string, kind: RemovalCountKind, n: number): Promise<void> {
  await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.teamsTable,
      Key: teamKey(teamId),
      UpdateExpression: 'ADD removalCounts.#kind :n',
      ConditionExpression: '#status = :removing',
      ExpressionAttributeNames: { '#kind': kind, '#status': 'status' },
      ExpressionAttributeValues: { ':n': n, ':removing': 'removing' },
    }),
  );
}

/** Steps 2 and 4: one pass over every partition of the team. */
async function deleteAll(deps: RemovalDeps, teamId: string, pacer: RatePacer): Promise<RemovalCounts> {
  const pass = zeroCounts();
  const opts = (kind: RemovalCountKind, keep?: PacedDeleteOptions['keep']): PacedDeleteOptions => ({
    ...deps.batch,
    pacer,
    sleep: deps.sleep,
    keep,
    onDeleted: async (n) => {
      pass[kind] += n;
      await addCount(deps, teamId, kind, n);
    },
  });
  for (const entity of ENTITIES) {
    await deletePartition(deps.ddb, deps.recordsTable, recordPk(teamId, entity), opts(ENTITY_KIND[entity]));
  }
  await deletePartition(deps.ddb, deps.integrationLogTable, teamId, opts('integrationLog'));
  await deletePartition(deps.ddb, deps.teamsTable, teamId, opts('teamItems', (k) => k.sk === TEAM_SK));
  return pass;
}

function describe(c: Partial<RemovalCounts>): string {
  return REMOVAL_COUNT_KINDS.filter((k) => c[k] !== undefined)
    .map((k) => `${c[k]} ${k}`)
    .join(', ');
}

export async function removeTeam(deps: RemovalDeps, teamId: string): Promise<RemovalResult> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? defaultSleep;
  const progress = deps.progress ?? (() => undefined);
  const before = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (!before) throw new TeamNotRegisteredError(`team ${teamId} is not registered`);
  if (before.status === 'removed') return { outcome: 'already-removed', counts: countsOf(before), startedAt: before.removalStartedAt, removedAt: before.removedAt };
  const resumed = before.status === 'removing';

  let fenced: TeamItem;
  try {
    fenced = await fenceTeam(deps, teamId, now());
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    // Another run finished meanwhile.
    const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
    if (team?.status === 'removed') return { outcome: 'already-removed', counts: countsOf(team), startedAt: team.removalStartedAt, removedAt: team.removedAt };
    throw err;
  }
  const startedAt = fenced.removalStartedAt!;
  progress(`${resumed ? 'Resuming removal' : 'Removal started'} of team ${teamId} (fenced at ${startedAt}): nothing is processed for it any more.`);

  const pacer = new RatePacer(deps.itemsPerSecond, () => now().getTime(), sleep);
  const first = await deleteAll(deps, teamId, pacer);
  progress(`Deleted ${describe(first)}.`);

  const drainEnds = Date.parse(startedAt) + (deps.drainMs ?? DRAIN_MS);
  const wait = drainEnds - now().getTime();
  if (wait > 0) {
    progress(`Waiting ${Math.ceil(wait / 1000)} s for work that was already running to finish, then sweeping again.`);
    await sleep(wait);
  }
  const sweep = await deleteAll(deps, teamId, pacer);
  if (REMOVAL_COUNT_KINDS.some((k) => sweep[k] > 0)) progress(`Final sweep deleted ${describe(sweep)}.`);

  for (const queueUrl of deps.sqs ? (deps.workQueueUrls ?? []) : []) {
    const dlq = await deadLetterQueueUrl(deps.sqs!, queueUrl);
    if (!dlq) continue;
    const n = await eraseTeamDeadLetters(deps.sqs!, dlq, teamId).catch(async (err: unknown) => {
      // Count what this pass did delete (a re-run will not see it again), then stop before the secret and the audit item.
      if (err instanceof DeadLetterEraseIncompleteError && err.erased > 0) await addCount(deps, teamId, 'deadLetters', err.erased);
      throw err;
    });
    if (n > 0) {
      await addCount(deps, teamId, 'deadLetters', n);
      progress(`Deleted ${n} dead-lettered messages of the team.`);
    }
  }

  if (await deleteSecret(deps, teamId)) await addCount(deps, teamId, 'secret', 1);

  const done = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  const counts = countsOf(done ?? fenced);
  const removedAt = now().toISOString();
  await writeAuditItem(deps, teamId, before.createdAt, startedAt, removedAt, counts);
  return { outcome: 'removed', counts, startedAt, removedAt, resumed };
}

/**
 * Without a recovery window: the secret holds the practice's OAuth tokens and nothing of it may be restored with
 * the PHI gone. In AWS the name disappears in the background (seconds); a PutSecretValue racing it fails
 * ("marked for deletion" or not found) and cannot create it again. False when it was already gone.
 */
async function deleteSecret(deps: RemovalDeps, teamId: string): Promise<boolean> {
  try {
    await deps.secrets.send(new DeleteSecretCommand({ SecretId: teamSecretName(deps.teamSecretPrefix, teamId), ForceDeleteWithoutRecovery: true }));
    return true;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return false;
    throw err;
  }
}

/** Step 6: the team item becomes the audit item, PHI-free by construction (only these attributes). */
async function writeAuditItem(deps: RemovalDeps, teamId: string, createdAt: string, startedAt: string, removedAt: string, counts: RemovalCounts): Promise<void> {
  try {
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.teamsTable,
        Item: {
          ...teamKey(teamId),
          teamId,
          status: 'removed',
          createdAt,
          updatedAt: removedAt,
          removalStartedAt: startedAt,
          removedAt,
          removalCounts: counts,
          // Kept: no token writer (refresher, OAuth callback) can ever take the lease of a removed team.
          refreshLeaseOwner: REMOVAL_LEASE_OWNER,
          refreshLeaseUntil: FOREVER_MS,
        },
        ConditionExpression: '#status = :removing',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':removing': 'removing' },
      }),
    );
  } catch (err) {
    // A concurrent run wrote it first: the same item.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}
