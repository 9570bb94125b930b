import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { getBackfillJob } from '../backfill/job-store';
import { ApiBudgetExhaustedError } from '../drchrono/errors';
import type { ListPage } from '../drchrono/client';
import type { Appointment, Doctor, Patient } from '../drchrono/schemas';
import { errorFields, logger } from '../logging/logger';
import { patientNeedsVerbose } from '../mapping';
import type { IntegrationLogEntry } from '../store/integration-log';
import { InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import { getTeamItem, teamLifecycle } from '../teams/team-store';
import { importDoctors, importObjects, type ImportEntity } from '../team-job/import-objects';
import { DeferredByWorker, pauseFor, TeamNotConnectedError } from '../team-job/team-api';
import { clockOf, isRefusedCursor, runTeamJob, teamEntry, writeTeamLog, type TeamJobDeps, type TeamRun, type WorkContext, type WorkResult } from '../team-job/team-job';
import { LostProgressRace, ProgressItem } from '../team-job/progress-item';
import type { ReconcileItem } from '../team-job/work-item';
import { practiceTimeZoneOf, sinceParam } from './practice-time';
import { NameStateSchema, refreshRenamedNames } from './renamed-names';

/**
 * One team's reconcile: the patients and appointments DrChrono says changed since the last reconcile (minus
 * a safety overlap), fed through the same order-safe path as webhooks. A change whose webhook never arrived
 * is written; one that did arrive comes back 'unchanged'. Doctors, which have no webhooks, are refreshed
 * once a day.
 *
 * A **window** is one `since` listing: opened at time T from the watermark, read page by page, and when its
 * last page is in, the watermark becomes T. Every page is committed to the state item as it is written (its
 * `next` cursor), so a window larger than one hour's budget share or one invocation is read over several runs,
 * each moving forward: after a long gap (a week of reauthorisation) the watermark catches up instead of
 * restarting from the same point every hour.
 *
 * State: teams table, pk teamId, sk `RECONCILE`, a ProgressItem (commits conditional on the revision read).
 */
export const RECONCILE_SK = 'RECONCILE';
/** Re-read a little before the watermark: list GETs can lag, and clocks drift. */
export const RECONCILE_OVERLAP_MINUTES = 15;
export const DOCTOR_REFRESH_HOURS = 24;
/**
 * DrChrono caches a generated bulk list for 1 h (api-facts §4); a backfill's POST may be answered from a list
 * generated up to this long before it (the sandbox does so per app and filter set), so it holds every change
 * made before its start minus this, not before its start.
 */
export const BULK_LIST_CACHE_MS = 3_600_000;
/** First reconcile of a team with neither a watermark nor a backfill: look back this far. */
const FIRST_RUN_LOOKBACK_HOURS = 24;
/** An invocation that reached its deadline with pages left comes back this soon. */
const CONTINUE_DELAY_SECONDS = 1;

const WindowSchema = z.object({
  /** The run that opened it (names delivery ids). */
  id: z.string(),
  /** When it was opened: the watermark once its last page is in. */
  openedAt: z.string(),
  /** DrChrono `since` (practice wall clock). */
  since: z.string(),
  entity: z.enum(['patient', 'appointment']),
  /** The next page's link; null = the entity's first page. */
  cursor: z.nullable(z.string()),
  pages: z.number(),
  patients: z.number(),
  appointments: z.number(),
  changed: z.number(),
  failed: z.number(),
});
export type ReconcileWindow = z.infer<typeof WindowSchema>;

export const ReconcileStateSchema = z.looseObject({
  /** ISO UTC instant the last completed window was opened: everything changed before it (minus overlap) is in. */
  watermark: z.optional(z.string()),
  lastRunAt: z.optional(z.string()),
  lastRunId: z.optional(z.string()),
  doctorsRefreshedAt: z.optional(z.string()),
  practiceTimeZone: z.optional(z.string()),
  lastPatients: z.optional(z.number()),
  lastAppointments: z.optional(z.number()),
  lastChanged: z.optional(z.number()),
  window: z.optional(WindowSchema),
  /** Appointment profile and flag type names, and relabelling after a rename (renamed-names.ts). */
  names: z.optional(NameStateSchema),
  rev: z.optional(z.number()),
});
export type ReconcileState = z.infer<typeof ReconcileStateSchema>;

export class ReconcileObjectsFailedError extends Error {
  override name = 'ReconcileObjectsFailedError';
  constructor(failed: number) {
    super(`${failed} changed objects failed to sync`);
  }
}

export type ReconcileDeps = TeamJobDeps;

export async function getReconcileState(ddb: DynamoDBDocumentClient, table: string, teamId: string): Promise<ReconcileState | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: RECONCILE_SK }, ConsistentRead: true }));
  const parsed = ReconcileStateSchema.safeParse(out.Item ?? null);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Where a new window starts looking: the watermark; without one (a first connect), an hour before the start of
 * the last completed backfill; else the connect; minus the overlap. A completed backfill never moves an older
 * watermark forward: it reads appointments only in its date window (APPOINTMENT_DAYS_BACK/AHEAD), so a change
 * during a gap to an appointment outside it is only found by re-reading the gap.
 */
