import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetLimitOf, consumeApiBudget } from '../budget/api-budget';
import type { BulkListKind, BulkListRequest, BulkPoll } from '../drchrono/bulk';
import { BulkListExpiredError } from '../drchrono/bulk';
import type { Appointment, AppointmentProfile, Doctor, Patient } from '../drchrono/schemas';
import type { IngestMessage } from '../ingest/ingest-message';
import { errorFields, logger } from '../logging/logger';
import { readTeamSyncConfig } from '../mapping';
import { writeIntegrationLog, type IntegrationLogEntry } from '../store/integration-log';
import { writeNameCache } from '../store/profile-cache';
import type { ProcessResult } from '../sync/process-ingest-message';
import type { TeamSecret } from '../teams/team-secret';
import { getTeamItem, type TeamItem } from '../teams/team-store';
import { applyStep, failJob, newJob, pauseJob, decideStep, emptyTally, type BackfillJob, type StepOutcome } from './backfill-job';
import { importDoctors, importObjects } from './import-objects';
import { commitJob, getBackfillJob, markEnqueued, putNewJob } from './job-store';
import { practiceTimeZoneOf } from '../reconcile/practice-time';
import { InvocationDeadline } from '../sync/invocation-deadline';
import { DeferredByWorker, pauseFor, TeamNotConnectedError, withTeamToken } from './team-api';
import { InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import { sendWorkItem, type ReconcileItem, type StartItem, type StepItem, type WorkItem } from './work-item';

/**
 * The backfill worker's domain core: one work item from the backfill queue → one outcome. It never touches
 * the SQS record itself; functions/backfill/handler.ts turns the outcome into SQS semantics (ack, defer, retry).
 */
export type WorkResult = { status: 'done' } | { status: 'defer'; delaySeconds: number } | { status: 'retry'; error: unknown };

/** What backfill and reconcile call on DrChrono: a subset of DrChronoClient. */
export interface BackfillDrChronoApi {
  listDoctors(): AsyncIterable<Doctor>;
  listAppointmentProfiles(): AsyncIterable<AppointmentProfile>;
  listPatients(o: { since?: string; verbose?: boolean }): AsyncIterable<Patient>;
  listAppointments(o: { since?: string; verbose?: boolean }): AsyncIterable<Appointment>;
}

export interface BackfillBulkApi {
  create(kind: BulkListKind, req: BulkListRequest): Promise<string>;
  waitForPage(kind: BulkListKind, uuid: string, delaysMs: readonly number[]): Promise<BulkPoll>;
}

export interface BackfillWorkerDeps {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  teamsTable: string;
  recordsTable: string;
  integrationLogTable: string;
  backfillQueueUrl: string;
  integrationLogTtlDays: number;
  secrets: { get(teamId: string): Promise<TeamSecret | null>; refresh(teamId: string, minAgeMs?: number): Promise<TeamSecret | null> };
  /** The sync worker's processIngestMessage, bound to its deps. */
  process: (msg: IngestMessage) => Promise<ProcessResult>;
  drchrono: (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) => { api: BackfillDrChronoApi; bulk: BackfillBulkApi };
  /** Runs a reconcile item (shared/reconcile); injected so the two modules stay separate. */
  reconcile: (item: ReconcileItem, ctx: WorkContext) => Promise<WorkResult>;
  now?: () => Date;
  /** Waits before each poll of a generated bulk page; when used up the uuid is parked in the job. */
  bulkPollDelaysMs?: readonly number[];
}

export interface WorkContext {
  messageId: string;
  /** Unique per invocation (awsRequestId): integration log group id. */
  groupId: string;
  /** The receive after which SQS moves the message to the DLQ. */
  finalAttempt: boolean;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); no deadline when omitted. */
  remainingMs?: () => number;
}

/**
 * Kept back from the invocation for committing the step, writing the log and enqueueing the next item. A step
 * still running then fails like any other error (retried, the job marked failed on the last receive) instead
 * of dying in Lambda's timeout with nothing recorded.
 */
