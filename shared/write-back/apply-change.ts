import { budgetLimitOf, consumeApiBudget } from '../budget/api-budget';
import {
  ApiBudgetExhaustedError,
  DrChronoConflictError,
  DrChronoError,
  DrChronoForbiddenError,
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoUnauthorizedError,
  DrChronoValidationError,
} from '../drchrono/errors';
import type { Appointment, Patient } from '../drchrono/schemas';
import { errorFields, logger } from '../logging/logger';
import { mapAppointment, mapPatient, patientNeedsVerbose, readTeamSyncConfig, type TeamSyncConfig } from '../mapping';
import { writeBackAllowed } from '../oauth/authorize-url';
import { requestTokenRefresh } from '../oauth/refresh-request';
import type { IntegrationLogEntry } from '../store/integration-log';
import { compareVersions, normalizeUpdatedAt, parseVersionKey, recordVersion, versionKey } from '../store/record-version';
import { getRecord, type StoredRecord } from '../store/records';
import { sameValue } from '../sync/fetched-state-covers';
import {
  NOT_CONNECTED_DEFER_SECONDS,
  SECRET_REREAD_MIN_AGE_MS,
  TOKEN_REFRESH_DEFER_SECONDS,
  storeFetchedState,
  type ProcessDeps,
  type SyncDrChronoApi,
} from '../sync/process-ingest-message';
import { getTeamItem, teamLifecycle, type TeamItem } from '../teams/team-store';
import { InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import type { ChangeMessage } from './change';
import { completeChange, getChange, type ChangeItem, type ChangeOutcome } from './change-store';
import { changeProgress, markCreateAttempted, markWriteAttempted, markWritten, mayHaveBeenWritten, recordCreatedId } from './change-progress';
import { RECONNECT_HINT } from './reconnect-hint';

/**
 * One change message → one result: the domain core of the write-back worker (docs/write-back.md "Processing").
 * It reads the team and the change item, checks for a conflict, calls DrChrono (PATCH / POST / DELETE), writes
 * DrChrono's resulting state through the sync worker's order-guarded path, and ends the change item. It never
 * touches SQS: write-back-batch.ts turns the result into FIFO semantics (visibility, batch item failures, log).
 *
 * Nothing here logs values: ids, outcomes and field NAMES only (the payload, Chart IDs and names are PHI).
 */
export type ApplyResult =
  /** The change is final (now, or by an earlier delivery whose log entry is missing): log `entry`, then mark it logged. */
  | { status: 'final'; changeId: string; entry: IntegrationLogEntry; extra: IntegrationLogEntry[] }
  /** Nothing to do or log: a removed team, a change item gone, a final change already logged. */
  | { status: 'done' }
  /** Come back later without losing the group's order: budget, 429, token refresh, team not connected. */
  | { status: 'defer'; delaySeconds: number; entry: IntegrationLogEntry }
  /** A retryable failure (5xx after the client's retries, network, DynamoDB): counted, backed off, bounded. */
  | { status: 'retry'; error: unknown; entry: IntegrationLogEntry };

/** What the worker calls on DrChrono: the sync worker's reads plus the writes. A subset of DrChronoClient. */
export interface WriteBackApi extends SyncDrChronoApi {
  findPatientsByChartId(chartId: string): Promise<Patient[]>;
  findAppointments(o: { date: string; doctor: number; patient?: number | null }): Promise<Appointment[]>;
  createPatient(payload: Record<string, unknown>): Promise<Patient>;
  updatePatient(id: number | string, payload: Record<string, unknown>): Promise<void>;
  createAppointment(payload: Record<string, unknown>): Promise<Appointment>;
  updateAppointment(id: number | string, payload: Record<string, unknown>): Promise<void>;
  deleteAppointment(id: number | string): Promise<void>;
}

export interface ApplyDeps extends Omit<ProcessDeps, 'drchrono'> {
  drchrono: (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) => WriteBackApi;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); no deadline when omitted. */
  remainingMs?: () => number;
}

/**
 * The worker's DrChrono client: a per-request timeout and retries that fit the function's 60 s (the sync default,
 * 10 s × 3 tries + backoff, could take ~38 s per call). Worst case per call: 2 × 8 s + 2 s backoff = 18 s.
 */
