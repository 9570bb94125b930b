import type { SQSClient } from '@aws-sdk/client-sqs';
import { BulkListExpiredError, type BulkListKind, type BulkListRequest, type BulkPoll } from '../drchrono/bulk';
import type { Doctor } from '../drchrono/schemas';
import { errorFields, logger } from '../logging/logger';
import type { IntegrationLogEntry } from '../store/integration-log';
import { writeNameCache } from '../store/profile-cache';
import { getTeamItem, teamLifecycle, type TeamItem } from '../teams/team-store';
import { practiceTimeZoneOf } from '../reconcile/practice-time';
import { mapsFlags } from '../reconcile/renamed-names';
import { importDoctors, importObjects } from '../team-job/import-objects';
import { DeferredByWorker, pauseFor, TeamNotConnectedError } from '../team-job/team-api';
import { clockOf, runTeamJob, teamEntry, writeTeamLog, type TeamJobDeps, type TeamRun, type WorkContext, type WorkResult } from '../team-job/team-job';
import { sendWorkItem, type DeletionCheckItem, type ReconcileItem, type StartItem, type StepItem, type WorkItem } from '../team-job/work-item';
import { applyStep, failJob, newJob, pauseJob, decideStep, emptyTally, type BackfillJob, type StepOutcome } from './backfill-job';
import { commitJob, getBackfillJob, markEnqueued, putNewJob } from './job-store';

/**
 * The backfill queue's consumer core: one work item → one outcome. Backfill steps are handled here; reconcile
 * and deletion-check items go to their schedules (injected, so the modules stay separate). It never touches
 * the SQS record itself; functions/backfill/handler.ts turns the outcome into SQS semantics.
 */
export type { WorkContext, WorkResult } from '../team-job/team-job';

export interface BackfillWorkerDeps extends TeamJobDeps {
  sqs: SQSClient;
  backfillQueueUrl: string;
  /** Runs a reconcile item (shared/reconcile). */
  reconcile: (item: ReconcileItem, ctx: WorkContext) => Promise<WorkResult>;
  /** Runs a deletion-check item (shared/reconcile/deletion-check). */
  deletionCheck: (item: DeletionCheckItem, ctx: WorkContext) => Promise<WorkResult>;
  /** Waits before each poll of a generated bulk page; when used up the uuid is parked in the job. */
  bulkPollDelaysMs?: readonly number[];
}

/** Objects of a page failed transiently; the step is retried rather than committed without them. */
export class PageObjectsFailedError extends Error {
  override name = 'PageObjectsFailedError';
  constructor(failed: number, cause: unknown) {
    super(`${failed} objects of the page failed transiently (${cause instanceof Error ? cause.name : 'unknown error'})`);
  }
}

export const DEFAULT_BULK_POLL_DELAYS_MS = [500, 1000, 2000, 4000] as const;
/** Pause reason of a backfill whose team was disabled; the pause lasts until `team enable` (or the watchdog after enable). */
export const TEAM_DISABLED_PAUSE_REASON = 'team disabled';
const DISABLED_PAUSE_MS = 60 * 60_000;
/** A parked bulk page is re-polled after this long. */
const PARKED_PAGE_DELAY_SECONDS = 10;
/** DrChrono caches a generated list for 1 h; a parked uuid older than this is regenerated rather than polled. */
const BULK_UUID_MAX_AGE_MS = 50 * 60_000;

export async function runWorkItem(item: WorkItem, ctx: WorkContext, deps: BackfillWorkerDeps): Promise<WorkResult> {
  if (item.type === 'start') return start(item, ctx, deps);
  if (item.type === 'step') return step(item, ctx, deps);
  if (item.type === 'deletion-check') return deps.deletionCheck(item, ctx);
  return deps.reconcile(item, ctx);
}

const clock = clockOf;

function log(deps: BackfillWorkerDeps, teamId: string, entries: IntegrationLogEntry[], groupId: string): Promise<void> {
  return writeTeamLog(deps, teamId, entries, groupId, 'backfill');
}

