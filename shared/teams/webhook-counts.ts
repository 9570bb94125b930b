import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readWebhookCountPage, type WebhookCountGroup } from '../store/integration-log';
import { errorFields, logger } from '../logging/logger';
import { LIVE_TEAM_CONDITION, LIVE_TEAM_VALUES, teamKey, type TeamItem } from './team-store';

/**
 * A team's webhook counters ("Webhooks processed", "Last delivery" in `team show` / `team list`).
 *
 * The sync worker writes no counter update: each integration log group it writes carries its batch's counts
 * (`wn`, `wl`, integration-log.ts), so the counters are exactly what the audit trail holds, at no write of
 * their own. Readers add up the groups not yet rolled up into the team item and roll up the settled ones, so
 * a later read only reads what came since, and counts outlive the log's TTL:
 *
 *   processed     = team.webhooksProcessed (rolled up, plus counts from before this design) + groups after
 *                   team.webhookCountsThrough (a log sort key, or the bare ISO cutoff of the last roll-up)
 *   lastDelivery  = the latest of team.lastDeliveryAt (the receiver's ignored deliveries, older counters),
 *                   team.lastProcessedDeliveryAt (rolled up) and those groups' `wl`
 *
 * Only groups older than COUNTS_SETTLE_MS are rolled up: a group's sort key is the time its invocation began
 * the write, so a write still in flight (SDK retries, up to the function's timeout) may land with a sort key
 * slightly in the past; a settled watermark must never pass it. One rollup at a time per team: the update is
 * conditional on the watermark it read. Readers are `team show` / `team list` and the hourly reconcile tick
 * (rollUpWebhookCounts), which rolls every live team up so counts never outlive the log's TTL unread.
 */

/** Longer than the sync function's timeout plus the SDK's retries, with room for an operator's clock skew. */
export const COUNTS_SETTLE_MS = 60 * 60 * 1000;

export interface WebhookCounts {
  processed: number;
  ignored: number;
  lastDeliveryAt?: string;
}

export interface WebhookCountsDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  integrationLogTable: string;
  now?: () => Date;
}

type CountedTeam = Pick<TeamItem, 'teamId' | 'status' | 'webhooksProcessed' | 'webhooksIgnored' | 'lastDeliveryAt'> & {
  webhookCountsThrough?: unknown;
  lastProcessedDeliveryAt?: unknown;
};

