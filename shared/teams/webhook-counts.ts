import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readWebhookCountGroups, type WebhookCountGroup } from '../store/integration-log';
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
 *                   team.webhookCountsThrough
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

/**
 * The team's counters as of now (read from the team item just read and the log groups since its watermark).
 * With `rollUp` (the default), the settled groups read are added to the team item; a failed or lost rollup
 * changes nothing about the answer, only what the next read has to read.
 */
export async function webhookCounts(deps: WebhookCountsDeps, team: CountedTeam, opts: { rollUp?: boolean } = {}): Promise<WebhookCounts> {
  const through = str(team.webhookCountsThrough);
  const groups = await readWebhookCountGroups(deps.ddb, deps.integrationLogTable, team.teamId, through);
  const counts: WebhookCounts = {
    processed: (team.webhooksProcessed ?? 0) + groups.reduce((n, g) => n + g.processed, 0),
    ignored: team.webhooksIgnored ?? 0,
    lastDeliveryAt: latest(team.lastDeliveryAt, str(team.lastProcessedDeliveryAt), ...groups.map((g) => g.lastDeliveryAt)),
  };
  if (opts.rollUp !== false) await rollUpSettled(deps, team, through, groups);
  return counts;
}

/** What a roll-up did: groups folded into the team item, or 'lost' to a concurrent roll-up (which folded them). */
export type RollUpOutcome = { rolledUp: number } | 'lost';

async function rollUpSettled(deps: WebhookCountsDeps, team: CountedTeam, through: string | undefined, groups: WebhookCountGroup[]): Promise<RollUpOutcome> {
  if (team.status === 'removing' || team.status === 'removed') return { rolledUp: 0 };
  const cutoff = new Date((deps.now ?? (() => new Date()))().getTime() - COUNTS_SETTLE_MS).toISOString();
  // Sort keys are `<iso time>#<id>`: every key of a group written before the cutoff sorts below it.
  const settled = groups.filter((g) => g.sk < cutoff);
  if (settled.length === 0) return { rolledUp: 0 };
  return (await rollUp(deps, team, through, settled)) ? { rolledUp: settled.length } : 'lost';
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
  const summary: RollUpSummary = { teams: 0, groups: 0, lost: 0, failed: 0, skipped: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < live.length) {
      const team = live[next++]!;
      if (opts.keepGoing && !opts.keepGoing()) {
        summary.skipped += 1;
        continue;
      }
      try {
        const through = str(team.webhookCountsThrough);
        const groups = await readWebhookCountGroups(deps.ddb, deps.integrationLogTable, team.teamId, through);
        const outcome = await rollUpSettled(deps, team, through, groups);
        summary.teams += 1;
        if (outcome === 'lost') summary.lost += 1;
        else summary.groups += outcome.rolledUp;
      } catch (err) {
        summary.failed += 1;
        logger.warn('webhook counts: roll-up failed, the next run retries', { teamId: team.teamId, ...errorFields(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, live.length) }, worker));
  return summary;
}

/** true: folded in; false: the watermark moved (another roll-up folded them) or the team is being removed. */
async function rollUp(deps: WebhookCountsDeps, team: CountedTeam, through: string | undefined, settled: WebhookCountGroup[]): Promise<boolean> {
  const newThrough = settled.reduce((a, g) => (g.sk > a ? g.sk : a), settled[0]!.sk);
  const processed = settled.reduce((n, g) => n + g.processed, 0);
  const last = latest(str(team.lastProcessedDeliveryAt), ...settled.map((g) => g.lastDeliveryAt));
  const values: Record<string, unknown> = { ...LIVE_TEAM_VALUES, ':n': processed, ':through': newThrough };
  if (through !== undefined) values[':prev'] = through;
  if (last !== undefined) values[':last'] = last;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.teamsTable,
        Key: teamKey(team.teamId),
        UpdateExpression: `SET webhookCountsThrough = :through${last !== undefined ? ', lastProcessedDeliveryAt = :last' : ''} ADD webhooksProcessed :n`,
        // Serialises rollups: another reader that rolled up meanwhile moved the watermark, and this one is dropped.
        ConditionExpression: `${LIVE_TEAM_CONDITION} AND ${through === undefined ? 'attribute_not_exists(webhookCountsThrough)' : 'webhookCountsThrough = :prev'}`,
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
