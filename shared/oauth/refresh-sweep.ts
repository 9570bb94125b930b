import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TEAMS_TOKEN_EXPIRY_INDEX } from '../config/resource-names';
import { errorFields, logger } from '../logging/logger';
import { REFRESH_PARTITION_REQUESTED, REFRESH_PARTITION_TOKENS } from './refresh-index';
import { refreshTeam, type RefreshOutcome, type RefreshTeamDeps } from './refresh-team';

/**
 * One run of the scheduled refresher: find the due teams with the token-expiry index (keys only, never a
 * secret), then refresh them with bounded concurrency. Callable from the Lambda handler and from scripts
 * (benchmarks) with injected dependencies.
 */
export interface RefreshSweepDeps extends RefreshTeamDeps {
  concurrency: number;
  /**
   * Secret writes per second across the sweep. PutSecretValue shares a fixed 50/s per-region quota with
   * UpdateSecret & co., and a failed write after a successful refresh loses the new tokens. Default 40.
   */
  secretWritesPerSecond?: number;
  /** Checked before each team is started; the Lambda handler stops when its remaining time runs short. */
  shouldStop?: () => boolean;
}

export interface RefreshSweepSummary {
  due: number;
  refreshed: number;
  /** Not attempted: already fresh, leased elsewhere, in backoff, or out of time. */
  skipped: number;
  failed: number;
  reauthRequired: number;
}

/** Team ids whose token expires by `nowMs + windowMs`, plus teams whose refresh was requested. Two small queries. */
export async function findTeamsDueForRefresh(ddb: DynamoDBDocumentClient, teamsTable: string, nowMs: number, windowMs: number): Promise<string[]> {
  const ids = new Set<string>();
  const queries = [
    { partition: REFRESH_PARTITION_REQUESTED, until: undefined },
    { partition: REFRESH_PARTITION_TOKENS, until: nowMs + windowMs },
  ];
  for (const q of queries) {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await ddb.send(
        new QueryCommand({
          TableName: teamsTable,
          IndexName: TEAMS_TOKEN_EXPIRY_INDEX,
          KeyConditionExpression: q.until === undefined ? 'refreshPartition = :p' : 'refreshPartition = :p AND tokenExpiresAt <= :until',
          ExpressionAttributeValues: q.until === undefined ? { ':p': q.partition } : { ':p': q.partition, ':until': q.until },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) if (typeof item.pk === 'string') ids.add(item.pk);
      start = out.LastEvaluatedKey;
    } while (start);
  }
  return [...ids];
}

export async function runRefreshSweep(deps: RefreshSweepDeps): Promise<RefreshSweepSummary> {
  const now = deps.now ?? Date.now;
  const teamIds = await findTeamsDueForRefresh(deps.ddb, deps.teamsTable, now(), deps.windowMs);
  const summary: RefreshSweepSummary = { due: teamIds.length, refreshed: 0, skipped: 0, failed: 0, reauthRequired: 0 };
  const teamDeps: RefreshTeamDeps = { ...deps, beforeSecretWrite: deps.beforeSecretWrite ?? pacer(deps.secretWritesPerSecond ?? DEFAULT_SECRET_WRITES_PER_SECOND) };
  await forEachWithConcurrency(teamIds, Math.max(1, deps.concurrency), async (teamId) => {
    if (deps.shouldStop?.()) {
      summary.skipped++;
      return;
    }
    let outcome: RefreshOutcome;
    try {
      outcome = await refreshTeam(teamDeps, teamId);
    } catch (err) {
      // refreshTeam handles its own failures; this is the lease write itself failing (DynamoDB unavailable).
      logger.error('token refresh: could not take the lease', { teamId, ...errorFields(err) });
      outcome = 'error';
    }
    tally(summary, outcome);
  });
  logger.info('token refresh sweep finished', { ...summary });
  return summary;
}

const DEFAULT_SECRET_WRITES_PER_SECOND = 40;

/** Spaces callers at least 1/rate seconds apart (a token bucket of size one). */
export function pacer(perSecond: number): () => Promise<void> {
  const intervalMs = 1000 / Math.max(perSecond, 0.001);
  let nextAt = 0;
  return async () => {
    const now = Date.now();
    const at = Math.max(now, nextAt);
    nextAt = at + intervalMs;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  };
}

function tally(summary: RefreshSweepSummary, outcome: RefreshOutcome): void {
  switch (outcome) {
    case 'refreshed':
      summary.refreshed++;
      break;
    case 'reauthorization_required':
      summary.reauthRequired++;
      break;
    case 'transient_error':
    case 'invalid_client':
    case 'error':
      summary.failed++;
      break;
    case 'locked':
    case 'not_due':
    case 'lease_too_short':
      summary.skipped++;
      break;
  }
}

async function forEachWithConcurrency<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
