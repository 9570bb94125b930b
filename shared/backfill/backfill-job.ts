import type { OutcomeTally } from '../team-job/import-objects';
import * as z from 'zod/mini';

/**
 * A team's backfill job: the state machine behind the backfill work items, as plain data and pure functions.
 * Stored as ONE item per team in the teams table (pk teamId, sk `BACKFILL`); see job-store.ts.
 *
 * The job advances in numbered steps. Step N is one bounded unit of work (one list or one bulk page), run by the
 * work item `{type:'step', jobId, step:N}`. Only the worker whose conditional write moves the item from step N to
 * N+1 enqueues step N+1, so a redelivered or duplicated work item can neither double count nor fork the chain.
 *
 * Phases, in order (each later phase finds the earlier ones in the store, so mapping costs no extra calls):
 *   doctors       GET /api/doctors (whole list, one step)
 *   profiles      GET /api/appointment_profiles (whole list, one step; fills the profile-name cache)
 *   patients      bulk /api/patients_list, verbose, one page per step
 *   appointments  bulk /api/appointments_list, one date_range chunk page per step
 */
export const BACKFILL_SK = 'BACKFILL';

export const PHASES = ['doctors', 'profiles', 'patients', 'appointments', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const JOB_STATUSES = ['running', 'paused', 'completed', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Appointment window: a year back (history, last-visit dates) and six months ahead (the schedule). */
export const APPOINTMENT_DAYS_BACK = 365;
export const APPOINTMENT_DAYS_AHEAD = 180;
/** Bulk pages hold 1000, so chunks only bound each generated list; 90 days → 7 chunks for the default window. */
export const APPOINTMENT_CHUNK_DAYS = 90;
export const DEFAULT_BULK_PAGE_SIZE = 1000;

/** Progress weights for `percent`: lists of doctors/profiles are tiny, patients and appointments are the work. */
const WEIGHTS: Record<Exclude<Phase, 'done'>, number> = { doctors: 5, profiles: 5, patients: 45, appointments: 45 };

const DateOnly = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/));

export const DateRangeSchema = z.object({ start: DateOnly, end: DateOnly });
export type DateRange = z.infer<typeof DateRangeSchema>;

export const CursorSchema = z.object({
  phase: z.enum(PHASES),
  /** Bulk page, 1-based. */
  page: z.number().check(z.int(), z.minimum(1)),
  /** Appointments: index into `chunks`. */
  chunk: z.number().check(z.int(), z.minimum(0)),
  /** Pages of the current list, once the first page told us. */
  pages: z.optional(z.number().check(z.int(), z.minimum(0))),
  /** A generated bulk page not yet collected (DrChrono keeps it 1 h). */
  uuid: z.optional(z.string()),
  uuidCreatedAt: z.optional(z.string()),
});
export type BackfillCursor = z.infer<typeof CursorSchema>;

export const BackfillJobSchema = z.looseObject({
  teamId: z.string(),
  jobId: z.string(),
  status: z.enum(JOB_STATUSES),
  reason: z.enum(['connect', 'operator']),
  step: z.number().check(z.int(), z.minimum(0)),
  /** Highest step whose work item is known to be on the queue. */
  enqueuedStep: z.number().check(z.int(), z.minimum(-1)),
  cursor: CursorSchema,
  /** cursor.phase, top-level so `team show` (which prints scalar attributes) shows it. */
  phase: z.enum(PHASES),
  /** Only objects updated since (operator `--since`); appointments then use `since` instead of date chunks. */
  since: z.optional(z.string()),
  pageSize: z.number().check(z.int(), z.minimum(1), z.maximum(1000)),
  chunks: z.array(DateRangeSchema),
  doctors: z.number().check(z.int(), z.minimum(0)),
  profiles: z.number().check(z.int(), z.minimum(0)),
  patients: z.number().check(z.int(), z.minimum(0)),
  appointments: z.number().check(z.int(), z.minimum(0)),
  patientsTotal: z.optional(z.number().check(z.int(), z.minimum(0))),
  /** Sum of the counts of the appointment chunks seen so far. */
  appointmentsSeenTotal: z.optional(z.number().check(z.int(), z.minimum(0))),
  created: z.number().check(z.int(), z.minimum(0)),
  updated: z.number().check(z.int(), z.minimum(0)),
  unchanged: z.number().check(z.int(), z.minimum(0)),
  failed: z.number().check(z.int(), z.minimum(0)),
  percent: z.number().check(z.minimum(0), z.maximum(100)),
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.optional(z.string()),
  pausedUntil: z.optional(z.string()),
  pauseReason: z.optional(z.string()),
  errorClass: z.optional(z.string()),
  /** From the doctors list (e.g. "US/Pacific"); reconcile needs it to express `since` in practice time. */
  practiceTimeZone: z.optional(z.string()),
});
export type BackfillJob = z.infer<typeof BackfillJobSchema>;