export const WORK_RESERVE_MS = 10_000;

export const DEFAULT_BULK_POLL_DELAYS_MS = [500, 1000, 2000, 4000] as const;
/** A parked bulk page is re-polled after this long. */
const PARKED_PAGE_DELAY_SECONDS = 10;
/** DrChrono caches a generated list for 1 h; a parked uuid older than this is regenerated rather than polled. */
const BULK_UUID_MAX_AGE_MS = 50 * 60_000;

export async function runWorkItem(item: WorkItem, ctx: WorkContext, deps: BackfillWorkerDeps): Promise<WorkResult> {
  if (item.type === 'start') return start(item, ctx, deps);
  if (item.type === 'step') return step(item, ctx, deps);
  return deps.reconcile(item, ctx);
}

function clock(deps: BackfillWorkerDeps): () => Date {
  return deps.now ?? (() => new Date());
}

async function log(deps: BackfillWorkerDeps, teamId: string, entries: IntegrationLogEntry[], groupId: string): Promise<void> {
  if (entries.length === 0) return;
  try {
    await writeIntegrationLog(deps.ddb, deps.integrationLogTable, teamId, entries, { ttlDays: deps.integrationLogTtlDays, now: clock(deps)(), groupId });
  } catch (err) {
    // The records are written; a lost log group must not make SQS redo the page.
    logger.error('backfill: could not write integration log', { teamId, entries: entries.length, ...errorFields(err) });
  }
}

function teamEntry(now: Date, event: string, deliveryId: string, outcome: IntegrationLogEntry['outcome'], detail: string, extra: Partial<IntegrationLogEntry> = {}): IntegrationLogEntry {
  return { at: now.toISOString(), event, deliveryId, entity: 'team', outcome, detail, ...extra };
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
  if (!team || team.status === 'disabled' || team.status === 'registered') {
    logger.info('backfill: start ignored', { teamId, status: team?.status ?? 'unknown' });
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
  if (!team || team.status === 'disabled') {
    const failed = failJob(job, 'TeamDisabled', now());
    if (await commitJob(deps.ddb, deps.teamsTable, failed, job.step)) {
      await log(deps, teamId, [teamEntry(now(), 'BACKFILL_FINISH', `backfill:${job.jobId}`, 'failed', 'backfill stopped: team unknown or disabled')], ctx.groupId);
    }
    return { status: 'done' };
  }

  let outcome: StepOutcome;
  let entries: IntegrationLogEntry[] = [];
  let extra: Partial<BackfillJob> = {};
  const deadline = new InvocationDeadline(ctx.remainingMs, WORK_RESERVE_MS);
  try {
    if (team.status !== 'connected') throw new TeamNotConnectedError(`team status is ${team.status}`);
    const ran = await deadline.race(
      withTeamToken(teamId, { ...deps, now }, 'backfill', (token) => runStep(job, team, token, deps, deadline.signal)),
      () => new InvocationDeadlineExceededError(),
    );
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
  } finally {
    deadline.dispose();
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
async function runStep(job: BackfillJob, team: TeamItem, token: string, deps: BackfillWorkerDeps, signal?: AbortSignal): Promise<{ outcome: StepOutcome; entries: IntegrationLogEntry[]; extra?: Partial<BackfillJob> }> {
  const now = clock(deps);
  const limit = budgetLimitOf(team);
  const { api, bulk } = deps.drchrono({
    accessToken: async () => token,
    beforeCall: async () => {
      await consumeApiBudget(deps.ddb, deps.teamsTable, job.teamId, { limit, priority: 'backfill', now: now() });
    },
  });
  const config = readTeamSyncConfig(team);
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
  return { outcome: { kind: 'page', processed: r.processed, outcomes: r.outcomes, total: page.count, pages: page.pages }, entries: r.entries };
}