/** Put the job's current step on the queue and remember that it is there. */
export async function enqueueCurrentStep(deps: BackfillWorkerDeps, job: BackfillJob, delaySeconds = 0): Promise<void> {
  await sendWorkItem(deps.sqs, deps.backfillQueueUrl, { type: 'step', teamId: job.teamId, jobId: job.jobId, step: job.step }, delaySeconds);
  await markEnqueued(deps.ddb, deps.teamsTable, job.teamId, job.jobId, job.step);
}

// ---------------------------------------------------------------- start

async function start(item: StartItem, ctx: WorkContext, deps: BackfillWorkerDeps, attempt = 0): Promise<WorkResult> {
  const now = clock(deps)();
  const { teamId } = item;
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (!team || teamLifecycle(team) !== 'active' || team.status === 'registered') {
    // Dropped for a disabled team: `team enable` queues a new start if the team has no backfill job (and resumes a
    // paused one). A removed team gets nothing.
    logger.info('backfill: start ignored', { teamId, status: team?.status ?? 'unknown', lifecycle: teamLifecycle(team) ?? 'unknown' });
    return { status: 'done' };
  }
  const jobId = item.jobId ?? `connect-${ctx.messageId}`;
  const reason = item.jobId ? 'operator' : 'connect';
  const existing = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  if (existing?.jobId === jobId) {
    // A redelivered start: the job exists; make sure its chain is on the queue.
    if ((existing.status === 'running' || existing.status === 'paused') && existing.enqueuedStep < existing.step) await enqueueCurrentStep(deps, existing);
    return { status: 'done' };
  }
  if (reason === 'connect' && (existing?.status === 'running' || existing?.status === 'paused')) {
    logger.info('backfill: start on connect ignored, a backfill is already running', { teamId, jobId: existing.jobId });
    return { status: 'done' };
  }
  const job = newJob({ teamId, jobId, reason, since: item.since, pageSize: item.pageSize, now });
  if (!(await putNewJob(deps.ddb, deps.teamsTable, job, existing?.jobId))) {
    if (attempt > 0) return { status: 'retry', error: new Error('backfill job changed concurrently') };
    return start(item, ctx, deps, attempt + 1);
  }
  const detail = `backfill ${jobId} started (${reason}${item.since ? `, since ${item.since}` : ''}${existing ? `, replaces ${existing.jobId} (${existing.status})` : ''})`;
  await log(deps, teamId, [teamEntry(now, 'BACKFILL_START', `backfill:${jobId}`, 'info', detail)], ctx.groupId);
  logger.info('backfill: started', { teamId, jobId, reason });
  await enqueueCurrentStep(deps, job);
  return { status: 'done' };
}

// ---------------------------------------------------------------- step