export const WRITE_BACK_CALL_TIMEOUT_MS = 8_000;
export const WRITE_BACK_CALL_RETRIES = 1;
export const WRITE_BACK_RETRY_MAX_DELAY_MS = 2_000;
/** No DrChrono request starts with less than this left (a call's worst case plus time to record the outcome). */
export const WRITE_BACK_CALL_RESERVE_MS = 2 * WRITE_BACK_CALL_TIMEOUT_MS + WRITE_BACK_RETRY_MAX_DELAY_MS + 5_000;
/** A change that met the invocation deadline comes back this soon (not counted as a failed attempt). */
export const DEADLINE_DEFER_SECONDS = 1;

const BUDGET_RESET_SPREAD_SECONDS = 60;

export const REASONS = {
  teamDisabled: 'team is disabled',
  writeBackOff: 'write-back is off for this team or its DrChrono authorization lacks the write scopes',
  forbidden: 'DrChrono refused the write: the authorization lacks the write scope or the user lacks the permission',
  refused: 'DrChrono refused the change',
  overlap: 'overlaps an existing appointment (allow overlap: not offered by the write API; choose another time or exam room)',
  createNeeds: 'creating a patient needs Primary Provider and Sex',
  severalPatients: 'several DrChrono patients have this Chart ID',
  noPatient: 'no DrChrono patient has this Chart ID',
  deleted: 'deleted in DrChrono',
  conflict: "DrChrono's copy changed since the base version",
  badBase: 'the base version is not a version of this record',
  noChangeItem: 'change item not found (expired or erased): not applied',
  writtenThenDeleted: 'written, then deleted in DrChrono',
} as const;

/** Write-back needs the team's opt-in AND an authorization that asked for both write scopes (docs/write-back.md). */
export function teamCanWrite(team: TeamItem): boolean {
  return writeBackAllowed({ writeBack: team.writeBack, grantedScopes: team.grantedScopes });
}

export function changeEvent(m: Pick<ChangeMessage, 'entity' | 'op'>): string {
  return `WRITE_BACK_${m.entity.toUpperCase()}_${m.op.toUpperCase()}`;
}

/** DrChrono request field → record field name, to report a 400's field messages by the names the app sent. */
const RECORD_FIELD_OF: Record<'patient' | 'appointment', Record<string, string>> = {
  patient: {
    chart_id: 'Chart ID',
    first_name: 'First Name',
    middle_name: 'Middle Name',
    last_name: 'Last Name',
    date_of_birth: 'Date of Birth',
    gender: 'Sex',
    social_security_number: 'Patient SSN',
    preferred_language: 'Language',
    patient_status: 'Status',
    home_phone: 'Home Phone',
    cell_phone: 'Cell Phone',
    email: 'Email',
    disable_sms_messages: 'Disable SMS/Txt',
    address: 'Address',
    city: 'Address',
    state: 'Address',
    zip_code: 'Address',
    emergency_contact_name: 'Emergency Contact Name',
    emergency_contact_phone: 'Emergency Contact Phone',
    emergency_contact_relation: 'Emergency Contact Relation',
    doctor: 'Primary Provider',
    responsible_party_name: 'Responsible Party Name',
    responsible_party_relation: 'Responsible Party Relation',
    responsible_party_email: 'Responsible Party Email',
    responsible_party_phone: 'Responsible Party Phone',
  },
  appointment: {
    patient: 'Patient',
    doctor: 'Provider',
    profile: 'Appt Profile',
    status: 'Appt Status',
    scheduled_time: 'Date of Service',
    reason: 'Reason',
    duration: 'Duration',
    office: 'Office',
    exam_room: 'Exam Room',
  },
};

/** A 400's messages by record field name where one is known (DrChrono's name otherwise); messages merge. */
export function recordFieldErrors(entity: 'patient' | 'appointment', fieldErrors: Record<string, string[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [field, messages] of Object.entries(fieldErrors)) {
    const name = RECORD_FIELD_OF[entity][field.split('.')[0]!] ?? field;
    (out[name] ??= []).push(...messages);
  }
  return out;
}

interface Ctx {
  msg: ChangeMessage;
  team: TeamItem;
  config: TeamSyncConfig;
  change: ChangeItem;
  client: WriteBackApi;
  deps: ApplyDeps;
  now: () => Date;
  /** Log entries for referenced objects written on the way. */
  extra: IntegrationLogEntry[];
  /**
   * Set when the team may not write any more (disabled, write-back off) but an earlier delivery may already have
   * written this change: it is finished (read back, adopted) and only a NEW write is refused with this outcome.
   */
  refusal?: ChangeOutcome;
}