export function reconcileFrom(state: ReconcileState | undefined, backfillStartedAt: string | undefined, connectedAt: string | undefined, now: Date): Date {
  const valid = (t: string | undefined): t is string => !!t && !Number.isNaN(Date.parse(t));
  const base = valid(state?.watermark)
    ? Date.parse(state.watermark)
    : valid(backfillStartedAt)
      ? Date.parse(backfillStartedAt) - BULK_LIST_CACHE_MS
      : valid(connectedAt)
        ? Date.parse(connectedAt)
        : now.getTime() - FIRST_RUN_LOOKBACK_HOURS * 3_600_000;
  return new Date(base - RECONCILE_OVERLAP_MINUTES * 60_000);
}

export function doctorsDue(state: ReconcileState | undefined, now: Date): boolean {
  if (!state?.doctorsRefreshedAt) return true;
  return now.getTime() - Date.parse(state.doctorsRefreshedAt) >= DOCTOR_REFRESH_HOURS * 3_600_000;
}

export async function runReconcileItem(item: ReconcileItem, ctx: WorkContext, deps: ReconcileDeps): Promise<WorkResult> {
  const now = clockOf(deps);
  const { teamId } = item;
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  // A disabled team keeps its watermark, so `team enable`'s reconcile catches up everything it missed.
  if (team?.status !== 'connected' || teamLifecycle(team) !== 'active') {
    logger.info('reconcile: team skipped', { teamId, status: team?.status ?? 'unknown', lifecycle: teamLifecycle(team) ?? 'unknown' });
    return { status: 'done' };
  }
  const job = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  if (job && (job.status === 'running' || job.status === 'paused')) {
    // The backfill would race the window's pages; the next hourly run carries on from the watermark.
    logger.info('reconcile: team skipped, backfill in progress', { teamId, jobId: job.jobId });
    return { status: 'done' };
  }
  const backfillStart = job?.status === 'completed' ? job.startedAt : undefined;
  const runId = item.runAt;

  try {
    const outcome = await runTeamJob(team, ctx, deps, 'reconcile', async (run) => {
      const progress = await ProgressItem.load(deps.ddb, deps.teamsTable, teamId, RECONCILE_SK, ReconcileStateSchema);
      let state = progress.state;
      const save = async (next: ReconcileState): Promise<ReconcileState> => {
        await progress.commit(next);
        return next;
      };

      if (doctorsDue(state, run.now())) {
        const entries = await refreshDoctors(teamId, runId, run, deps, team.drchronoDoctorId, state);
        state = await save({ ...state, doctorsRefreshedAt: run.now().toISOString(), ...(entries.zone ? { practiceTimeZone: entries.zone } : {}) });
        await writeTeamLog(deps, teamId, entries.log, ctx.groupId, 'reconcile');
      }
      if (!state.window) {
        const openedAt = run.now();
        const from = reconcileFrom(state, backfillStart, team.connectedAt, openedAt);
        const since = sinceParam(from, state.practiceTimeZone ?? job?.practiceTimeZone, openedAt);
        state = await save({ ...state, window: { id: runId, openedAt: openedAt.toISOString(), since, entity: 'patient', cursor: null, pages: 0, patients: 0, appointments: 0, changed: 0, failed: 0 } });
      }

      // One page at a time, each committed before the next is read: budget, deadline or a crash lose at most a page.
      while (state.window) {
        if (run.signal.aborted) return 'more' as const;
        const w = state.window;
        const verbose = patientNeedsVerbose({}, run.config);
        let page: ListPage<Patient | Appointment>;
        try {
          page = w.entity === 'patient' ? await run.api.patientsPage({ since: w.since, verbose }, w.cursor) : await run.api.appointmentsPage({ since: w.since }, w.cursor);
        } catch (err) {
          if (!isRefusedCursor(err, w.cursor)) throw err;
          logger.warn('reconcile: saved page link refused, reading this entity again from its first page', { teamId, runId: w.id, entity: w.entity, ...errorFields(err) });
          state = await save({ ...state, window: { ...w, cursor: null } });
          continue;
        }
        const r = await importObjects(teamId, 'reconcile', w.id, w.entity, page.results, { process: deps.process, now: run.now, signal: run.signal });
        if (r.kind === 'defer') {
          // The budget ran out inside the sync path (a referenced patient or doctor fetch): end the item as for a
          // list call's budget error; the next hourly item carries on from the last committed page.
          if (r.entry.errorClass === 'ApiBudgetExhaustedError') throw new SyncPathBudgetSpent();
          throw new DeferredByWorker(r.delaySeconds, r.entry.errorClass ?? 'Deferred', r.entry.detail ?? 'deferred by the sync path');
        }
        // Stopped at the deadline part-way through the page: it is read again next time, not committed.
        if (run.signal.aborted) return 'more' as const;
        if (r.retryable > 0 && !ctx.finalAttempt) {
          // A transient failure (DrChrono 5xx, a throttled write): the page is not committed and SQS retries
          // it. On the last receive the page is committed with the failures logged, so one object that keeps
          // failing cannot hold every later window back.
          await writeTeamLog(deps, teamId, r.entries.filter((e) => e.outcome !== 'failed'), ctx.groupId, 'reconcile');
          throw new ReconcileObjectsFailedError(r.retryable);
        }
        const counts = {
          pages: w.pages + 1,
          patients: w.patients + (w.entity === 'patient' ? page.results.length : 0),
          appointments: w.appointments + (w.entity === 'appointment' ? page.results.length : 0),
          changed: w.changed + r.outcomes.created + r.outcomes.updated,
          failed: w.failed + r.outcomes.failed + r.retryable,
        };
        const nextEntity: ImportEntity | undefined = page.next ? w.entity : w.entity === 'patient' ? 'appointment' : undefined;
        const entries = [...r.entries, ...r.retryEntries.map((e) => ({ ...e, detail: 'given up on the last receive; the next change of this object brings it in' }))];
        if (nextEntity) {
          state = await save({ ...state, window: { ...w, ...counts, entity: nextEntity, cursor: page.next } });
        } else {
          const { window: _done, ...rest } = state;
          state = await save({ ...rest, watermark: w.openedAt, lastRunAt: run.now().toISOString(), lastRunId: w.id, lastPatients: counts.patients, lastAppointments: counts.appointments, lastChanged: counts.changed });
          // A quiet window writes nothing to the log; one that found missed changes or failures says so.
          if (counts.changed > 0 || counts.failed > 0) {
            entries.push(
              teamEntry(run.now(), 'RECONCILE', `reconcile:${w.id}`, 'info', `reconcile since ${w.since} (practice time): ${counts.patients} patients, ${counts.appointments} appointments read in ${counts.pages} pages; ${counts.changed} changed, ${counts.failed} failed`),
            );
          }
          logger.info('reconcile: window complete', { teamId, runId: w.id, pages: counts.pages, patients: counts.patients, appointments: counts.appointments, changed: counts.changed, failed: counts.failed });
        }
        await writeTeamLog(deps, teamId, entries, ctx.groupId, 'reconcile');
      }
      // Renames fire no webhook and touch no record's updated_at: read the lists daily and relabel the records that
      // hold old names. After the window, so missed changes come first when the budget share is small.
      await refreshRenamedNames(teamId, runId, run, deps, state.names ?? {}, async (names, log) => {
        state = await save({ ...state, names });
        await writeTeamLog(deps, teamId, log, ctx.groupId, 'reconcile');
      });
      if (run.signal.aborted) return 'more' as const;
      return 'complete' as const;
    });
    if (outcome === 'more') {
      logger.info('reconcile: deadline reached, continuing', { teamId, runId });
      return { status: 'defer', delaySeconds: CONTINUE_DELAY_SECONDS };
    }
    return { status: 'done' };
  } catch (err) {
    if (err instanceof LostProgressRace) {
      logger.info('reconcile: another run of this team is ahead', { teamId, runId });
      return { status: 'done' };
    }
    // No token: nothing to reconcile until the team connects again; the hourly schedule tries again.
    if (err instanceof TeamNotConnectedError) return { status: 'done' };
    // Progress is committed page by page: the item comes back and carries on from the last committed page.
    if (err instanceof InvocationDeadlineExceededError) return { status: 'defer', delaySeconds: CONTINUE_DELAY_SECONDS };
    if (err instanceof ApiBudgetExhaustedError || err instanceof SyncPathBudgetSpent) {
      // The next hourly tick sends a new item with a fresh budget and carries on from the committed page; keeping
      // this one deferred would add one waiting copy per starved hour (and, after 48 deferrals, a DLQ entry).
      logger.info('reconcile: budget share spent, the next hourly run carries on', { teamId, runId });
      return { status: 'done' };
    }
    const pause = pauseFor(err, now());
    if (pause) {
      logger.info('reconcile: deferred', { teamId, runId, reason: pause.reason, delaySeconds: pause.delaySeconds });
      return { status: 'defer', delaySeconds: pause.delaySeconds };
    }
    logger.warn('reconcile: failed', { teamId, runId, ...errorFields(err) });
    if (ctx.finalAttempt) {
      await writeTeamLog(deps, teamId, [teamEntry(now(), 'RECONCILE', `reconcile:${runId}`, 'failed', 'reconcile failed; the next hourly run carries on from the last committed page', errorFields(err))], ctx.groupId, 'reconcile');
    }
    return { status: 'retry', error: err };
  }
}

async function refreshDoctors(
  teamId: string,
  runId: string,
  run: TeamRun,
  deps: ReconcileDeps,
  userDoctorId: number | undefined,
  state: ReconcileState,
): Promise<{ zone?: string; log: IntegrationLogEntry[] }> {
  const doctors: Doctor[] = [];
  for await (const d of run.api.listDoctors()) doctors.push(d);
  const r = await importDoctors(teamId, 'reconcile', runId, doctors, { ddb: deps.ddb, recordsTable: deps.recordsTable, config: run.config, now: run.now });
  // The practice zone turns the UTC watermark into DrChrono's wall-clock `since`.
  const zone = practiceTimeZoneOf(doctors, userDoctorId) ?? state.practiceTimeZone;
  return { ...(zone ? { zone } : {}), log: r.entries };
}

/** The sync path answered 'defer' because the team's API budget is spent: ends the item like a list call's budget error. */
class SyncPathBudgetSpent extends Error {
  override name = 'SyncPathBudgetSpent';
  constructor() {
    super('team API budget spent inside the sync path');
  }
}
