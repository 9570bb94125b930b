import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { budgetLimitOf, consumeApiBudget } from '../budget/api-budget';
import type { Appointment, Doctor, Patient } from '../drchrono/schemas';
import { errorFields, logger } from '../logging/logger';
import { patientNeedsVerbose, readTeamSyncConfig } from '../mapping';
import type { IntegrationLogEntry } from '../store/integration-log';
import { writeIntegrationLog } from '../store/integration-log';
import { getTeamItem } from '../teams/team-store';
import { emptyTally, type OutcomeTally } from '../backfill/backfill-job';
import type { BackfillWorkerDeps, WorkContext, WorkResult } from '../backfill/backfill-worker';
import { importDoctors, importObjects } from '../backfill/import-objects';
import { getBackfillJob } from '../backfill/job-store';
import { DeferredByWorker, pauseFor, TeamNotConnectedError, withTeamToken } from '../backfill/team-api';
import { InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import { WORK_RESERVE_MS } from '../backfill/backfill-worker';
import { InvocationDeadline } from '../sync/invocation-deadline';
import type { ReconcileItem } from '../backfill/work-item';
import { practiceTimeZoneOf, sinceParam } from './practice-time';

/**
 * One team's reconcile: fetch the patients and appointments DrChrono says changed since the last successful
 * reconcile (minus a safety overlap) and feed them through the same order-safe path as webhooks. A change
 * whose webhook never arrived is written; one that did arrive comes back 'unchanged'. Doctors, which have no
 * webhooks, are refreshed once a day. The watermark moves only after a whole run succeeded (or, for objects
 * that keep failing, on the work item's last receive, so they cannot hold every later run back).
 *
 * State: teams table, pk teamId, sk `RECONCILE`.
 */
export const RECONCILE_SK = 'RECONCILE';
/** Re-read a little before the watermark: list GETs can lag, and clocks drift. */
export const RECONCILE_OVERLAP_MINUTES = 15;
export const DOCTOR_REFRESH_HOURS = 24;
/** First reconcile of a team with neither a watermark nor a backfill: look back this far. */
const FIRST_RUN_LOOKBACK_HOURS = 24;

export const ReconcileStateSchema = z.looseObject({
  /** ISO UTC instant the last successful run started: everything changed before it (minus overlap) is in. */
  watermark: z.string(),
  lastRunAt: z.string(),
  lastRunId: z.string(),
  doctorsRefreshedAt: z.string().optional(),
  practiceTimeZone: z.string().optional(),
  lastPatients: z.number().optional(),
  lastAppointments: z.number().optional(),
  lastChanged: z.number().optional(),
});
export type ReconcileState = z.infer<typeof ReconcileStateSchema>;

export class ReconcileObjectsFailedError extends Error {
  override name = 'ReconcileObjectsFailedError';
  constructor(failed: number) {
    super(`${failed} changed objects failed to sync`);
  }
}

export type ReconcileDeps = Omit<BackfillWorkerDeps, 'reconcile' | 'sqs' | 'backfillQueueUrl' | 'bulkPollDelaysMs'>;

export async function getReconcileState(ddb: DynamoDBDocumentClient, table: string, teamId: string): Promise<ReconcileState | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: RECONCILE_SK }, ConsistentRead: true }));
  const parsed = ReconcileStateSchema.safeParse(out.Item ?? null);
  return parsed.success ? parsed.data : undefined;
}

/** The watermark only moves forward: a late, slower run never rewinds a newer one. */
async function saveReconcileState(ddb: DynamoDBDocumentClient, table: string, teamId: string, state: ReconcileState): Promise<boolean> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: { ...state, pk: teamId, sk: RECONCILE_SK },
        ConditionExpression: 'attribute_not_exists(watermark) OR watermark <= :w',
        ExpressionAttributeValues: { ':w': state.watermark },
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