/** Stops perform() before a new DrChrono write: the team may no longer write (Ctx.refusal). */
class WriteRefused extends Error {
  constructor(readonly outcome: ChangeOutcome) {
    super('write refused');
  }
}

export async function applyChange(msg: ChangeMessage, deps: ApplyDeps): Promise<ApplyResult> {
  const now = deps.now ?? (() => new Date());
  const ids = { teamId: msg.teamId, changeId: msg.changeId };
  const base = (): IntegrationLogEntry => ({
    at: now().toISOString(),
    event: changeEvent(msg),
    direction: 'outbound',
    changeId: msg.changeId,
    entity: msg.entity,
    ...(msg.key !== null ? { key: msg.key } : {}),
    ...(msg.drchronoId !== null ? { drchronoId: msg.drchronoId } : {}),
    outcome: 'info',
  });
  try {
    // Strongly consistent: `team write-back off`, `team disable` and removal apply to the next change at once.
    const team = await getTeamItem(deps.ddb, deps.teamsTable, msg.teamId, true);
    const lifecycle = teamLifecycle(team);
    if (!team || lifecycle === 'removing' || lifecycle === 'removed') {
      // The team's items (this change's included) are erased or being erased: nothing may be written for it.
      logger.info('write-back: change of a removed team dropped', ids);
      return { status: 'done' };
    }
    const change = await getChange(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId);
    if (!change) {
      logger.warn('write-back: change item not found; not applied', ids);
      return { status: 'final', changeId: msg.changeId, entry: { ...base(), outcome: 'failed', detail: REASONS.noChangeItem }, extra: [] };
    }
    if (change.status !== 'pending') {
      // Applied (or refused) by an earlier delivery: never again. Its log entry, if that delivery could not write it.
      if (changeProgress(change).loggedAt) return { status: 'done' };
      return { status: 'final', changeId: msg.changeId, entry: entryOfChange(change, base()), extra: [] };
    }
    const finish = (outcome: ChangeOutcome, extra: IntegrationLogEntry[] = []) => complete(msg, outcome, base(), deps, now, extra);
    const refusal: ChangeOutcome | undefined =
      lifecycle === 'disabled'
        ? { status: 'rejected', reason: REASONS.teamDisabled }
        : !teamCanWrite(team)
          ? { status: 'rejected', reason: `${REASONS.writeBackOff}; ${RECONNECT_HINT(msg.teamId)}` }
          : undefined;
    // A change an earlier delivery may have written is finished first: `rejected` would tell the app it was not applied.
    if (refusal && !mayHaveBeenWritten(changeProgress(change))) return await finish(refusal);
    const config = readTeamSyncConfig(team);

    let secret = await deps.secrets.get(msg.teamId);
    if (team.status === 'connected' && !secret?.accessToken) secret = await deps.secrets.refresh(msg.teamId, SECRET_REREAD_MIN_AGE_MS);
    else if (secret && (secret.tokenVersion ?? 0) < (team.tokenVersion ?? 0)) secret = await deps.secrets.refresh(msg.teamId, SECRET_REREAD_MIN_AGE_MS);
    if (team.status !== 'connected' || !secret?.accessToken) {
      return {
        status: 'defer',
        delaySeconds: NOT_CONNECTED_DEFER_SECONDS,
        entry: { ...base(), outcome: 'deferred', errorClass: 'TeamNotConnected', errorMessage: `team status is ${team.status}`, detail: 'waiting for the team to connect' },
      };
    }

    const limit = budgetLimitOf(team);
    const run = async (token: string): Promise<ApplyResult> => {
      const client = deps.drchrono({
        accessToken: async () => token,
        beforeCall: async () => {
          // A call that may not finish before Lambda's timeout is not started: a timeout would lose the whole batch.
          if (deps.remainingMs && deps.remainingMs() < WRITE_BACK_CALL_RESERVE_MS) throw new InvocationDeadlineExceededError();
          await consumeApiBudget(deps.ddb, deps.teamsTable, msg.teamId, { limit, priority: 'write-back', now: now() });
        },
      });
      const ctx: Ctx = { msg, team, config, change, client, deps, now, extra: [], ...(refusal ? { refusal } : {}) };
      const outcome = await perform(ctx);
      return finish(outcome, ctx.extra);
    };
    try {
      return await run(secret.accessToken);
    } catch (err) {
      if (!(err instanceof DrChronoUnauthorizedError)) throw err;
      // As the sync worker: the token may have been refreshed meanwhile; re-read once, else ask the refresher.
      let rejectedTokenVersion = secret.tokenVersion;
      try {
        const fresh = await deps.secrets.refresh(msg.teamId, SECRET_REREAD_MIN_AGE_MS);
        if (fresh?.accessToken && fresh.accessToken !== secret.accessToken) {
          rejectedTokenVersion = fresh.tokenVersion;
          return await run(fresh.accessToken);
        }
        if (fresh?.accessToken !== undefined && fresh.tokenVersion !== undefined) rejectedTokenVersion = fresh.tokenVersion;
      } catch (err2) {
        if (!(err2 instanceof DrChronoUnauthorizedError)) throw err2;
      }
      await requestTokenRefresh(deps.ddb, deps.teamsTable, msg.teamId, 'write-back: DrChrono answered 401', now(), rejectedTokenVersion);
      return { status: 'defer', delaySeconds: TOKEN_REFRESH_DEFER_SECONDS, entry: { ...base(), outcome: 'deferred', ...errorFields(err), detail: 'token refresh requested' } };
    }
  } catch (err) {
    return classify(err, base(), now());
  }
}