export interface NewJobInput {
  teamId: string;
  jobId: string;
  reason: 'connect' | 'operator';
  since?: string;
  pageSize?: number;
  now: Date;
}

export function newJob(input: NewJobInput): BackfillJob {
  const at = input.now.toISOString();
  return {
    teamId: input.teamId,
    jobId: input.jobId,
    status: 'running',
    reason: input.reason,
    step: 0,
    enqueuedStep: -1,
    cursor: { phase: 'doctors', page: 1, chunk: 0 },
    phase: 'doctors',
    ...(input.since ? { since: input.since } : {}),
    pageSize: input.pageSize ?? DEFAULT_BULK_PAGE_SIZE,
    // With --since, appointments are one `since` list: changed appointments regardless of their date.
    chunks: input.since ? [] : appointmentChunks(input.now),
    doctors: 0,
    profiles: 0,
    patients: 0,
    appointments: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    percent: 0,
    startedAt: at,
    updatedAt: at,
  };
}

function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * 86_400_000);
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Consecutive, non-overlapping inclusive date ranges covering [now - back, now + ahead]. */
export function appointmentChunks(now: Date, back = APPOINTMENT_DAYS_BACK, ahead = APPOINTMENT_DAYS_AHEAD, size = APPOINTMENT_CHUNK_DAYS): DateRange[] {
  const chunks: DateRange[] = [];
  const last = addDays(now, ahead);
  for (let start = addDays(now, -back); day(start) <= day(last); start = addDays(start, size)) {
    const end = addDays(start, size - 1);
    chunks.push({ start: day(start), end: day(end) < day(last) ? day(end) : day(last) });
  }
  return chunks;
}

/** The appointment chunk count of a job: `since` jobs have one pseudo-chunk. */
export function chunkCount(job: Pick<BackfillJob, 'chunks' | 'since'>): number {
  return job.since ? 1 : job.chunks.length;
}

/** What one step did: a whole list or a collected bulk page, or a bulk page still being generated. */
export type StepOutcome =
  | { kind: 'page'; processed: number; outcomes: OutcomeTally; total?: number; pages?: number }
  | { kind: 'waiting'; uuid: string; uuidCreatedAt: string };

export { emptyTally, type OutcomeTally } from '../team-job/import-objects';

/** The cursor after a collected page: next page, next chunk, next phase. */
export function nextCursor(job: BackfillJob, pages: number): BackfillCursor {
  const c = job.cursor;
  switch (c.phase) {
    case 'doctors':
      return { phase: 'profiles', page: 1, chunk: 0 };
    case 'profiles':
      return { phase: 'patients', page: 1, chunk: 0 };
    case 'patients':
      if (c.page < pages) return { phase: 'patients', page: c.page + 1, chunk: 0, pages };
      return chunkCount(job) > 0 ? { phase: 'appointments', page: 1, chunk: 0 } : { phase: 'done', page: 1, chunk: 0 };
    case 'appointments':
      if (c.page < pages) return { phase: 'appointments', page: c.page + 1, chunk: c.chunk, pages };
      if (c.chunk + 1 < chunkCount(job)) return { phase: 'appointments', page: 1, chunk: c.chunk + 1 };
      return { phase: 'done', page: 1, chunk: 0 };
    case 'done':
      return c;
  }
}

