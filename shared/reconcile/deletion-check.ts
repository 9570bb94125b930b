import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { getBackfillJob } from '../backfill/job-store';
import type { ListPage } from '../drchrono/client';
import { ApiBudgetExhaustedError, DrChronoNotFoundError } from '../drchrono/errors';
import type { Patient } from '../drchrono/schemas';
import { errorFields, logger } from '../logging/logger';
import { patientNeedsVerbose } from '../mapping';
import { DELETION_CHECK_BLOCKED_METRIC, type DeletionCheckMetricName } from './deletion-check-metrics';
import type { IntegrationLogEntry } from '../store/integration-log';
import { tombstonePatient } from '../store/patient-references';
import { listRecordStates } from '../store/records';
import { InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import { getTeamItem, teamLifecycle, type TeamItem } from '../teams/team-store';
import { LostProgressRace, ProgressItem } from '../team-job/progress-item';
import { importObjects } from '../team-job/import-objects';
import { DeferredByWorker, pauseFor, TeamNotConnectedError } from '../team-job/team-api';
import { clockOf, isRefusedCursor, runTeamJob, teamEntry, writeTeamLog, type TeamJobDeps, type TeamRun, type WorkContext, type WorkResult } from '../team-job/team-job';
import type { DeletionCheckItem } from '../team-job/work-item';

/**
 * DrChrono sends no webhook when a patient is deleted, and a deleted patient simply disappears (no flag).
 * Once a day per team this check lists every patient id DrChrono has and compares it with the store:
 *
 *  1. listing: `GET /api/patients` (not verbose, 250 per page), one page at a time; each page's ids go to a
 *     chunk item (teams table, sk `DELCHECK#<checkId>#<page>`, TTL 3 days) and the page cursor to the state
 *     item, so a listing that the budget or the invocation cuts short resumes where it stopped;
 *  2. comparing, only once the listing is COMPLETE (its last page had no `next`): a live stored patient that
 *     is not in the listing and was last written before the listing started is a candidate;
 *  3. each candidate is confirmed with `GET /api/patients/{id}`: only a 404 marks it deleted (a terminal
 *     tombstone, logged). Any other answer keeps it (a listing can leave patients out, e.g. inactive ones);
 *     any error pauses or retries the check. A partial listing or a transient error never deletes anything.
 *
 * Guards against a wrong account (a reconnect to another DrChrono account, or a user who cannot see some patients:
 * its listing lacks them and each GET 404s for that token, and tombstones are terminal):
 *  - the team's DrChrono user id and practice group are recorded when the listing starts; if the team item holds
 *    different ones at any later run (or before confirming), the check is dropped and a new one starts later;
 *  - circuit breaker: before confirming, if the candidates exceed max(20, 5 % of the live stored patients), nothing
 *    is tombstoned: an integration-log entry (counts only), the metric `DeletionCheckBlocked` and a warn line; the
 *    check counts as run and is blocked until a later check finds fewer candidates (or an operator allows it once
 *    with `allowCandidates` on the state item, see docs/backfill.md "Deletion check").
 *
 * Every call is charged to the team's hourly budget at backfill priority (so webhooks keep their reserve);
 * when it is spent the item ends, and the next hourly tick's item carries on from the state.
 *
 * State: teams table, pk teamId, sk `DELETION_CHECK` (a ProgressItem).
 */
export const DELETION_CHECK_SK = 'DELETION_CHECK';
export const DELETION_CHECK_EVERY_HOURS = 24;
const CHUNK_PREFIX = 'DELCHECK#';
const CHUNK_TTL_SECONDS = 3 * 24 * 3600;
/** Non-verbose lists go up to DrChrono's 250 per page. */
const LIST_PAGE_SIZE = 250;
/** DrChrono caps verbose lists at 50 per page. */
const VERBOSE_PAGE_SIZE = 50;

/**
 * Whether the daily listing also re-reads every patient verbose and writes it through the sync path. Only for
 * teams that map a verbose-only field (insurance, flags): DrChrono sends flag changes as their own events and,
 * by the sandbox's (harder) reading, they move no `updated_at`, so a flag webhook DrChrono gave up on is never in
 * a reconcile window. Every other patient field moves `updated_at`, so other teams list ids only.
 */
export function sweepsVerboseFields(run: Pick<TeamRun, 'config'>): boolean {
  return patientNeedsVerbose({}, run.config);
}

export class DeletionCheckSweepFailedError extends Error {
  override name = 'DeletionCheckSweepFailedError';
  constructor(failed: number) {
    super(`${failed} listed patients failed to sync; the page is read again`);
  }
}
const CONTINUE_DELAY_SECONDS = 1;
/**
 * Circuit breaker: at most this share of the team's live stored patients may be confirmed in one check, and
 * never fewer than the floor (a small clinic deleting a few test patients must not trip it). Real deletions are
 * rare and few; a wrong account or a restricted user makes most patients look missing at once.
 */
export const BREAKER_SHARE = 0.05;
export const BREAKER_FLOOR = 20;

export function breakerLimit(livePatients: number): number {
  return Math.max(BREAKER_FLOOR, Math.floor(livePatients * BREAKER_SHARE));
}

/** The DrChrono account a listing is read with: user id and practice group, as the OAuth callback stores them. */
const AccountSchema = z.object({ userId: z.nullable(z.number()), practiceGroup: z.nullable(z.union([z.number(), z.string()])) });
type Account = z.infer<typeof AccountSchema>;

function accountOf(team: TeamItem): Account {
  return { userId: team.drchronoUserId ?? null, practiceGroup: team.drchronoPracticeGroup ?? null };
}

function sameAccount(a: Account | undefined, b: Account): boolean {
  // A check from before accounts were recorded has none: it is dropped once and started again.
  return a !== undefined && a.userId === b.userId && String(a.practiceGroup) === String(b.practiceGroup);
}

export const DeletionCheckStateSchema = z.looseObject({
  /** The running check, absent when idle. */
  check: z.optional(
    z.object({
      id: z.string(),
      /** ISO UTC: when the listing started. Patients written after it are never candidates. */
      startedAt: z.string(),
      phase: z.enum(['listing', 'confirming']),
      /** listing: the next page's link (null = first page). */
      cursor: z.nullable(z.string()),
      pages: z.number(),
      listed: z.number(),
      /** confirming: candidates are confirmed in id order; the last one done. */
      confirmedThrough: z.optional(z.string()),
      candidates: z.number(),
      deleted: z.number(),
      /** The DrChrono account the listing was read with. */
      account: z.optional(AccountSchema),
    })),
  /** Set while the circuit breaker holds: the last check's candidates were too many to tombstone. */
  blocked: z.optional(z.object({ since: z.string(), candidates: z.number(), livePatients: z.number(), limit: z.number() })),
  /** Operator override, used once: a check may confirm up to this many candidates despite the breaker. */
  allowCandidates: z.optional(z.number().check(z.int(), z.nonnegative())),
  lastCompletedAt: z.optional(z.string()),
  lastListed: z.optional(z.number()),
  lastDeleted: z.optional(z.number()),
});
export type DeletionCheckState = z.infer<typeof DeletionCheckStateSchema>;

export function deletionCheckDue(state: DeletionCheckState, now: Date): boolean {
  if (state.check) return true;
  if (!state.lastCompletedAt) return true;
  return now.getTime() - Date.parse(state.lastCompletedAt) >= DELETION_CHECK_EVERY_HOURS * 3_600_000;
}

function chunkSk(checkId: string, page: number): string {
  return `${CHUNK_PREFIX}${checkId}#${String(page).padStart(6, '0')}`;
}

async function putChunk(ddb: DynamoDBDocumentClient, table: string, teamId: string, checkId: string, page: number, ids: string[], now: Date): Promise<void> {
  // Keyed by page number: a page read twice (a retry) overwrites itself.
  await ddb.send(new PutCommand({ TableName: table, Item: { pk: teamId, sk: chunkSk(checkId, page), ids, expiresAt: Math.floor(now.getTime() / 1000) + CHUNK_TTL_SECONDS } }));
}

/** The ids of a complete listing: one GetItem per page (the backfill function has no Query on the teams table). */
async function listedIds(ddb: DynamoDBDocumentClient, table: string, teamId: string, checkId: string, pages: number): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let page = 0; page < pages; page++) {
    const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: chunkSk(checkId, page) }, ConsistentRead: true }));
    // A chunk gone (expired) would make patients look missing: start the listing again instead.
    if (!out.Item) throw new DeletionCheckChunkMissingError(page);
    for (const id of (out.Item.ids as string[] | undefined) ?? []) ids.add(id);
  }
  return ids;
}