function classify(err: unknown, entry: IntegrationLogEntry, now: Date): ApplyResult {
  if (err instanceof InvocationDeadlineExceededError) {
    // Its marks (writeAttemptedAt, writtenAt, createdId) make the next delivery finish it without writing twice.
    return { status: 'defer', delaySeconds: DEADLINE_DEFER_SECONDS, entry: { ...entry, outcome: 'deferred', ...errorFields(err), detail: 'invocation deadline' } };
  }
  if (err instanceof ApiBudgetExhaustedError) {
    const wait = Math.ceil((err.resetAt.getTime() - now.getTime()) / 1000) + Math.floor(Math.random() * BUDGET_RESET_SPREAD_SECONDS);
    return { status: 'defer', delaySeconds: Math.max(1, wait), entry: { ...entry, outcome: 'deferred', ...errorFields(err), detail: 'team API budget exhausted' } };
  }
  if (err instanceof DrChronoRateLimitedError) {
    return { status: 'defer', delaySeconds: Math.max(1, err.retryAfterSeconds), entry: { ...entry, outcome: 'deferred', ...errorFields(err), detail: 'DrChrono rate limit' } };
  }
  return { status: 'retry', error: err, entry: { ...entry, outcome: 'failed', ...errorFields(err) } };
}

/** Ends the change (the first final outcome wins) and builds its log entry from what the change item now says. */
async function complete(
  msg: ChangeMessage,
  outcome: ChangeOutcome,
  base: IntegrationLogEntry,
  deps: ApplyDeps,
  now: () => Date,
  extra: IntegrationLogEntry[],
): Promise<ApplyResult> {
  const set = await completeChange(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId, outcome, now());
  if (set) return { status: 'final', changeId: msg.changeId, entry: entryOfOutcome(outcome, msg.fieldsWritten, base), extra };
  // Ended by someone else meanwhile (or erased): the stored outcome stands and is what gets logged.
  const stored = await getChange(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId);
  if (!stored) return { status: 'done' };
  if (changeProgress(stored).loggedAt) return { status: 'done' };
  return { status: 'final', changeId: msg.changeId, entry: entryOfChange(stored, base), extra };
}

function entryOfOutcome(o: ChangeOutcome, fieldsWritten: string[], base: IntegrationLogEntry): IntegrationLogEntry {
  const fieldNames = o.fieldErrors ? Object.keys(o.fieldErrors) : [];
  const detail = [o.reason, fieldNames.length > 0 ? `fields: ${fieldNames.join(', ')}` : undefined, o.currentVersion ? `version ${o.currentVersion}` : undefined]
    .filter(Boolean)
    .join('; ');
  return {
    ...base,
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.drchronoId !== undefined ? { drchronoId: o.drchronoId } : {}),
    outcome: o.status,
    fieldsWritten: o.status === 'applied' ? fieldsWritten : [],
    ...(detail ? { detail } : {}),
  };
}

function entryOfChange(c: ChangeItem, base: IntegrationLogEntry): IntegrationLogEntry {
  const o: ChangeOutcome = {
    status: c.status === 'pending' ? 'failed' : c.status,
    ...(c.key ? { key: c.key } : {}),
    ...(c.drchronoId ? { drchronoId: c.drchronoId } : {}),
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.fieldErrors ? { fieldErrors: c.fieldErrors } : {}),
    ...(c.currentVersion ? { currentVersion: c.currentVersion } : {}),
  };
  return entryOfOutcome(o, c.fieldsWritten, base);
}