/** The job after step `job.step` finished with `outcome` (pure; the store writes it conditionally). */
export function applyStep(job: BackfillJob, outcome: StepOutcome, now: Date): BackfillJob {
  const at = now.toISOString();
  const { pausedUntil: _p, pauseReason: _r, ...rest } = job;
  if (outcome.kind === 'waiting') {
    return { ...rest, status: 'running', step: job.step + 1, cursor: { ...job.cursor, uuid: outcome.uuid, uuidCreatedAt: outcome.uuidCreatedAt }, updatedAt: at };
  }
  const next: BackfillJob = {
    ...rest,
    status: 'running',
    step: job.step + 1,
    created: job.created + outcome.outcomes.created,
    updated: job.updated + outcome.outcomes.updated,
    unchanged: job.unchanged + outcome.outcomes.unchanged,
    failed: job.failed + outcome.outcomes.failed,
    updatedAt: at,
  };
  const phase = job.cursor.phase;
  if (phase === 'doctors' || phase === 'profiles' || phase === 'patients' || phase === 'appointments') {
    next[phase] = job[phase] + outcome.processed;
  }
  if (phase === 'patients' && job.cursor.page === 1 && outcome.total !== undefined) next.patientsTotal = outcome.total;
  if (phase === 'appointments' && job.cursor.page === 1 && outcome.total !== undefined) {
    next.appointmentsSeenTotal = (job.appointmentsSeenTotal ?? 0) + outcome.total;
  }
  next.cursor = nextCursor(job, outcome.pages ?? 1);
  next.phase = next.cursor.phase;
  if (next.cursor.phase === 'done') {
    next.status = 'completed';
    next.finishedAt = at;
  }
  next.percent = percentOf(next);
  return next;
}

/** Overall progress, 0-100, weighted by phase; real fractions inside patients and appointments. */
export function percentOf(job: BackfillJob): number {
  if (job.status === 'completed') return 100;
  const c = job.cursor;
  const idx = PHASES.indexOf(c.phase);
  let done = 0;
  for (const p of ['doctors', 'profiles', 'patients', 'appointments'] as const) {
    const pIdx = PHASES.indexOf(p);
    if (pIdx < idx) done += WEIGHTS[p];
    else if (pIdx === idx && p === 'patients') {
      const frac = job.patientsTotal ? Math.min(1, job.patients / job.patientsTotal) : 0;
      done += WEIGHTS.patients * frac;
    } else if (pIdx === idx && p === 'appointments') {
      const chunks = Math.max(1, chunkCount(job));
      const pageFrac = c.pages ? (c.page - 1) / c.pages : 0;
      done += (WEIGHTS.appointments * (c.chunk + pageFrac)) / chunks;
    }
  }
  return Math.min(99, Math.floor(done));
}

/** The job paused (budget, rate limit, token refresh) at the same step: the work item comes back later. */
export function pauseJob(job: BackfillJob, until: Date, reason: string, now: Date): BackfillJob {
  return { ...job, status: 'paused', pausedUntil: until.toISOString(), pauseReason: reason, updatedAt: now.toISOString() };
}

export function failJob(job: BackfillJob, errorClass: string, now: Date): BackfillJob {
  return { ...job, status: 'failed', errorClass, finishedAt: now.toISOString(), updatedAt: now.toISOString() };
}

/** What to do with the work item for `step` of `jobId`, given the stored job. */
export type StepDecision =
  | { action: 'run' }
  /** A previous run advanced the job but may have died before enqueueing the next item: enqueue it now. */
  | { action: 'enqueue-current' }
  | { action: 'drop'; why: string };

export function decideStep(job: BackfillJob | undefined, jobId: string, step: number): StepDecision {
  if (!job || job.jobId !== jobId) return { action: 'drop', why: 'superseded by another job' };
  if (job.status === 'completed' || job.status === 'failed') return { action: 'drop', why: `job ${job.status}` };
  if (step === job.step) return { action: 'run' };
  if (step < job.step && job.enqueuedStep < job.step) return { action: 'enqueue-current' };
  return { action: 'drop', why: step < job.step ? 'step already done' : 'step ahead of the job' };
}