export class DeletionCheckChunkMissingError extends Error {
  override name = 'DeletionCheckChunkMissingError';
  constructor(page: number) {
    super(`listed ids of page ${page} are missing`);
  }
}

/** Live stored patients absent from a complete listing and written before it started, in id order. */
export async function deletionCandidates(deps: Pick<TeamJobDeps, 'ddb' | 'recordsTable'>, teamId: string, listed: ReadonlySet<string>, startedAtMs: number, after?: string): Promise<string[]> {
  return (await scanPatients(deps, teamId, listed, startedAtMs, after)).candidates;
}

/** The candidates and the number of live stored patients (the breaker's base). */
async function scanPatients(deps: Pick<TeamJobDeps, 'ddb' | 'recordsTable'>, teamId: string, listed: ReadonlySet<string>, startedAtMs: number, after?: string): Promise<{ candidates: string[]; live: number }> {
  const out: string[] = [];
  let live = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await listRecordStates(deps.ddb, deps.recordsTable, teamId, 'patient', start);
    for (const r of page.records) {
      if (!r.deleted) live++;
      if (r.deleted || listed.has(r.drchronoId)) continue;
      // Written after the listing began: it may have been created meanwhile; the next check looks again.
      if (r.syncedAtMs === undefined || r.syncedAtMs >= startedAtMs) continue;
      if (after !== undefined && r.drchronoId <= after) continue;
      out.push(r.drchronoId);
    }
    start = page.nextKey;
  } while (start);
  return { candidates: out.sort(), live };
}