/** The DrChrono side of one change. Refusals become outcomes; everything else propagates to classify(). */
async function perform(ctx: Ctx): Promise<ChangeOutcome> {
  try {
    if (ctx.msg.entity === 'patient') return await performPatient(ctx);
    return await performAppointment(ctx);
  } catch (err) {
    const { entity, teamId } = ctx.msg;
    if (err instanceof DrChronoValidationError) return { status: 'rejected', reason: REASONS.refused, fieldErrors: recordFieldErrors(entity, err.fieldErrors) };
    if (err instanceof DrChronoConflictError) return { status: 'rejected', reason: REASONS.overlap };
    if (err instanceof DrChronoForbiddenError) return { status: 'rejected', reason: `${REASONS.forbidden}; ${RECONNECT_HINT(teamId)}` };
    if (err instanceof WriteRefused) return err.outcome;
    // Any other 4xx (405, 413, 422, …) is an answer about this change that no retry changes. 401, 429 and 404 are
    // handled where they occur (token refresh, deferral, deleted).
    if (err instanceof DrChronoError && isFinalClientError(err.status)) {
      return { status: 'rejected', reason: `${REASONS.refused} (HTTP ${err.status})` };
    }
    throw err;
  }
}

/** 4xx answers that end a change as `rejected` (401 → token refresh, 404 → deleted, 429 → deferral, elsewhere). */
function isFinalClientError(status: number | undefined): status is number {
  return status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 404 && status !== 429;
}

/** Before a NEW DrChrono write: refused when the team may not write; the attempt mark set (docs: "Processing"). */
async function beforeWrite(ctx: Ctx): Promise<void> {
  if (ctx.refusal) throw new WriteRefused(ctx.refusal);
  const at = ctx.now();
  if (!(await markWriteAttempted(ctx.deps.ddb, ctx.deps.teamsTable, ctx.msg.teamId, ctx.msg.changeId, at))) throw new Error('change is no longer pending');
  // The same change object serves a re-run with a refreshed token: it must see its own marks.
  ctx.change.writeAttemptedAt = at.toISOString();
}

/** DrChrono answered 2xx to the write: a redelivery only reads back from now on. */
async function afterWrite(ctx: Ctx): Promise<void> {
  const at = ctx.now();
  if (!(await markWritten(ctx.deps.ddb, ctx.deps.teamsTable, ctx.msg.teamId, ctx.msg.changeId, at))) throw new Error('change is no longer pending');
  ctx.change.writtenAt = at.toISOString();
}

async function performPatient(ctx: Ctx): Promise<ChangeOutcome> {
  const { msg, client } = ctx;
  const progress = changeProgress(ctx.change);
  let id = progress.createdId ?? msg.drchronoId ?? undefined;
  if (id === undefined && msg.key !== null) {
    // Not synced yet (or the API did not know it): DrChrono's own Chart ID filter. A redelivered upsert whose create
    // went through finds the patient it created here. DrChrono's chart_id filter is not an exact match (it has
    // returned longer Chart IDs that contain the key), so only exact matches count.
    const key = msg.key;
    const found = (await client.findPatientsByChartId(key)).filter((p) => p.chart_id === key);
    if (found.length > 1) return { status: 'rejected', reason: REASONS.severalPatients };
    if (found.length === 1) id = String(found[0]!.id);
  }
  if (id === undefined) {
    if (msg.op !== 'upsert' || msg.key === null) return { status: 'rejected', reason: REASONS.noPatient };
    if (msg.payload.doctor === undefined || msg.payload.doctor === null || !msg.payload.gender) return { status: 'rejected', reason: REASONS.createNeeds };
    await beforeWrite(ctx);
    const sentAt = ctx.now().toISOString();
    const created = await client.createPatient({ ...msg.payload, chart_id: msg.key });
    await recordCreatedId(ctx.deps.ddb, ctx.deps.teamsTable, msg.teamId, msg.changeId, String(created.id));
    ctx.change.createdId = String(created.id);
    await afterWrite(ctx);
    return applied(ctx, 'patient', created, sentAt);
  }
  const patientId = id;
  return writeOnce(ctx, 'patient', patientId, () => client.updatePatient(patientId, msg.payload));
}