function latest(...times: (string | undefined)[]): string | undefined {
  return times.reduce<string | undefined>((a, b) => (b !== undefined && (a === undefined || b > a) ? b : a), undefined);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Log items read (and watermark commits made) per page of a roll-up. */
export const ROLL_UP_PAGE_ITEMS = 500;

/**
 * The team's counters as of now (read from the team item just read and the log items since its watermark).
 * With `rollUp` (the default), the settled part read is added to the team item. A failed or lost roll-up
 * changes nothing about the answer, only what the next read has to read: an operator role without
 * dynamodb:UpdateItem on the teams table, or a throttled update, still gets its counts (a warning is logged).
 */
export async function webhookCounts(deps: WebhookCountsDeps, team: CountedTeam, opts: { rollUp?: boolean } = {}): Promise<WebhookCounts> {
  const through = str(team.webhookCountsThrough);
  const cutoff = cutoffOf(deps);
  let settled: { processed: number; lastDeliveryAt?: string; through?: string };
  if (opts.rollUp !== false) {
    settled = await rollUpSettled(deps, team, cutoff, { onWriteError: 'continue' });
  } else {
    settled = await readSettled(deps, team.teamId, through, cutoff);
  }
  // The part younger than the settle time (or past a watermark a skewed clock set ahead of this cutoff).
  const from = settled.through !== undefined && settled.through > cutoff ? settled.through : cutoff;
  const recent = await readAll(deps, team.teamId, { afterSk: from });
  return {
    processed: (team.webhooksProcessed ?? 0) + settled.processed + recent.processed,
    ignored: team.webhooksIgnored ?? 0,
    lastDeliveryAt: latest(team.lastDeliveryAt, str(team.lastProcessedDeliveryAt), settled.lastDeliveryAt, recent.lastDeliveryAt),
  };
}

function cutoffOf(deps: WebhookCountsDeps): string {
  return new Date((deps.now ?? (() => new Date()))().getTime() - COUNTS_SETTLE_MS).toISOString();
}

function sum(groups: readonly WebhookCountGroup[]): { processed: number; lastDeliveryAt?: string } {
  const lastDeliveryAt = latest(...groups.map((g) => g.lastDeliveryAt));
  return { processed: groups.reduce((n, g) => n + g.processed, 0), ...(lastDeliveryAt !== undefined ? { lastDeliveryAt } : {}) };
}

/** Adds up every page of a sort-key range, without writing anything. */
async function readAll(deps: WebhookCountsDeps, teamId: string, q: { afterSk?: string; throughSk?: string; startKey?: Record<string, unknown> }): Promise<{ processed: number; lastDeliveryAt?: string }> {
  let processed = 0;
  let last: string | undefined;
  let startKey = q.startKey;
  do {
    const page = await readWebhookCountPage(deps.ddb, deps.integrationLogTable, teamId, { ...q, startKey, limit: ROLL_UP_PAGE_ITEMS });
    const s = sum(page.groups);
    processed += s.processed;
    last = latest(last, s.lastDeliveryAt);
    startKey = page.nextKey;
  } while (startKey);
  return last !== undefined ? { processed, lastDeliveryAt: last } : { processed };
}

/** The settled counts after the watermark, read only (a team being removed, or `rollUp: false`). */
async function readSettled(deps: WebhookCountsDeps, teamId: string, through: string | undefined, cutoff: string) {
  if (through !== undefined && through >= cutoff) return { processed: 0, through };
  return { ...(await readAll(deps, teamId, { afterSk: through, throughSk: cutoff })), through };
}

/** What a roll-up did: log items with counts folded into the team item, or 'lost' to a concurrent roll-up (which folded them). */
export type RollUpOutcome = { rolledUp: number } | 'lost';

interface SettledRead {
  /** Settled counts after the watermark the caller read, whoever folded them in. */
  processed: number;
  lastDeliveryAt?: string;
  /** The watermark this roll-up reached (or the one read, if it moved nothing). */
  through?: string;
  outcome: RollUpOutcome;
  /** true when keepGoing stopped it before the cutoff. */
  stopped?: boolean;
}

/**
 * Folds the settled log items (sort key up to now - COUNTS_SETTLE_MS) into the team item, a page at a time:
 * each page's counts and the watermark move in one update conditional on the previous watermark, so a
 * roll-up interrupted (timeout, deadline) keeps what it committed, and two readers racing fold each item once
 * (the loser's update fails its condition; it then only reads). The watermark moves to the cutoff even when no
 * item carried counts, so a team whose webhook never delivers does not re-read its log every hour.
 */
async function rollUpSettled(
  deps: WebhookCountsDeps,
  team: CountedTeam,
  cutoff: string,
  opts: { onWriteError: 'continue' | 'throw'; keepGoing?: () => boolean },
): Promise<SettledRead> {
  let through = str(team.webhookCountsThrough);
  if (team.status === 'removing' || team.status === 'removed') return { ...(await readSettled(deps, team.teamId, through, cutoff)), outcome: { rolledUp: 0 } };
  if (through !== undefined && through >= cutoff) return { processed: 0, through, outcome: { rolledUp: 0 } };
  let processed = 0;
  let lastRead: string | undefined;
  let lastCommitted = str(team.lastProcessedDeliveryAt);
  let rolledUp = 0;
  let startKey: Record<string, unknown> | undefined;
  const range = { afterSk: through, throughSk: cutoff }; // one query, paged: the watermark moves, the range does not
  for (;;) {
    const page = await readWebhookCountPage(deps.ddb, deps.integrationLogTable, team.teamId, { ...range, limit: ROLL_UP_PAGE_ITEMS, startKey });
    const s = sum(page.groups);
    processed += s.processed;
    lastRead = latest(lastRead, s.lastDeliveryAt);
    // The last page moves the watermark to the cutoff; an earlier one to the last item it read.
    const newThrough = page.nextKey ? (page.lastSk ?? through) : cutoff;
    if (newThrough !== undefined && newThrough !== through) {
      const last = latest(lastCommitted, s.lastDeliveryAt);
      let committed: boolean;
      try {
        committed = await commit(deps, team.teamId, through, newThrough, s.processed, last);
      } catch (err) {
        if (opts.onWriteError === 'throw') throw err;
        // A read-only operator role or a throttled update: the answer does not depend on the write.
        logger.warn('webhook counts: roll-up not written, counts still read', { teamId: team.teamId, errorClass: errorFields(err).errorClass });
        committed = false;
      }
      if (!committed) {
        // Another reader moved the watermark (or the write failed): read the rest without writing.
        const rest = page.nextKey ? await readAll(deps, team.teamId, { ...range, startKey: page.nextKey }) : { processed: 0 };
        return { processed: processed + rest.processed, ...lastOf(lastRead, rest.lastDeliveryAt), through: cutoff, outcome: 'lost' };
      }
      through = newThrough;
      lastCommitted = last;
      rolledUp += page.groups.length;
    }
    startKey = page.nextKey;
    if (!startKey) return { processed, ...lastOf(lastRead), through, outcome: { rolledUp } };
    if (opts.keepGoing && !opts.keepGoing()) return { processed, ...lastOf(lastRead), through, outcome: { rolledUp }, stopped: true };
  }
}

function lastOf(...times: (string | undefined)[]): { lastDeliveryAt?: string } {
  const t = latest(...times);
  return t !== undefined ? { lastDeliveryAt: t } : {};
}

export interface RollUpSummary {
  teams: number;
  /** Log groups folded into team items. */
  groups: number;
  /** Teams another reader rolled up at the same time (nothing lost: theirs moved the watermark). */
  lost: number;
  failed: number;
  /** Teams left for the next run because the deadline was near. */
  skipped: number;
  /** Teams whose roll-up stopped between pages because the deadline was near (what it committed stays). */
  stopped: number;
}

/**
 * Rolls up every live team's settled log groups (the hourly reconcile tick), so counts never depend on an
 * operator reading them within the log's TTL. Same conditional update as a reader's roll-up, so it is safe to
 * run twice, late, or while `team list` rolls up the same team. A team that fails is retried next hour.
 */
export async function rollUpWebhookCounts(
  deps: WebhookCountsDeps,
  teams: readonly CountedTeam[],
  opts: { concurrency?: number; keepGoing?: () => boolean } = {},
): Promise<RollUpSummary> {
  const live = teams.filter((t) => t.status !== 'removing' && t.status !== 'removed');
  const summary: RollUpSummary = { teams: 0, groups: 0, lost: 0, failed: 0, skipped: 0, stopped: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < live.length) {
      const team = live[next++]!;
      if (opts.keepGoing && !opts.keepGoing()) {
        summary.skipped += 1;
        continue;
      }
      try {
        const { outcome, stopped } = await rollUpSettled(deps, team, cutoffOf(deps), { onWriteError: 'throw', keepGoing: opts.keepGoing });
        summary.teams += 1;
        if (outcome === 'lost') summary.lost += 1;
        else summary.groups += outcome.rolledUp;
        if (stopped) summary.stopped += 1;
      } catch (err) {
        summary.failed += 1;
        logger.warn('webhook counts: roll-up failed, the next run retries', { teamId: team.teamId, ...errorFields(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, live.length) }, worker));
  return summary;
}

/** true: committed; false: the watermark moved (another roll-up folded this range) or the team is being removed. */
async function commit(deps: WebhookCountsDeps, teamId: string, prev: string | undefined, through: string, processed: number, last: string | undefined): Promise<boolean> {
  const values: Record<string, unknown> = { ...LIVE_TEAM_VALUES, ':n': processed, ':through': through };
  if (prev !== undefined) values[':prev'] = prev;
  if (last !== undefined) values[':last'] = last;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.teamsTable,
        Key: teamKey(teamId),
        UpdateExpression: `SET webhookCountsThrough = :through${last !== undefined ? ', lastProcessedDeliveryAt = :last' : ''} ADD webhooksProcessed :n`,
        // Serialises roll-ups: another reader that rolled up meanwhile moved the watermark, and this one is dropped.
        ConditionExpression: `${LIVE_TEAM_CONDITION} AND ${prev === undefined ? 'attribute_not_exists(webhookCountsThrough)' : 'webhookCountsThrough = :prev'}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    return false;
  }
}