/** Where this run starts looking: the last watermark, else the backfill's start, else the connect. */
export function reconcileFrom(state: ReconcileState | undefined, backfillStartedAt: string | undefined, connectedAt: string | undefined, now: Date): Date {
  const base = state?.watermark ?? backfillStartedAt ?? connectedAt;
  const t = base ? Date.parse(base) : now.getTime() - FIRST_RUN_LOOKBACK_HOURS * 3_600_000;
  return new Date(t - RECONCILE_OVERLAP_MINUTES * 60_000);
}

export function doctorsDue(state: ReconcileState | undefined, now: Date): boolean {
  if (!state?.doctorsRefreshedAt) return true;
  return now.getTime() - Date.parse(state.doctorsRefreshedAt) >= DOCTOR_REFRESH_HOURS * 3_600_000;
}

function addTally(a: OutcomeTally, b: OutcomeTally): OutcomeTally {
  return { created: a.created + b.created, updated: a.updated + b.updated, unchanged: a.unchanged + b.unchanged, failed: a.failed + b.failed };
}

export async function runReconcileItem(item: ReconcileItem, ctx: WorkContext, deps: ReconcileDeps): Promise<WorkResult> {
  const now = deps.now ?? (() => new Date());
  const { teamId } = item;
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (team?.status !== 'connected') {
    logger.info('reconcile: team skipped', { teamId, status: team?.status ?? 'unknown' });
    return { status: 'done' };
  }
  const job = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  if (job && (job.status === 'running' || job.status === 'paused')) {
    // The backfill reads everything anyway; the first reconcile after it starts from the backfill's start.
    logger.info('reconcile: team skipped, backfill in progress', { teamId, jobId: job.jobId });
    return { status: 'done' };
  }

  const startedAt = now();
  const state = await getReconcileState(deps.ddb, deps.teamsTable, teamId);
  const from = reconcileFrom(state, job?.startedAt, team.connectedAt, startedAt);
  const runId = item.runAt;
  const config = readTeamSyncConfig(team);
  const limit = budgetLimitOf(team);

  const deadline = new InvocationDeadline(ctx.remainingMs, WORK_RESERVE_MS);
  try {
    const work = withTeamToken(teamId, { ...deps, now }, 'reconcile', async (token) => {
      const { api } = deps.drchrono({
        accessToken: async () => token,
        beforeCall: async () => {
          await consumeApiBudget(deps.ddb, deps.teamsTable, teamId, { limit, priority: 'backfill', now: now() });
        },
      });
      let tally = emptyTally();
      const entries: IntegrationLogEntry[] = [];
      let zone = state?.practiceTimeZone ?? job?.practiceTimeZone;
      let doctorsRefreshedAt = state?.doctorsRefreshedAt;
      if (doctorsDue(state, startedAt)) {
        const doctors: Doctor[] = [];
        for await (const d of api.listDoctors()) doctors.push(d);
        const r = await importDoctors(teamId, 'reconcile', runId, doctors, { ddb: deps.ddb, recordsTable: deps.recordsTable, config, now });
        tally = addTally(tally, r.outcomes);
        entries.push(...r.entries);
        zone = practiceTimeZoneOf(doctors, team.drchronoDoctorId) ?? zone;
        doctorsRefreshedAt = startedAt.toISOString();
      }
      const since = sinceParam(from, zone, startedAt);
      const patients: Patient[] = [];
      for await (const p of api.listPatients({ since, verbose: patientNeedsVerbose({}, config) })) patients.push(p);
      const appointments: Appointment[] = [];
      for await (const a of api.listAppointments({ since })) appointments.push(a);
      // Patients first: appointments then find their patient's Chart ID in the store.
      for (const [entity, objects] of [['patient', patients], ['appointment', appointments]] as const) {
        const r = await importObjects(teamId, 'reconcile', runId, entity, objects, { process: deps.process, now, signal: deadline.signal });
        if (r.kind === 'defer') throw new DeferredByWorker(r.delaySeconds, r.entry.errorClass ?? 'Deferred', r.entry.detail ?? 'deferred by the sync path');
        tally = addTally(tally, r.outcomes);
        entries.push(...r.entries);
      }
      return { tally, entries, zone, doctorsRefreshedAt, since, patients: patients.length, appointments: appointments.length };
    });
    const result = await deadline.race(work, () => new InvocationDeadlineExceededError());

    const changed = result.tally.created + result.tally.updated;
    if (result.tally.failed > 0 && !ctx.finalAttempt) {
      // Objects that failed (DrChrono 5xx, a throttled write) would be behind the next run's `since`: keep the
      // watermark and let SQS retry the run. The changes it did write are logged now (a re-run finds them
      // 'unchanged'); the failures only once, by the run that gives up on them. The last receive moves the
      // watermark anyway, so one permanently broken object cannot hold every later run back.
      await writeLog(deps, teamId, result.entries.filter((e) => e.outcome !== 'failed'), ctx.groupId);
      logger.warn('reconcile: objects failed, run retried', { teamId, runId, failed: result.tally.failed, changed });
      return { status: 'retry', error: new ReconcileObjectsFailedError(result.tally.failed) };
    }
    await saveReconcileState(deps.ddb, deps.teamsTable, teamId, {
      watermark: startedAt.toISOString(),
      lastRunAt: startedAt.toISOString(),
      lastRunId: runId,
      ...(result.doctorsRefreshedAt ? { doctorsRefreshedAt: result.doctorsRefreshedAt } : {}),
      ...(result.zone ? { practiceTimeZone: result.zone } : {}),
      lastPatients: result.patients,
      lastAppointments: result.appointments,
      lastChanged: changed,
    });
    // A quiet hour writes nothing to the log; a run that found missed changes or failures says so.
    if (changed > 0 || result.tally.failed > 0) {
      result.entries.push({
        at: now().toISOString(),
        event: 'RECONCILE',
        deliveryId: `reconcile:${runId}`,
        entity: 'team',
        outcome: 'info',
        detail: `reconcile since ${result.since} (practice time): ${result.patients} patients, ${result.appointments} appointments read; ${result.tally.created} created, ${result.tally.updated} updated, ${result.tally.failed} failed`,
      });
      await writeLog(deps, teamId, result.entries, ctx.groupId);
    }
    logger.info('reconcile: done', { teamId, runId, patients: result.patients, appointments: result.appointments, changed, failed: result.tally.failed });
    return { status: 'done' };
  } catch (err) {
    // No token: nothing to reconcile until the team connects again; the hourly schedule tries again.
    if (err instanceof TeamNotConnectedError) return { status: 'done' };
    const pause = pauseFor(err, now());
    if (pause) {
      logger.info('reconcile: deferred', { teamId, runId, reason: pause.reason, delaySeconds: pause.delaySeconds });
      return { status: 'defer', delaySeconds: pause.delaySeconds };
    }
    logger.warn('reconcile: failed', { teamId, runId, ...errorFields(err) });
    if (ctx.finalAttempt) {
      await writeLog(deps, teamId, [{ at: now().toISOString(), event: 'RECONCILE', deliveryId: `reconcile:${runId}`, entity: 'team', outcome: 'failed', ...errorFields(err), detail: 'reconcile failed; the next hourly run covers the same changes' }], ctx.groupId);
    }
    return { status: 'retry', error: err };
  } finally {
    deadline.dispose();
  }
}

async function writeLog(deps: ReconcileDeps, teamId: string, entries: IntegrationLogEntry[], groupId: string): Promise<void> {
  try {
    await writeIntegrationLog(deps.ddb, deps.integrationLogTable, teamId, entries, { ttlDays: deps.integrationLogTtlDays, groupId });
  } catch (err) {
    logger.error('reconcile: could not write integration log', { teamId, entries: entries.length, ...errorFields(err) });
  }
}