/** DrChrono's current copy; undefined when it is gone (404). */
async function currentState(ctx: Ctx, entity: 'patient' | 'appointment', id: string): Promise<(Record<string, unknown> & { id: number | string }) | undefined> {
  try {
    return entity === 'patient' ? await ctx.client.getPatient(id, { verbose: patientNeedsVerbose({}, ctx.config) }) : await ctx.client.getAppointment(id);
  } catch (err) {
    if (err instanceof DrChronoNotFoundError) return undefined;
    throw err;
  }
}

/**
 * A PATCH applied at most once across redeliveries (docs/write-back.md "Processing"): `writtenAt` → only read back;
 * `writeAttemptedAt` alone (the write may have reached DrChrono) → DrChrono's copy already holding every payload
 * value counts as written, before the conflict check (which would take our own write for someone else's).
 */
async function writeOnce(ctx: Ctx, entity: 'patient' | 'appointment', id: string, send: () => Promise<void>): Promise<ChangeOutcome> {
  const progress = changeProgress(ctx.change);
  let written = Boolean(progress.writtenAt);
  if (!written && progress.writeAttemptedAt) {
    const current = await currentState(ctx, entity, id);
    if (current && holdsPayload(current, ctx.msg.payload)) {
      await afterWrite(ctx);
      written = true;
    }
  }
  if (!written) {
    const conflict = await checkConflict(ctx, entity, id);
    if (conflict) return conflict;
    await beforeWrite(ctx);
    try {
      await send();
    } catch (err) {
      if (err instanceof DrChronoNotFoundError) return { status: 'rejected', reason: REASONS.deleted, drchronoId: id };
      throw err;
    }
    await afterWrite(ctx);
  }
  // PATCH answers 204 without a body: DrChrono's state is read back (sent after the PATCH, so it includes it).
  const sentAt = ctx.now().toISOString();
  const current = await currentState(ctx, entity, id);
  if (!current) return { status: 'applied', drchronoId: id, ...(entity === 'appointment' ? { key: id } : {}), reason: REASONS.writtenThenDeleted };
  return applied(ctx, entity, current, sentAt);
}

/** Every payload field has the sent value in DrChrono's copy (dates compared normalized, empty = null). */
export function holdsPayload(current: Record<string, unknown>, payload: Record<string, unknown>): boolean {
  const empty = (v: unknown) => v === null || v === undefined || v === '';
  return Object.entries(payload).every(([field, sent]) => {
    const held = current[field];
    if (empty(sent) || empty(held)) return empty(sent) && empty(held);
    if (typeof sent === 'object' || typeof held === 'object') return JSON.stringify(sent) === JSON.stringify(held);
    if (typeof sent === 'string' && typeof held === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(sent)) return normalizeUpdatedAt(sent) === normalizeUpdatedAt(held);
    return String(sent) === String(held);
  });
}

async function performAppointment(ctx: Ctx): Promise<ChangeOutcome> {
  const { msg, client, deps } = ctx;
  if (msg.op === 'create') return createAppointment(ctx);
  const id = msg.drchronoId ?? msg.key;
  if (id === null) return { status: 'rejected', reason: REASONS.deleted };
  if (msg.op === 'delete') {
    // A DELETE sent before (writeAttemptedAt / writtenAt) is not checked for a conflict again: its own effect
    // (the appointment gone) would read as a change made by someone else.
    const progress = changeProgress(ctx.change);
    if (!progress.writeAttemptedAt) {
      const conflict = await checkConflict(ctx, 'appointment', id);
      if (conflict) return conflict;
      await beforeWrite(ctx);
    } else if (ctx.refusal && !progress.writtenAt) {
      // The team may no longer write: finished only when the earlier DELETE reached DrChrono, never sent again.
      const current = await currentState(ctx, 'appointment', id);
      if (current && current.deleted_flag !== true) return ctx.refusal;
    }
    const sentAt = ctx.now().toISOString();
    try {
      await client.deleteAppointment(id);
    } catch (err) {
      // Already gone (deleted in DrChrono, or our own DELETE of an earlier delivery): the goal is reached.
      if (!(err instanceof DrChronoNotFoundError)) throw err;
    }
    await afterWrite(ctx);
    const stored = await storeFetchedState(
      { teamId: msg.teamId, entity: 'appointment', obj: { id }, observedAt: sentAt, deliveryId: msg.changeId, event: changeEvent(msg), deleted: true },
      ctx.config,
      client,
      deps,
    );
    ctx.extra.push(...stored.entries);
    return { status: 'applied', drchronoId: id, key: id, currentVersion: await heldVersion(ctx, 'appointment', id, versionKey(stored.record.version)) };
  }
  return writeOnce(ctx, 'appointment', id, () => client.updateAppointment(id, msg.payload));
}