export type DeletionCheckDeps = TeamJobDeps & { countMetric?: (name: DeletionCheckMetricName) => void };

export async function runDeletionCheckItem(item: DeletionCheckItem, ctx: WorkContext, deps: DeletionCheckDeps): Promise<WorkResult> {
  const now = clockOf(deps);
  const { teamId } = item;
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (team?.status !== 'connected' || teamLifecycle(team) !== 'active') return { status: 'done' };
  const job = await getBackfillJob(deps.ddb, deps.teamsTable, teamId);
  // A backfill writes patients as it reads them: its records would all be "written after" the listing began.
  if (job && (job.status === 'running' || job.status === 'paused')) return { status: 'done' };
  const progress = await ProgressItem.load(deps.ddb, deps.teamsTable, teamId, DELETION_CHECK_SK, DeletionCheckStateSchema);
  if (!deletionCheckDue(progress.state, now())) return { status: 'done' };

  try {
    const outcome = await runTeamJob(team, ctx, deps, 'deletion check', (run) => check(team, item, ctx, progress, run, deps));
    if (outcome === 'more') return { status: 'defer', delaySeconds: CONTINUE_DELAY_SECONDS };
    return { status: 'done' };
  } catch (err) {
    if (err instanceof LostProgressRace || err instanceof TeamNotConnectedError) return { status: 'done' };
    if (err instanceof InvocationDeadlineExceededError) return { status: 'defer', delaySeconds: CONTINUE_DELAY_SECONDS };
    // The next hourly tick carries on from the state with a fresh budget (no deferred copy piling up per hour).
    if (err instanceof ApiBudgetExhaustedError) return { status: 'done' };
    const pause = pauseFor(err, now());
    if (pause) {
      logger.info('deletion check: deferred', { teamId, reason: pause.reason, delaySeconds: pause.delaySeconds });
      return { status: 'defer', delaySeconds: pause.delaySeconds };
    }
    logger.warn('deletion check: failed', { teamId, ...errorFields(err) });
    return { status: 'retry', error: err };
  }
}

