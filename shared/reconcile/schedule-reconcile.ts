import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetCeiling, budgetLimitOf, readApiBudgetUsage } from '../budget/api-budget';
import type { BackfillJob } from '../backfill/backfill-job';
import { getBackfillJob } from '../backfill/job-store';
import { sendWorkItem, sendWorkItems, type WorkItem } from '../team-job/work-item';
import { errorFields, logger } from '../logging/logger';
import { listTeamItems, teamLifecycle, type TeamItem } from '../teams/team-store';
import { rollUpWebhookCounts, type RollUpSummary } from '../teams/webhook-counts';

/**
 * The hourly tick (functions/reconcile): one reconcile and one deletion-check work item per connected, enabled team on
 * the backfill queue, so
 * per-team work is bounded, budgeted and retried by the backfill worker rather than done in this invocation.
 *
 * It is also the backfill's watchdog: a paused backfill whose pause is over, or whose team has budget again,
 * and a running backfill that has not moved for STALLED_MINUTES (its work item died in the DLQ), get their
 * current step re-enqueued. A duplicate step item is harmless: only one worker can commit a step.
 *
 * Last, it rolls every live team's settled webhook counts into its team item (shared/teams/webhook-counts.ts):
 * the log items that carry them expire after 90 days, so counts must not wait for an operator's `team list`.
 * Every team, not only connected ones: a disabled or reauthorising team's deliveries were counted too.
 */
export const STALLED_MINUTES = 60;

export interface ScheduleReconcileDeps {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  teamsTable: string;
  backfillQueueUrl: string;
  integrationLogTable: string;
  now?: () => Date;
  /** The invocation's remaining time (Lambda context); roll-ups stop starting below ROLL_UP_RESERVE_MS. */
  remainingMs?: () => number;
}

/** Time kept back at the end of the invocation: a roll-up in flight finishes, and the next hour does the rest. */
export const ROLL_UP_RESERVE_MS = 20_000;

export interface ScheduleReconcileResult {
  teams: number;
  enqueued: number;
  failedToEnqueue: number;
  backfillsResumed: number;
  webhookCounts: RollUpSummary;
}

/** Why a backfill's current step should be put back on the queue now, or undefined. */
export function backfillNeedsNudge(job: BackfillJob, team: TeamItem, usedThisHour: number, now: Date): string | undefined {
  if (job.status === 'paused') {
    if (job.pausedUntil && Date.parse(job.pausedUntil) <= now.getTime()) return 'pause over';
    const budgetPause = job.pauseReason === 'team API budget exhausted';
    if (budgetPause && usedThisHour < budgetCeiling(budgetLimitOf(team), 'backfill')) return 'budget available';
    return undefined;
  }
  if (job.status === 'running' && now.getTime() - Date.parse(job.updatedAt) >= STALLED_MINUTES * 60_000) return 'stalled';
  return undefined;
}

export async function scheduleReconcile(deps: ScheduleReconcileDeps): Promise<ScheduleReconcileResult> {
  const now = (deps.now ?? (() => new Date()))();
  const allTeams = await listTeamItems(deps.ddb, deps.teamsTable);
  const teams = allTeams.filter((t) => t.status === 'connected' && teamLifecycle(t) === 'active');
  const runAt = now.toISOString();
  // Reconcile and the deletion check of every connected team; the check drops itself unless it is due
  // (daily) or has a listing in progress, which costs one read and no DrChrono call.
  const items: WorkItem[] = teams.flatMap((t): WorkItem[] => [
    { type: 'reconcile', teamId: t.teamId, runAt },
    { type: 'deletion-check', teamId: t.teamId, runAt },
  ]);
  const failedToEnqueue = await sendWorkItems(deps.sqs, deps.backfillQueueUrl, items);

  let backfillsResumed = 0;
  for (const team of teams) {
    try {
      const job = await getBackfillJob(deps.ddb, deps.teamsTable, team.teamId);
      if (!job || (job.status !== 'paused' && job.status !== 'running')) continue;
      const used = job.status === 'paused' ? await readApiBudgetUsage(deps.ddb, deps.teamsTable, team.teamId, now) : 0;
      const why = backfillNeedsNudge(job, team, used, now);
      if (!why) continue;
      await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'step', teamId: team.teamId, jobId: job.jobId, step: job.step });
      backfillsResumed++;
      logger.info('reconcile: backfill step re-enqueued', { teamId: team.teamId, jobId: job.jobId, step: job.step, why });
    } catch (err) {
      logger.error('reconcile: backfill check failed', { teamId: team.teamId, ...errorFields(err) });
    }
  }
  const remainingMs = deps.remainingMs;
  const webhookCounts = await rollUpWebhookCounts(
    { ddb: deps.ddb, teamsTable: deps.teamsTable, integrationLogTable: deps.integrationLogTable, ...(deps.now ? { now: deps.now } : {}) },
    allTeams,
    remainingMs ? { keepGoing: () => remainingMs() > ROLL_UP_RESERVE_MS } : {},
  );
  logger.info('reconcile: scheduled', { teams: teams.length, enqueued: items.length - failedToEnqueue, failedToEnqueue, backfillsResumed, webhookCounts });
  return { teams: teams.length, enqueued: items.length - failedToEnqueue, failedToEnqueue, backfillsResumed, webhookCounts };
}