async function step(item: StepItem, ctx: WorkContext, deps: BackfillWorkerDeps): Promise<WorkResult> {
  const now = clock(deps);
  const { teamId } = item;
  const job = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  const decision = decideStep(job, item.jobId, item.step);
  if (decision.action === 'drop' || !job) {
    logger.info('backfill: work item dropped', { teamId, jobId: item.jobId, step: item.step, why: decision.action === 'drop' ? decision.why : 'no job' });
    return { status: 'done' };
  }
  if (decision.action === 'enqueue-current') {
    await enqueueCurrentStep(deps, job);
    return { status: 'done' };
  }

  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  const lifecycle = teamLifecycle(team);
  if (lifecycle === 'removing' || lifecycle === 'removed') {
    // The removal deletes the job; writing it (or the log) again would bring data of a removed team back.
    logger.info('backfill: work of a removed team dropped', { teamId, jobId: item.jobId, step: item.step });
    return { status: 'done' };
  }
  if (lifecycle === 'disabled') {
    // Paused, not failed: `team enable` re-enqueues this step and the backfill carries on where it stopped.
    const paused = pauseJob(job, new Date(now().getTime() + DISABLED_PAUSE_MS), TEAM_DISABLED_PAUSE_REASON, now());
    if (job.pauseReason !== TEAM_DISABLED_PAUSE_REASON && (await commitJob(deps.ddb, deps.teamsTable, paused, job.step))) {
      await log(deps, teamId, [teamEntry(now(), 'BACKFILL_PAUSE', `backfill:${job.jobId}`, 'deferred', `backfill paused at ${job.cursor.phase}: team disabled; \`drchrono-sync team enable ${teamId}\` resumes it`)], ctx.groupId);
    }
    logger.info('backfill: paused, team disabled', { teamId, jobId: job.jobId, step: job.step });
    return { status: 'done' };
  }
  if (!team) {
    const failed = failJob(job, 'TeamDisabled', now());
    if (await commitJob(deps.ddb, deps.teamsTable, failed, job.step)) {
      await log(deps, teamId, [teamEntry(now(), 'BACKFILL_FINISH', `backfill:${job.jobId}`, 'failed', 'backfill stopped: team unknown')], ctx.groupId);
    }
    return { status: 'done' };
  }

  let outcome: StepOutcome;
  let entries: IntegrationLogEntry[] = [];
  let extra: Partial<BackfillJob> = {};
  try {
    if (team.status !== 'connected') throw new TeamNotConnectedError(`team status is ${team.status}`);
    const ran = await runTeamJob(team, ctx, deps, 'backfill', (run) => runStep(job, team, run, deps));
    outcome = ran.outcome;
    entries = ran.entries;
    extra = ran.extra ?? {};
  } catch (err) {
    const pause = pauseFor(err, now());
    if (pause) {
      const paused = pauseJob(job, pause.until, pause.reason, now());
      if (await commitJob(deps.ddb, deps.teamsTable, paused, job.step)) {
        if (job.status !== 'paused' || job.pauseReason !== pause.reason) {
          await log(deps, teamId, [teamEntry(now(), 'BACKFILL_PAUSE', `backfill:${job.jobId}`, 'deferred', `backfill paused at ${job.cursor.phase}: ${pause.reason}; resumes after ${pause.until.toISOString()}`, { errorClass: pause.errorClass })], ctx.groupId);
        }
      }
      logger.info('backfill: paused', { teamId, jobId: job.jobId, step: job.step, reason: pause.reason, delaySeconds: pause.delaySeconds });
      return { status: 'defer', delaySeconds: pause.delaySeconds };
    }
    logger.warn('backfill: step failed', { teamId, jobId: job.jobId, step: job.step, phase: job.cursor.phase, ...errorFields(err) });
    if (ctx.finalAttempt) {
      const failed = failJob(job, errorFields(err).errorClass, now());
      if (await commitJob(deps.ddb, deps.teamsTable, failed, job.step)) {
        await log(deps, teamId, [teamEntry(now(), 'BACKFILL_FINISH', `backfill:${job.jobId}`, 'failed', `backfill failed at ${job.cursor.phase}; run \`drchrono-sync backfill ${teamId}\` to start again`, errorFields(err))], ctx.groupId);
      }
    }
    return { status: 'retry', error: err };
  }

  const next: BackfillJob = { ...applyStep(job, outcome, now()), ...extra };
  if (!(await commitJob(deps.ddb, deps.teamsTable, next, job.step))) {
    logger.info('backfill: step already committed by another worker', { teamId, jobId: job.jobId, step: job.step });
    return { status: 'done' };
  }
  if (next.status === 'completed') {
    const detail = `backfill ${job.jobId} finished: ${next.doctors} doctors, ${next.profiles} appointment profiles, ${next.patients} patients, ${next.appointments} appointments (${next.created} created, ${next.updated} updated, ${next.unchanged} unchanged, ${next.failed} failed)`;
    entries.push(teamEntry(now(), 'BACKFILL_FINISH', `backfill:${job.jobId}`, 'info', detail));
  }
  await log(deps, teamId, entries, ctx.groupId);
  logger.info('backfill: step done', { teamId, jobId: job.jobId, step: job.step, phase: job.cursor.phase, next: next.cursor.phase, percent: next.percent });
  if (next.status !== 'completed') await enqueueCurrentStep(deps, next, outcome.kind === 'waiting' ? PARKED_PAGE_DELAY_SECONDS : 0);
  return { status: 'done' };
}