async function check(
  team: TeamItem,
  item: DeletionCheckItem,
  ctx: WorkContext,
  progress: ProgressItem<DeletionCheckState>,
  run: TeamRun,
  deps: DeletionCheckDeps,
): Promise<'more' | 'complete'> {
  const { teamId } = team;
  let state = progress.state;
  const save = async (next: DeletionCheckState) => {
    await progress.commit(next);
    state = next;
  };
  /** A listing read with another account proves nothing about this one: drop it, a new check starts later. */
  const dropIfAccountChanged = async (current: TeamItem | undefined): Promise<boolean> => {
    if (!state.check || (current && sameAccount(state.check.account, accountOf(current)))) return false;
    const { check: dropped, ...rest } = state;
    await save(rest);
    logger.warn('deletion check: DrChrono account changed since the listing started; check dropped', { teamId, checkId: dropped?.id, recorded: dropped?.account !== undefined });
    return true;
  };
  if (await dropIfAccountChanged(team)) return 'more';
  if (!state.check) {
    await save({ ...state, check: { id: item.runAt, startedAt: run.now().toISOString(), phase: 'listing', cursor: null, pages: 0, listed: 0, candidates: 0, deleted: 0, account: accountOf(team) } });
  }

  while (state.check?.phase === 'listing') {
    if (run.signal.aborted) return 'more';
    const c = state.check;
    const sweep = sweepsVerboseFields(run);
    let page: ListPage<Patient>;
    try {
      page = await run.api.patientsPage(sweep ? { pageSize: VERBOSE_PAGE_SIZE, verbose: true } : { pageSize: LIST_PAGE_SIZE }, c.cursor);
    } catch (err) {
      if (!isRefusedCursor(err, c.cursor)) throw err;
      // A listing must be one complete pass: start a new one rather than splice two together.
      const { check: _dropped, ...rest } = state;
      await save(rest);
      logger.warn('deletion check: saved page link refused, starting the listing again', { teamId, ...errorFields(err) });
      return 'more';
    }
    if (sweep) {
      // Every listed patient goes through the order-guarded path: unchanged ones are replays; a flag or insurance
      // change whose webhook DrChrono gave up on (it moves no updated_at, so reconcile's window never sees it)
      // lands here. The page is committed only once all of it is written.
      const r = await importObjects(teamId, 'reconcile', `sweep-${c.id}`, 'patient', page.results, { process: deps.process, now: run.now, signal: run.signal });
      if (r.kind === 'defer') throw new DeferredByWorker(r.delaySeconds, r.entry.errorClass ?? 'Deferred', r.entry.detail ?? 'deferred by the sync path');
      if (run.signal.aborted) return 'more';
      if (r.retryable > 0) throw new DeletionCheckSweepFailedError(r.retryable);
      await writeTeamLog(deps, teamId, r.entries, ctx.groupId, 'deletion-check');
    }
    await putChunk(deps.ddb, deps.teamsTable, teamId, c.id, c.pages, page.results.map((p) => String(p.id)), run.now());
    const listed = c.listed + page.results.length;
    await save({ ...state, check: { ...c, pages: c.pages + 1, listed, cursor: page.next, ...(page.next ? {} : { phase: 'confirming' as const }) } });
  }

  const c = state.check!;
  let listed: Set<string>;
  try {
    listed = await listedIds(deps.ddb, deps.teamsTable, teamId, c.id, c.pages);
  } catch (err) {
    if (!(err instanceof DeletionCheckChunkMissingError)) throw err;
    // Never compare against a partial listing: drop this check; the next run starts a new one.
    const { check: _dropped, ...rest } = state;
    await save(rest);
    logger.warn('deletion check: listing incomplete, restarting', { teamId, ...errorFields(err) });
    return 'more';
  }
  // Re-read before anything is confirmed: a reconnect may have landed during this invocation.
  if (await dropIfAccountChanged(await getTeamItem(deps.ddb, deps.teamsTable, teamId, true))) return 'more';
  const { candidates, live } = await scanPatients(deps, teamId, listed, Date.parse(c.startedAt), c.confirmedThrough);
  const allowed = state.allowCandidates;
  if (c.confirmedThrough === undefined && candidates.length > Math.max(breakerLimit(live), allowed ?? 0)) {
    return blockCheck(teamId, ctx, state, save, run, deps, { candidates: candidates.length, live });
  }
  if (c.confirmedThrough === undefined && state.blocked) {
    // Under the limit (or allowed by an operator): the block clears. The override is used up when the check completes.
    const { blocked: _cleared, ...rest } = state;
    await save(rest);
    logger.info('deletion check: breaker clear', { teamId, candidates: candidates.length, livePatients: live, overridden: allowed !== undefined });
  }
  let deleted = c.deleted;
  let confirmed = c.candidates;
  for (const id of candidates) {
    if (run.signal.aborted) return 'more';
    const sentAt = run.now().toISOString();
    let gone = false;
    try {
      await run.api.getPatient(id);
    } catch (err) {
      // Only DrChrono's 404 proves deletion; budget, 429, 5xx and the rest propagate and are classified.
      if (!(err instanceof DrChronoNotFoundError)) throw err;
      gone = true;
    }
    const entries: IntegrationLogEntry[] = [];
    if (gone) {
      const deliveryId = `deletion-check:${c.id}:patient:${id}`;
      // Also clears "Patient" on its appointments (a deleted patient is never named), order-safe.
      const { outcome, cleared } = await tombstonePatient(deps.ddb, deps.recordsTable, { teamId, patientId: id, observedAt: sentAt, deliveryId, syncedAt: run.now().toISOString(), mapsAppointmentPatient: run.config.fields.appointment.includes('Patient') });
      if (outcome === 'deleted') {
        deleted++;
        const clearedNote = cleared !== undefined ? `; Patient cleared on ${cleared} appointment(s)` : '';
        entries.push({ at: run.now().toISOString(), event: 'DELETION_CHECK_PATIENT', deliveryId, entity: 'patient', drchronoId: id, outcome: 'deleted', detail: `not in DrChrono's patient list and GET answered 404: marked deleted${clearedNote}` });
      }
    }
    confirmed++;
    await save({ ...state, check: { ...c, confirmedThrough: id, candidates: confirmed, deleted } });
    await writeTeamLog(deps, teamId, entries, ctx.groupId, 'deletion check');
  }

  const { check: _done, allowCandidates: _used, ...rest } = state;
  await save({ ...rest, lastCompletedAt: run.now().toISOString(), lastListed: c.listed, lastDeleted: deleted });
  if (deleted > 0) {
    await writeTeamLog(deps, teamId, [teamEntry(run.now(), 'DELETION_CHECK', `deletion-check:${c.id}`, 'info', `deletion check: ${c.listed} patients listed in ${c.pages} pages, ${confirmed} missing confirmed by GET, ${deleted} marked deleted`)], ctx.groupId, 'deletion check');
  }
  logger.info('deletion check: complete', { teamId, listed: c.listed, pages: c.pages, candidates: confirmed, deleted });
  return 'complete';
}