/**
 * An appointment create must not be applied twice. `createAttemptedAt` is set BEFORE the POST and `createdId` right
 * after it: a redelivery with the id adopts it; one with only the attempt mark (the POST may have reached DrChrono:
 * a crash, a timeout, a 5xx after DrChrono stored it) looks for the appointment (same doctor, patient and start)
 * and adopts it, and POSTs only when none exists.
 */
async function createAppointment(ctx: Ctx): Promise<ChangeOutcome> {
  const { msg, client, deps } = ctx;
  const progress = changeProgress(ctx.change);
  if (progress.createdId) {
    const sentAt = ctx.now().toISOString();
    try {
      return await applied(ctx, 'appointment', await client.getAppointment(progress.createdId), sentAt);
    } catch (err) {
      if (err instanceof DrChronoNotFoundError) return { status: 'applied', drchronoId: progress.createdId, key: progress.createdId, reason: 'created, then deleted in DrChrono' };
      throw err;
    }
  }
  if (progress.createAttemptedAt) {
    const match = await findCreated(ctx);
    if (match) {
      await recordCreatedId(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId, match.id);
      logger.info('write-back: appointment create adopted after an interrupted attempt', { teamId: msg.teamId, changeId: msg.changeId, drchronoId: match.id });
      return applied(ctx, 'appointment', match, ctx.now().toISOString());
    }
  }
  if (ctx.refusal) throw new WriteRefused(ctx.refusal);
  if (!(await markCreateAttempted(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId, ctx.now()))) {
    throw new Error('change is no longer pending');
  }
  const sentAt = ctx.now().toISOString();
  const created = await client.createAppointment(msg.payload);
  await recordCreatedId(deps.ddb, deps.teamsTable, msg.teamId, msg.changeId, created.id);
  return applied(ctx, 'appointment', created, sentAt);
}

async function findCreated(ctx: Ctx): Promise<Appointment | undefined> {
  const p = ctx.msg.payload;
  const start = typeof p.scheduled_time === 'string' ? normalizeUpdatedAt(p.scheduled_time) : null;
  const doctor = typeof p.doctor === 'number' ? p.doctor : Number(p.doctor);
  if (start === null || !Number.isInteger(doctor)) return undefined;
  const patient = typeof p.patient === 'number' ? p.patient : p.patient === null || p.patient === undefined ? null : Number(p.patient);
  const candidates = await ctx.client.findAppointments({ date: start.slice(0, 10), doctor, patient });
  // Every sent field must match, not only doctor, patient and start: a booking the clinic made itself for the same
  // slot is not taken for ours unless it is identical in all we sent (office, exam room, profile, reason, ...).
  return candidates.find(
    (a) =>
      a.deleted_flag !== true &&
      a.doctor === doctor &&
      (patient === null || a.patient === patient) &&
      normalizeUpdatedAt(a.scheduled_time) === start &&
      holdsPayload(a as Record<string, unknown>, p),
  );
}

/**
 * §4: with a base version, DrChrono's current copy is read first. A conflict when its updated_at is later than the
 * base's, or when the stored record already holds a version that supersedes the base (a change the app has not
 * seen). Nothing is written then. DrChrono has no If-Match: between this GET and the PATCH another writer could
 * still change the object (a window of one request, well under a second); the PATCH then wins for the fields it
 * sends (last writer wins, as without a base version), and the echo of both changes reaches the records in order.
 * undefined: no conflict, go on.
 */