/** One bounded unit of work for the job's cursor. Throws DrChrono/budget errors for the caller to classify. */
async function runStep(job: BackfillJob, team: TeamItem, run: TeamRun, deps: BackfillWorkerDeps): Promise<{ outcome: StepOutcome; entries: IntegrationLogEntry[]; extra?: Partial<BackfillJob> }> {
  const { api, bulk, config, now, signal } = run;
  const c = job.cursor;

  if (c.phase === 'doctors') {
    const doctors: Doctor[] = [];
    for await (const d of api.listDoctors()) doctors.push(d);
    const r = await importDoctors(job.teamId, 'backfill', job.jobId, doctors, { ddb: deps.ddb, recordsTable: deps.recordsTable, config, now });
    // Reconcile turns its UTC watermark into the practice's wall clock (DrChrono's `since`) with this zone.
    const practiceTimeZone = practiceTimeZoneOf(doctors, team.drchronoDoctorId);
    return { outcome: { kind: 'page', processed: r.processed, outcomes: r.outcomes }, entries: r.entries, extra: practiceTimeZone ? { practiceTimeZone } : {} };
  }
  if (c.phase === 'profiles') {
    const names = new Map<number, string>();
    for await (const p of api.listAppointmentProfiles()) names.set(p.id, p.name);
    // The sync worker's profile-name cache: appointments then map without fetching profiles.
    await writeNameCache(deps.ddb, deps.teamsTable, job.teamId, 'PROFILES', names, now());
    if (mapsFlags(config)) {
      // Verbose patients carry their flag types' names; reading the list puts them in the seen-names history,
      // so a flag type renamed before reconcile's first name check is still relabelled.
      const flagTypes = new Map<number, string>();
      for await (const t of api.listPatientFlagTypes()) flagTypes.set(t.id, t.name);
      await writeNameCache(deps.ddb, deps.teamsTable, job.teamId, 'FLAG_TYPES', flagTypes, now());
    }
    return { outcome: { kind: 'page', processed: names.size, outcomes: emptyTally() }, entries: [] };
  }
  if (c.phase === 'done') throw new Error('backfill job has nothing left to do');

  const kind: BulkListKind = c.phase;
  const chunk = job.chunks[c.chunk];
  const req: BulkListRequest = {
    page: c.page,
    pageSize: job.pageSize,
    // Verbose patients carry insurance and flags, so the mapping needs no per-patient fetch.
    ...(kind === 'patients' ? { verbose: true } : {}),
    ...(job.since ? { since: job.since } : {}),
    ...(kind === 'appointments' && !job.since && chunk ? { dateRange: chunk } : {}),
  };
  const delays = deps.bulkPollDelaysMs ?? DEFAULT_BULK_POLL_DELAYS_MS;
  let page: BulkPoll | undefined;
  let uuid = c.uuid;
  let createdAt = c.uuidCreatedAt;
  if (uuid && createdAt && now().getTime() - Date.parse(createdAt) < BULK_UUID_MAX_AGE_MS) {
    try {
      page = await bulk.waitForPage(kind, uuid, [0, ...delays]);
    } catch (err) {
      if (!(err instanceof BulkListExpiredError)) throw err;
      page = undefined;
      uuid = undefined;
    }
  } else uuid = undefined;
  if (!uuid) {
    createdAt = now().toISOString();
    uuid = await bulk.create(kind, req);
    page = await bulk.waitForPage(kind, uuid, delays);
  }
  if (!page || page.status === 'in-progress') return { outcome: { kind: 'waiting', uuid, uuidCreatedAt: createdAt! }, entries: [] };

  const entity = kind === 'patients' ? 'patient' : 'appointment';
  const r = await importObjects(job.teamId, 'backfill', job.jobId, entity, page.results, { process: deps.process, now, signal });
  if (r.kind === 'defer') throw new DeferredByWorker(r.delaySeconds, r.entry.errorClass ?? 'Deferred', r.entry.detail ?? 'deferred by the sync path');
  // A transient failure fails the step: SQS retries it and the page is imported again (replays are 'unchanged').
  if (r.retryable > 0) throw new PageObjectsFailedError(r.retryable, r.retryError);
  return { outcome: { kind: 'page', processed: r.processed, outcomes: r.outcomes, total: page.count, pages: page.pages }, entries: r.entries };
}
