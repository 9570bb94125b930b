import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getBackfillJob } from '../backfill/job-store';
import { getReconcileState } from '../reconcile/reconcile-team';
import { sendWorkItem } from '../team-job/work-item';
import { getTeamItem, LIVE_TEAM_CONDITION, LIVE_TEAM_VALUES, teamKey, TeamRemovedError, type TeamItem } from './team-store';

export { TeamRemovedError } from './team-store';

/**
 * `team disable` / `team enable`. Disabling is a switch beside the connection state (`disabledAt` on the team
 * item): the webhook still answers 2xx, the workers drop the team's work, the hourly tick skips it, and the
 * token refresher keeps its tokens alive, so `enable` needs no reconnect. `enable` clears the switch and queues
 * the catch-up: a reconcile from the team's watermark (it reads everything changed since the last completed
 * window, which covers every webhook dropped meanwhile), the deletion check, and the current step of a backfill
 * the disable paused. A connected team with no backfill job at all (connected just before the disable, so the
 * worker dropped its connect `start`) gets a new `start`: reconcile alone would read only from the connection.
 */
export interface LifecycleDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  now?: () => Date;
}

export class TeamNotFoundError extends Error {
  override name = 'TeamNotFoundError';
}


async function switchDisabled(deps: LifecycleDeps, teamId: string, disable: boolean): Promise<{ team: TeamItem; changed: boolean }> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const before = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (!before) throw new TeamNotFoundError(`team ${teamId} is not registered`);
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.teamsTable,
        Key: teamKey(teamId),
        // Disabling twice keeps the first time; the removal's fence wins over both.
        UpdateExpression: disable ? 'SET disabledAt = if_not_exists(disabledAt, :now), updatedAt = :now' : 'SET updatedAt = :now REMOVE disabledAt',
        ConditionExpression: LIVE_TEAM_CONDITION,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':now': now, ...LIVE_TEAM_VALUES },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const team = out.Attributes as TeamItem;
    return { team, changed: disable ? before.disabledAt === undefined : before.disabledAt !== undefined };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
    if (!team) throw new TeamNotFoundError(`team ${teamId} is not registered`);
    throw new TeamRemovedError(`team ${teamId} is ${team.status}`);
  }
}

export function disableTeam(deps: LifecycleDeps, teamId: string): Promise<{ team: TeamItem; changed: boolean }> {
  return switchDisabled(deps, teamId, true);
}

export interface CatchUp {
  /** The watermark the reconcile reads from (undefined: never reconciled; the backfill covers it). */
  reconcileFrom?: string;
  reconcileQueued: boolean;
  /** A backfill the disable paused (or left running), re-enqueued at its current step. */
  backfillResumed?: { jobId: string; step: number };
  /** The team had no backfill job (its connect backfill was dropped while disabled): a connect `start` is queued. */
  backfillStarted?: boolean;
}

export async function enableTeam(
  deps: LifecycleDeps & { sqs: SQSClient; backfillQueueUrl: string | undefined },
  teamId: string,
): Promise<{ team: TeamItem; changed: boolean; catchUp: CatchUp }> {
  const result = await switchDisabled(deps, teamId, false);
  const catchUp: CatchUp = { reconcileQueued: false };
  // Only a connected team has anything to catch up; one that connects later gets its connect backfill.
  if (result.team.status !== 'connected') return { ...result, catchUp };
  if (!deps.backfillQueueUrl) throw new Error('the target has no backfill queue URL: the catch-up cannot be queued');
  const runAt = (deps.now ?? (() => new Date()))().toISOString();
  const job = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  if (job && (job.status === 'paused' || job.status === 'running')) {
    // A duplicate step item is harmless: only one worker can commit a step (the hourly watchdog does the same).
    await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'step', teamId, jobId: job.jobId, step: job.step });
    catchUp.backfillResumed = { jobId: job.jobId, step: job.step };
  } else if (!job) {
    // Same item as the OAuth callback's: a connect start never replaces a backfill that is running, so one queued
    // twice (enable run twice, or the callback's own start still in flight) is ignored while the first one runs.
    await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'start', teamId });
    catchUp.backfillStarted = true;
  }
  // Reconcile waits while a backfill runs and then starts from the backfill's start, so queueing it is always right.
  await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'reconcile', teamId, runAt });
  await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'deletion-check', teamId, runAt });
  catchUp.reconcileQueued = true;
  catchUp.reconcileFrom = (await getReconcileState(deps.ddb, deps.teamsTable, teamId))?.watermark;
  return { ...result, catchUp };
}