async function checkConflict(ctx: Ctx, entity: 'patient' | 'appointment', id: string): Promise<ChangeOutcome | undefined> {
  const { msg, client, deps } = ctx;
  if (msg.baseVersion === null) return undefined;
  const base = parseVersionKey(msg.baseVersion);
  if (!base) return { status: 'rejected', reason: REASONS.badBase, drchronoId: id };
  const sentAt = ctx.now().toISOString();
  let current: Record<string, unknown> & { updated_at?: string | null };
  try {
    current = entity === 'patient' ? await client.getPatient(id, { verbose: patientNeedsVerbose({}, ctx.config) }) : await client.getAppointment(id);
  } catch (err) {
    if (!(err instanceof DrChronoNotFoundError)) throw err;
    // A delete of an appointment already gone goes on: its DELETE answers 404 too, and the record gets its tombstone.
    if (msg.op === 'delete') return undefined;
    return { status: 'rejected', reason: REASONS.deleted, drchronoId: id };
  }
  const drchrono = recordVersion(current.updated_at, sentAt, 'fetched');
  if (drchrono.updatedAt !== null && base.updatedAt !== null && drchrono.updatedAt > base.updatedAt) {
    return { status: 'conflict', reason: REASONS.conflict, drchronoId: id, currentVersion: versionKey(drchrono) };
  }
  const stored = await getRecord(deps.ddb, deps.recordsTable, msg.teamId, entity, id, { consistent: true });
  const storedVersion = stored ? parseVersionKey(stored.version) : undefined;
  // The same updated_at can hold two states (DrChrono's one-second precision; the order guard calls it a tie): when the
  // record holds a state of the base's second and DrChrono's copy differs from it, another writer changed it since.
  if (
    stored && !stored.deleted && storedVersion?.updatedAt === base.updatedAt && drchrono.updatedAt === base.updatedAt &&
    differsFromStored(entity, current, stored, ctx.config, sentAt)
  ) {
    return { status: 'conflict', reason: REASONS.conflict, drchronoId: id, currentVersion: versionKey(drchrono) };
  }
  if (stored && storedVersion && compareVersions(storedVersion, base) > 0 && stored.version !== msg.baseVersion) {
    // Only a newer updated_at counts: a later fetch of the same state (the same updated_at) is no change the app missed.
    if (storedVersion.updatedAt !== base.updatedAt || storedVersion.deletion) {
      return { status: 'conflict', reason: REASONS.conflict, drchronoId: id, currentVersion: stored.version };
    }
  }
  return undefined;
}

/**
 * Fields whose value needs a lookup (the patient's Chart ID, profile and flag names) are left out: mapped without
 * their lists they read empty, which is no change. Everything else DrChrono holds is compared with the record.
 */
const LOOKUP_FIELDS = new Set(['Patient', 'Appt Profile', 'Patient Flags', 'Patient Flags and Descriptions']);

function differsFromStored(entity: 'patient' | 'appointment', obj: Record<string, unknown>, stored: StoredRecord, config: TeamSyncConfig, observedAt: string): boolean {
  const ctx = { config, profileNames: new Map<number, string>(), flagTypeNames: new Map<number, string>(), observedAt, authority: 'fetched' as const };
  let mapped;
  try {
    mapped = entity === 'patient' ? mapPatient(obj, ctx) : mapAppointment(obj, ctx);
  } catch {
    return false; // unmappable: the write goes on and its read-back is logged as any other
  }
  return mapped.fieldsWritten.some((f) => !LOOKUP_FIELDS.has(f) && !sameValue(mapped.fields[f] ?? null, stored.fields[f] ?? null));
}

/** A successful write: DrChrono's resulting state into the records (order-guarded), the change applied. */
async function applied(ctx: Ctx, entity: 'patient' | 'appointment', obj: Record<string, unknown> & { id: number | string }, sentAt: string): Promise<ChangeOutcome> {
  const { msg, client, deps } = ctx;
  const stored = await storeFetchedState(
    { teamId: msg.teamId, entity, obj, observedAt: sentAt, deliveryId: msg.changeId, event: changeEvent(msg) },
    ctx.config,
    client,
    deps,
  );
  ctx.extra.push(...stored.entries);
  const drchronoId = String(obj.id);
  const key = entity === 'appointment' ? drchronoId : stored.record.key || msg.key || undefined;
  logger.info('write-back: DrChrono state stored', { teamId: msg.teamId, changeId: msg.changeId, entity, drchronoId, outcome: stored.outcome });
  return {
    status: 'applied',
    drchronoId,
    ...(key ? { key } : {}),
    currentVersion: await heldVersion(ctx, entity, drchronoId, versionKey(stored.record.version)),
  };
}

/** The version the record holds now (ours, or a newer one a delivery wrote meanwhile). */
async function heldVersion(ctx: Ctx, entity: 'patient' | 'appointment', drchronoId: string, fallback: string): Promise<string> {
  const rec = await getRecord(ctx.deps.ddb, ctx.deps.recordsTable, ctx.msg.teamId, entity, drchronoId, { consistent: true });
  return rec?.version ?? fallback;
}