/**
 * Too many candidates: tombstone nothing. The check counts as run (the next is due in a day, with a new listing),
 * `blocked` stays on the state until a check finds fewer candidates, and the alarm metric fires every blocked check.
 */
async function blockCheck(
  teamId: string,
  ctx: WorkContext,
  state: DeletionCheckState,
  save: (next: DeletionCheckState) => Promise<void>,
  run: TeamRun,
  deps: DeletionCheckDeps,
  counts: { candidates: number; live: number },
): Promise<'complete'> {
  const c = state.check!;
  const at = run.now().toISOString();
  const limit = Math.max(breakerLimit(counts.live), state.allowCandidates ?? 0);
  const { check: _blocked, ...rest } = state;
  await save({
    ...rest,
    lastCompletedAt: at,
    lastListed: c.listed,
    lastDeleted: 0,
    blocked: { since: state.blocked?.since ?? at, candidates: counts.candidates, livePatients: counts.live, limit },
  });
  deps.countMetric?.(DELETION_CHECK_BLOCKED_METRIC);
  logger.warn('deletion check: blocked by the circuit breaker, nothing marked deleted', { teamId, metric: DELETION_CHECK_BLOCKED_METRIC, candidates: counts.candidates, livePatients: counts.live, limit, listed: c.listed });
  await writeTeamLog(
    deps,
    teamId,
    [teamEntry(run.now(), 'DELETION_CHECK_BLOCKED', `deletion-check:${c.id}`, 'failed', `deletion check blocked: ${counts.candidates} of ${counts.live} live stored patients missing from DrChrono's list (${c.listed} listed), above the limit of ${limit}; nothing marked deleted. Check the DrChrono account the team is connected with (docs/backfill.md, Deletion check)`)],
    ctx.groupId,
    'deletion check',
  );
  return 'complete';
}
