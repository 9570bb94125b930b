import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { consumeApiBudget, budgetLimitOf } from '../budget/api-budget';
import type { Appointment, AppointmentProfile, Doctor, Patient, PatientFlagType } from '../drchrono/schemas';
import {
  ApiBudgetExhaustedError,
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoUnauthorizedError,
} from '../drchrono/errors';
import { isPatientFlagEvent, isSyncedEvent, type IngestMessage } from '../ingest/ingest-message';
import { errorFields, logger } from '../logging/logger';
import {
  APPOINTMENT_DELETE_EVENT,
  flagEventPatientId,
  mapAppointment,
  mapsPatientFlags,
  mapEmployee,
  mapPatient,
  needsProfileNames,
  patientNeedsVerbose,
  readTeamSyncConfig,
  referencedDoctorIds,
  unresolvedFlagTypeIds,
  type MappedRecord,
  type MappingContext,
  type TeamSyncConfig,
} from '../mapping';
import { requestTokenRefresh } from '../oauth/refresh-request';
import type { IntegrationLogEntry } from '../store/integration-log';
import type { WriteOutcome } from '../store/record-version';
import { chartFanOutPending, fanOutPatientChartId, readPatientReference, settleAppointmentPatient, tombstonePatient } from '../store/patient-references';
import { getRecord, getRecordState, patientTombstone, writeRecord, writeRecordReportingPrevious, type PreviousRecordState } from '../store/records';
import { teamLifecycle, type TeamItem } from '../teams/team-store';
import { fetchedStateCovers } from './fetched-state-covers';
import { LazyTeamToken, NoTeamTokenError, SECRET_REREAD_MIN_AGE_MS, type TeamSecretSource } from './team-token';

export { SECRET_REREAD_MIN_AGE_MS } from './team-token';
import type { SyncContextCache } from './sync-context';

/**
 * One ingest message → one outcome. The domain core of the sync worker: decides what to fetch from DrChrono
 * (only what the team's fields need), maps, writes the record under its order guard, and classifies every
 * failure as done / defer / retry. It never touches SQS; sync-batch.ts turns the result into SQS semantics.
 */
export type ProcessResult =
  /** Acknowledge. entries: the delivery's entry, plus one per referenced doctor fetched on the way. */
  | { status: 'done'; entries: IntegrationLogEntry[] }
  /** Come back later (budget, 429, token being refreshed, team not connected). Not a failure. */
  | { status: 'defer'; delaySeconds: number; entry: IntegrationLogEntry }
  /** Fail this receive; SQS retries and moves the message to the DLQ after maxReceiveCount. */
  | { status: 'retry'; entry: IntegrationLogEntry; error: unknown };

/** What the worker calls on DrChrono: a subset of DrChronoClient. */
export interface SyncDrChronoApi {
  getPatient(id: number | string, o?: { verbose?: boolean }): Promise<Patient>;
  getAppointment(id: number | string, o?: { verbose?: boolean }): Promise<Appointment>;
  getDoctor(id: number | string): Promise<Doctor>;
  listAppointmentProfiles(): AsyncIterable<AppointmentProfile>;
  listPatientFlagTypes(): AsyncIterable<PatientFlagType>;
}

export interface ProcessDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  recordsTable: string;
  /** Read only when a message is about to call DrChrono (team-token.ts). */
  secrets: TeamSecretSource;
  context: SyncContextCache;
  /** Builds a DrChrono client; the worker supplies the token source and the budget hook. */
  drchrono: (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) => SyncDrChronoApi;
  now?: () => Date;
}

/** After a 401 that a re-read secret did not fix: the refresher runs every 15 min and on request. */
export const TOKEN_REFRESH_DEFER_SECONDS = 5 * 60;
/** A team that is registered but not (or no longer) connected: wait for the customer to (re)authorise. */
export const NOT_CONNECTED_DEFER_SECONDS = 60 * 60;
/** Ties resolved by fetching per delivery; more means other same-second states keep landing meanwhile. */
export const MAX_TIE_FETCHES = 2;

/** A PATIENT_FLAG_* object that names no patient (DrChrono does not document it): fails into the DLQ, logged. */
export class FlagEventObjectError extends Error {
  override name = 'FlagEventObjectError';
  constructor() {
    super('patient flag event object names no patient (no "patient" reference, not a patient object)');
  }
}

/** Budget deferrals land a little after the top of the hour, spread so deferred messages do not stampede. */
const BUDGET_RESET_SPREAD_SECONDS = 60;

export type Entity = 'patient' | 'appointment';

function entityOf(event: string): Entity | undefined {
  if (event.startsWith('PATIENT_')) return 'patient';
  if (event.startsWith('APPOINTMENT_')) return 'appointment';
  return undefined;
}

export async function processIngestMessage(msg: IngestMessage, deps: ProcessDeps): Promise<ProcessResult> {
  const now = deps.now ?? (() => new Date());
  const entity = entityOf(msg.event);
  // A flag event's object is the flag: its entries name the flag's patient (the record it is about).
  const drchronoId = (isPatientFlagEvent(msg.event) ? flagEventPatientId(msg.object) : undefined) ?? String(msg.object.id);
  const base = (): IntegrationLogEntry => ({
    at: now().toISOString(),
    event: msg.event,
    deliveryId: msg.deliveryId,
    ...(entity ? { entity } : {}),
    drchronoId,
    outcome: 'info',
  });

  if (!isSyncedEvent(msg.event) || !entity) return done({ ...base(), outcome: 'ignored', detail: 'event is not synced' });

  const team = await deps.context.team(msg.teamId);
  if (!team) return done({ ...base(), outcome: 'ignored', detail: 'unknown team' });
  const lifecycle = teamLifecycle(team);
  if (lifecycle === 'removing' || lifecycle === 'removed') {
    // Nothing may be written for a removed team, its integration log included: the delivery is dropped, by id only.
    logger.info('sync: work of a removed team dropped', { teamId: msg.teamId, deliveryId: msg.deliveryId, event: msg.event });
    return { status: 'done', entries: [] };
  }
  // Checked here, not only at the webhook, so work queued before `team disable` is not applied either.
  if (lifecycle === 'disabled') return done({ ...base(), outcome: 'ignored', detail: 'team is disabled' });

  let config: TeamSyncConfig;
  try {
    config = readTeamSyncConfig(team);
  } catch (err) {
    return { status: 'retry', entry: { ...base(), outcome: 'failed', ...errorFields(err) }, error: err };
  }

  // Decided from the team item: a team that is not connected gets nothing written, call or no call.
  if (team.status !== 'connected') return deferNotConnected(base(), team);

  // The secret is read only when the message is about to call DrChrono (team-token.ts): most deliveries need no call.
  const token = LazyTeamToken.lazy(msg.teamId, team, deps.secrets);
  const attempt = (t: LazyTeamToken) => syncObject(msg, entity, team, config, t, deps, now);
  try {
    return await attempt(token);
  } catch (err) {
    if (err instanceof NoTeamTokenError) return deferNotConnected(base(), team, writtenBefore(err));
    const secret = token.secret;
    if (!(err instanceof DrChronoUnauthorizedError) || !secret) return sayWrittenBefore(classify(err, base(), now()), err);
    // The token may have been refreshed by the refresher since we cached it: re-read once, retry once.
    // Track which token version DrChrono rejected last, so the refresher can ignore a request about a token
    // it has already replaced.
    let rejectedTokenVersion = secret.tokenVersion;
    try {
      const fresh = await deps.secrets.refresh(msg.teamId, SECRET_REREAD_MIN_AGE_MS);
      const freshToken = fresh?.accessToken;
      const rotated = fresh !== null && freshToken !== undefined && freshToken !== secret.accessToken;
      logger.info('sync: DrChrono answered 401, team secret re-read', { teamId: msg.teamId, deliveryId: msg.deliveryId, rotated });
      if (rotated) {
        rejectedTokenVersion = fresh.tokenVersion;
        return await attempt(LazyTeamToken.of(msg.teamId, team, deps.secrets, { ...fresh, accessToken: freshToken }));
      }
      // Same token under a newer version (an operator's secret write claims one without changing tokens): name the
      // version the refresher now sees, or it would take the request for one about a token it already replaced.
      if (freshToken !== undefined && fresh?.tokenVersion !== undefined) rejectedTokenVersion = fresh.tokenVersion;
    } catch (err2) {
      if (!(err2 instanceof DrChronoUnauthorizedError)) return sayWrittenBefore(classify(err2, base(), now()), err2);
    }
    // Never refresh inline: ask the refresher, and come back once it has had a chance to run.
    await requestTokenRefresh(deps.ddb, deps.teamsTable, msg.teamId, 'sync: DrChrono answered 401', now(), rejectedTokenVersion);
    return sayWrittenBefore(
      {
        status: 'defer',
        delaySeconds: TOKEN_REFRESH_DEFER_SECONDS,
        entry: { ...base(), outcome: 'deferred', ...errorFields(err), detail: 'token refresh requested' },
      },
      err,
    );
  }
}

/**
 * What a message had already written when a later DrChrono call of it failed, as log notes (counts, no values),
 * by the error that stopped it. A version tie's look-up can come after the delivered state's write moved a Chart
 * ID to the patient's appointments: whatever stops it then (no token, budget, 429, 401, 5xx), the entry says what
 * is already stored.
 */
const writtenBeforeErrors = new WeakMap<object, readonly string[]>();

function writtenBefore(err: unknown): readonly string[] {
  return (typeof err === 'object' && err !== null && writtenBeforeErrors.get(err)) || [];
}

function sayWrittenBefore(result: ProcessResult, err: unknown): ProcessResult {
  const written = writtenBefore(err);
  if (written.length === 0 || result.status === 'done') return result;
  const { entry } = result;
  return { ...result, entry: { ...entry, detail: `written, then ${entry.outcome} at the DrChrono look-up: ${written.join('; ')}${entry.detail ? `; ${entry.detail}` : ''}` } };
}

/**
 * Registered / reauthorization required, or connected with no token when a call was needed: wait for the customer.
 * `writtenBefore`: what the message wrote before that call (writtenBeforeErrors), said in the entry.
 */
function deferNotConnected(entry: IntegrationLogEntry, team: TeamItem, writtenBefore: readonly string[] = []): ProcessResult {
  const detail = writtenBefore.length > 0 ? `written, then deferred for the DrChrono look-up: ${writtenBefore.join('; ')}; waiting for the team to connect` : 'waiting for the team to connect';
  return {
    status: 'defer',
    delaySeconds: NOT_CONNECTED_DEFER_SECONDS,
    entry: { ...entry, outcome: 'deferred', errorClass: 'TeamNotConnected', errorMessage: `team status is ${team.status}`, detail },
  };
}

function done(...entries: IntegrationLogEntry[]): ProcessResult {
  return { status: 'done', entries };
}

function classify(err: unknown, entry: IntegrationLogEntry, now: Date): ProcessResult {
  if (err instanceof ApiBudgetExhaustedError) {
    const wait = Math.ceil((err.resetAt.getTime() - now.getTime()) / 1000) + Math.floor(Math.random() * BUDGET_RESET_SPREAD_SECONDS);
    return { status: 'defer', delaySeconds: Math.max(1, wait), entry: { ...entry, outcome: 'deferred', ...errorFields(err), detail: 'team API budget exhausted' } };
  }
  if (err instanceof DrChronoRateLimitedError) {
    return {
      status: 'defer',
      delaySeconds: Math.max(1, err.retryAfterSeconds),
      entry: { ...entry, outcome: 'deferred', ...errorFields(err), detail: 'DrChrono rate limit' },
    };
  }
  return { status: 'retry', entry: { ...entry, outcome: 'failed', ...errorFields(err) }, error: err };
}

async function syncObject(
  msg: IngestMessage,
  entity: Entity,
  team: TeamItem,
  config: TeamSyncConfig,
  token: LazyTeamToken,
  deps: ProcessDeps,
  now: () => Date,
): Promise<ProcessResult> {
  const { teamId } = msg;
  const priority = msg.source === 'webhook' ? 'webhook' : 'backfill';
  const limit = budgetLimitOf(team);
  const client = deps.drchrono({
    accessToken: () => token.accessToken(),
    beforeCall: async () => {
      // The secret first: a team with no token spends no budget.
      await token.accessToken();
      await consumeApiBudget(deps.ddb, deps.teamsTable, teamId, { limit, priority, now: now() });
    },
  });
  const ctx: MappingContext = { config, profileNames: new Map(), flagTypeNames: new Map(), observedAt: msg.receivedAt, event: msg.event };
  const notes: string[] = [];

  let obj: Record<string, unknown> = msg.object;
  let objectId = String(msg.object.id);
  if (isPatientFlagEvent(msg.event)) {
    // The flag lists are verbose-only patient fields: re-read the patient, only if the team maps them.
    // msg.object is the flag ({id: <flag id>, patient: <patient id>}): its id is never a patient's.
    const patientId = flagEventPatientId(msg.object);
    if (!mapsPatientFlags(config)) {
      return done({ at: now().toISOString(), event: msg.event, deliveryId: msg.deliveryId, entity: 'patient', drchronoId: patientId ?? objectId, outcome: 'ignored', detail: 'team maps no patient flag field' });
    }
    if (patientId === undefined) throw new FlagEventObjectError();
    objectId = patientId;
    const sentAt = now().toISOString();
    try {
      obj = await client.getPatient(patientId, { verbose: true });
    } catch (err) {
      if (!(err instanceof DrChronoNotFoundError)) throw err;
      return done({ at: now().toISOString(), event: msg.event, deliveryId: msg.deliveryId, entity: 'patient', drchronoId: patientId, outcome: 'stale-skipped', detail: 'patient flags: patient not found in DrChrono, stored state kept' });
    }
    // A fetched state supersedes every state of the same updated_at observed before it was sent, so the new
    // flags land whether or not DrChrono moved the patient's updated_at (record-version.ts).
    ctx.observedAt = sentAt;
    ctx.authority = 'fetched';
    notes.push("patient flags re-read (verbose patient fetched)");
  } else if (entity === 'patient' && patientNeedsVerbose(obj, config)) {
    // DrChrono's echo of our own write-back (and a retried delivery) would cost a GET and a version-only write:
    // a stored verbose fetch of the same second with the same fields already holds it (fetched-state-covers.ts).
    const delivered = mapDeliveredPatient(obj, ctx);
    if (delivered) {
      const stored = await getRecordState(deps.ddb, deps.recordsTable, teamId, 'patient', objectId);
      if (fetchedStateCovers(stored, delivered, config.fields.patient)) {
        return done(entryFor(msg, delivered, 'unchanged', now(), 'same updated_at and fields as the stored verbose fetch: not fetched again'));
      }
    }
    const sentAt = now().toISOString();
    try {
      obj = await client.getPatient(objectId, { verbose: true });
      ctx.observedAt = sentAt;
      ctx.authority = 'fetched';
      notes.push('verbose patient fetched');
    } catch (err) {
      if (!(err instanceof DrChronoNotFoundError)) throw err;
      // DrChrono sends no webhook when a patient is deleted; a 404 on GET by id is how we learn it.
      return deletePatient(msg, objectId, sentAt, config, deps, now, 'verbose fetch: patient not found in DrChrono (404)');
    }
  }
  const entries: IntegrationLogEntry[] = [];
  let record = await mapState(msg, entity, obj, ctx, client, deps, notes, entries, now);
  if (record.skipReason === 'break' && !record.deleted) {
    return done(entryFor(msg, record, 'ignored', now(), 'break (no patient): not synced'), ...entries);
  }
  if (record.deleted && record.skipReason) {
    // A deleted break: store the tombstone anyway (the id may once have been a visit we hold), never throw.
    const { skipReason: _break, ...tombstone } = record;
    record = tombstone;
  }

  const notesBeforeWrite = notes.length;
  let settled: Awaited<ReturnType<typeof writeSettlingTies>>;
  try {
    settled = await writeSettlingTies(msg, entity, objectId, record, ctx, client, deps, now, entries, notes);
  } catch (err) {
    // A tie's look-up can be the message's first DrChrono call, after the delivered state's write fanned a Chart
    // ID out to the patient's appointments: the notes that write added are what is already stored.
    if (typeof err === 'object' && err !== null && notes.length > notesBeforeWrite) writtenBeforeErrors.set(err, notes.slice(notesBeforeWrite));
    throw err;
  }
  if (settled === 'patient-gone') return deletePatient(msg, objectId, now().toISOString(), config, deps, now, 'version tie: patient not found in DrChrono (404)');
  ({ record } = settled);
  const { outcome } = settled;
  entries.unshift(entryFor(msg, record, outcome, now(), notes.join('; ') || undefined));
  return { status: 'done', entries };
}

/** What storeFetchedState wrote: the mapped record, the order guard's outcome, and entries for referenced objects. */
export interface StoredFetchedState {
  record: MappedRecord;
  /** 'ignored': DrChrono shows a break (no patient), which is never synced. */
  outcome: WriteOutcome | 'ignored';
  /** Entries for doctors and patients fetched on the way (the caller adds its own entry for the record). */
  entries: IntegrationLogEntry[];
  notes: string[];
}

/**
 * A state of one object that WE obtained from DrChrono outside a delivery (the write-back worker: the 201 body of a
 * create, the object read back after a PATCH, an appointment's deletion), written through the same order-guarded
 * path as a delivery: names, referenced doctors, the "Patient" reference, the Chart ID fan-out. `observedAt` is
 * when the request that produced the state was sent (authority 'fetched', record-version.ts), so DrChrono's
 * webhook for the same change, received later with the same updated_at and content, is `unchanged`. A tie (a
 * different state of the same second, delivered after our request) is settled by fetching, as for a delivery.
 */
export async function storeFetchedState(
  input: { teamId: string; entity: Entity; obj: Record<string, unknown>; observedAt: string; deliveryId: string; event: string; deleted?: boolean },
  config: TeamSyncConfig,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
): Promise<StoredFetchedState> {
  const now = deps.now ?? (() => new Date());
  const msg: IngestMessage = {
    v: 1,
    teamId: input.teamId,
    event: input.event,
    deliveryId: input.deliveryId,
    receivedAt: input.observedAt,
    source: 'webhook',
    object: { ...input.obj, id: String(input.obj.id) },
  };
  const entries: IntegrationLogEntry[] = [];
  const notes: string[] = [];
  const ctx: MappingContext = {
    config,
    profileNames: new Map(),
    flagTypeNames: new Map(),
    observedAt: input.observedAt,
    authority: 'fetched',
    ...(input.deleted ? { event: APPOINTMENT_DELETE_EVENT } : {}),
  };
  let record = await mapState(msg, input.entity, input.obj, ctx, client, deps, notes, entries, now);
  if (record.skipReason === 'break' && !record.deleted) return { record, outcome: 'ignored', entries, notes };
  if (record.deleted && record.skipReason) {
    const { skipReason: _break, ...tombstone } = record;
    record = tombstone;
  }
  const settled = await writeSettlingTies(msg, input.entity, record.drchronoId, record, ctx, client, deps, now, entries, notes);
  if (settled === 'patient-gone') {
    notes.push('version tie: patient not found in DrChrono, stored state kept');
    return { record, outcome: 'stale-skipped', entries, notes };
  }
  const { outcome } = settled;
  record = settled.record;
  return { record, outcome, entries, notes };
}

/**
 * Writes a mapped state under the order guard, settling a tie: the stored state and this one share updated_at and
 * neither is known to be newer. DrChrono's current state settles it (one more call, only now); a fetch supersedes
 * both unless yet another state of that second was stored meanwhile, hence the bound. Then an appointment's
 * "Patient" is checked against the patient's current Chart ID (it may have changed between our read and the
 * write). 'patient-gone': the tie's fetch found the patient deleted (404); the caller decides what that means.
 */
async function writeSettlingTies(
  msg: IngestMessage,
  entity: Entity,
  objectId: string,
  first: MappedRecord,
  ctx: MappingContext,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
  now: () => Date,
  entries: IntegrationLogEntry[],
  notes: string[],
): Promise<{ record: MappedRecord; outcome: Exclude<WriteOutcome, 'tie'> } | 'patient-gone'> {
  const { config } = ctx;
  let record = first;
  let written = await writeMapped(msg, record, config, client, deps, now, entries, notes);
  let outcome: WriteOutcome = written.outcome;
  for (let fetches = 1; outcome === 'tie'; fetches++) {
    if (fetches > MAX_TIE_FETCHES) {
      notes.push(`version tie still open after ${MAX_TIE_FETCHES} fetches: stored state kept`);
      outcome = 'stale-skipped';
      break;
    }
    const current = await fetchCurrentState(objectId, entity, config, client, now);
    if (!current && entity === 'patient') return 'patient-gone';
    if (!current) {
      notes.push(`version tie: ${entity} not found in DrChrono, stored state kept`);
      outcome = 'stale-skipped';
      break;
    }
    const fetchedCtx: MappingContext = { ...ctx, observedAt: current.sentAt, authority: 'fetched', event: undefined };
    const fetched = await mapState(msg, entity, current.obj, fetchedCtx, client, deps, notes, entries, now);
    if (fetched.skipReason) {
      notes.push('version tie: DrChrono now shows a break, stored state kept');
      outcome = 'stale-skipped';
      break;
    }
    record = fetched;
    notes.push('version tie resolved by fetching the current state');
    written = await writeMapped(msg, record, config, client, deps, now, entries, notes);
    outcome = written.outcome;
  }
  if (entity === 'appointment' && !record.deleted && record.patientDrchronoId && record.fieldsWritten.includes('Patient')) {
    // Re-check "Patient" only when this write may have left it behind (patient-references.ts appointmentPatientCheck).
    const { previous } = written;
    const refreshed = await settleAppointmentPatient(deps.ddb, deps.recordsTable, msg.teamId, {
      appointmentId: record.drchronoId,
      patientId: record.patientDrchronoId,
      used: { chartId: typeof record.fields.Patient === 'string' ? record.fields.Patient : '', version: record.patientVersion },
      applied: written.outcome === 'created' || previous?.replaced === true,
      ...(previous ? { found: previous } : {}),
    });
    if (refreshed) notes.push("Patient brought up to the patient's current Chart ID");
  }
  return { record, outcome };
}

/**
 * A patient DrChrono answers 404 for is deleted: a terminal tombstone, so no late delivery brings it back, and
 * its appointments' "Patient" is cleared (patient-references.ts tombstonePatient).
 */
async function deletePatient(
  msg: IngestMessage,
  patientId: string,
  observedAt: string,
  config: TeamSyncConfig,
  deps: ProcessDeps,
  now: () => Date,
  detail: string,
): Promise<ProcessResult> {
  // patientId, never msg.object.id: on a PATIENT_FLAG_* event that is the flag's id.
  const record = patientTombstone(patientId, observedAt);
  const { outcome: written, cleared } = await tombstonePatient(deps.ddb, deps.recordsTable, {
    teamId: msg.teamId,
    patientId,
    observedAt,
    deliveryId: msg.deliveryId,
    syncedAt: now().toISOString(),
    mapsAppointmentPatient: config.fields.appointment.includes('Patient'),
  });
  const outcome = written === 'deleted' ? 'deleted' : 'unchanged';
  const notes = [outcome === 'deleted' ? `${detail}: patient marked deleted` : `${detail}: already deleted`];
  if (cleared !== undefined) notes.push(`patient deleted: Patient cleared on ${cleared} appointment(s)`);
  return done(entryFor(msg, record, outcome, now(), notes.join('; ')));
}

/** Map one DrChrono state, loading the names and references the team's fields need. */
async function mapState(
  msg: IngestMessage,
  entity: Entity,
  obj: Record<string, unknown>,
  ctx: MappingContext,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
  notes: string[],
  entries: IntegrationLogEntry[],
  now: () => Date,
): Promise<MappedRecord> {
  const { teamId } = msg;
  const { config } = ctx;
  if (entity === 'patient') {
    const missingFlagTypes = unresolvedFlagTypeIds(obj, config, new Map());
    if (missingFlagTypes.length > 0) {
      ctx.flagTypeNames = await deps.context.nameList(teamId, 'FLAG_TYPES', () => client.listPatientFlagTypes(), missingFlagTypes[0]);
    }
    return mapPatient(obj, ctx);
  }
  const deleting = ctx.event === APPOINTMENT_DELETE_EVENT || obj.deleted_flag === true;
  if (!deleting && needsProfileNames(config) && typeof obj.profile === 'number') {
    ctx.profileNames = await deps.context.nameList(teamId, 'PROFILES', () => client.listAppointmentProfiles(), obj.profile);
  }
  ctx.patientChartIds = undefined;
  ctx.patientVersions = undefined;
  if (!deleting && config.fields.appointment.includes('Patient') && typeof obj.patient === 'number') {
    const ref = await patientReference(msg, obj.patient, config, client, deps, notes, entries, now);
    // The stamp also for an empty Chart ID: the post-write check then finds nothing newer to apply.
    if (ref.version !== undefined) ctx.patientVersions = new Map([[obj.patient, ref.version]]);
    if (ref.chartId) {
      ctx.patientChartIds = new Map([[obj.patient, ref.chartId]]);
    } else {
      // "Patient" is written empty rather than left naming the appointment's previous patient.
      notes.push(`Patient cleared: ${ref.why}`);
    }
  }
  return mapAppointment(obj, ctx);
}

/** Upsert the doctors a live record references, then the record itself under its order guard. */
async function writeMapped(
  msg: IngestMessage,
  record: MappedRecord,
  config: TeamSyncConfig,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
  now: () => Date,
  entries: IntegrationLogEntry[],
  notes: string[],
): Promise<{ outcome: WriteOutcome; previous?: PreviousRecordState }> {
  if (!record.deleted) {
    for (const doctorId of referencedDoctorIds(record, config)) {
      const e = await ensureDoctor(msg, doctorId, config, client, deps, now);
      if (e) entries.push(e);
    }
  }
  const input = { teamId: msg.teamId, record, deliveryId: msg.deliveryId, syncedAt: now().toISOString() };
  // The old item (ALL_OLD, no extra read): an appointment's tells whether "Patient" needs a re-check.
  const written = await writeRecordReportingPrevious(deps.ddb, deps.recordsTable, input);
  if (record.entity !== 'patient') return written;
  const { previous } = written;
  // A changed Chart ID (or a fan-out an earlier attempt did not finish) reaches the patient's appointments.
  if (config.fields.appointment.includes('Patient') && chartFanOutPending(previous, record.key)) {
    const fanned = await fanOutPatientChartId(deps.ddb, deps.recordsTable, msg.teamId, record.drchronoId);
    if (fanned) notes.push(`Chart ID change: ${fanned.updated} appointment(s) updated`);
  }
  return written;
}

/** The delivered patient as mapped without names or fetches; undefined when it does not map (the fetch may). */
function mapDeliveredPatient(obj: Record<string, unknown>, ctx: MappingContext): MappedRecord | undefined {
  try {
    return mapPatient(obj, ctx);
  } catch {
    return undefined;
  }
}

/**
 * The object as DrChrono has it now, with the time the request was sent (its version's observation time).
 * Patients come verbose when the team maps verbose-only fields. undefined: DrChrono answers 404.
 */
async function fetchCurrentState(
  id: string,
  entity: Entity,
  config: TeamSyncConfig,
  client: SyncDrChronoApi,
  now: () => Date,
): Promise<{ obj: Record<string, unknown>; sentAt: string } | undefined> {
  const sentAt = now().toISOString();
  try {
    // An empty object lacks every verbose-only source: this asks whether the team maps any of them.
    const obj = entity === 'patient' ? await client.getPatient(id, { verbose: patientNeedsVerbose({}, config) }) : await client.getAppointment(id);
    return { obj, sentAt };
  } catch (err) {
    if (err instanceof DrChronoNotFoundError) return undefined;
    throw err;
  }
}

function entryFor(msg: IngestMessage, record: MappedRecord, outcome: IntegrationLogEntry['outcome'], at: Date, detail?: string): IntegrationLogEntry {
  const wrote = outcome === 'created' || outcome === 'updated' || outcome === 'deleted';
  return {
    at: at.toISOString(),
    event: msg.event,
    deliveryId: msg.deliveryId,
    entity: record.entity,
    drchronoId: record.drchronoId,
    outcome,
    fieldsWritten: wrote ? record.fieldsWritten : [],
    fieldsSkipped: record.fieldsSkipped,
    ...(detail ? { detail } : {}),
  };
}

/**
 * The Chart ID for an appointment's "Patient" reference: the stored patient (strongly consistent read), else
 * the patient fetched from DrChrono and stored through the normal guarded path (so a later Chart ID change
 * finds a record to fan out from; logged as "referenced patient fetched"). No Chart ID → why, for the log.
 */
async function patientReference(
  msg: IngestMessage,
  patientId: number,
  config: TeamSyncConfig,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
  notes: string[],
  entries: IntegrationLogEntry[],
  now: () => Date,
): Promise<{ chartId?: string; version?: string; why?: string }> {
  const { teamId } = msg;
  const stored = await readPatientReference(deps.ddb, deps.recordsTable, teamId, String(patientId));
  // A deleted patient is never named, whether or not its tombstone kept a Chart ID.
  if (stored?.deleted) return { version: stored.version, why: `patient ${patientId} deleted in DrChrono` };
  if (stored) return stored.chartId ? stored : { version: stored.version, why: `patient ${patientId} has no Chart ID` };
  const sentAt = now().toISOString();
  let obj: Record<string, unknown>;
  try {
    obj = await client.getPatient(patientId, { verbose: patientNeedsVerbose({}, config) });
  } catch (err) {
    if (err instanceof DrChronoNotFoundError) return { why: `patient ${patientId} deleted in DrChrono (not found)` };
    throw err;
  }
  const pctx: MappingContext = { config, profileNames: new Map(), flagTypeNames: new Map(), observedAt: sentAt, authority: 'fetched' };
  const record = await mapState(msg, 'patient', obj, pctx, client, deps, notes, entries, now);
  const { outcome } = await writeMapped(msg, record, config, client, deps, now, entries, notes);
  entries.push(entryFor(msg, record, outcome === 'tie' ? 'stale-skipped' : outcome, now(), 'referenced patient fetched'));
  const chartId = typeof obj.chart_id === 'string' && obj.chart_id ? obj.chart_id : undefined;
  // No version: the appointment's post-write check reads the stored patient and stamps it.
  return chartId ? { chartId } : { why: `patient ${patientId} has no Chart ID` };
}

/**
 * DrChrono sends no doctor webhooks: a doctor the store does not hold is fetched and upserted. Known doctor
 * ids are remembered per container, so the store is read once per doctor per container.
 */
async function ensureDoctor(
  msg: IngestMessage,
  doctorId: string,
  config: TeamSyncConfig,
  client: SyncDrChronoApi,
  deps: ProcessDeps,
  now: () => Date,
): Promise<IntegrationLogEntry | undefined> {
  const { teamId } = msg;
  if (deps.context.knowsDoctor(teamId, doctorId)) return undefined;
  if (await getRecord(deps.ddb, deps.recordsTable, teamId, 'employee', doctorId)) {
    deps.context.rememberDoctor(teamId, doctorId);
    return undefined;
  }
  let doctor: Doctor;
  const sentAt = now().toISOString();
  try {
    doctor = await client.getDoctor(doctorId);
  } catch (err) {
    if (!(err instanceof DrChronoNotFoundError)) throw err;
    return { at: now().toISOString(), event: msg.event, deliveryId: msg.deliveryId, entity: 'employee', drchronoId: doctorId, outcome: 'info', ...errorFields(err), detail: 'referenced doctor not found in DrChrono' };
  }
  const record = mapEmployee(doctor, { config, profileNames: new Map(), flagTypeNames: new Map(), observedAt: sentAt, authority: 'fetched' });
  const written = await writeRecord(deps.ddb, deps.recordsTable, { teamId, record, deliveryId: msg.deliveryId, syncedAt: now().toISOString() });
  deps.context.rememberDoctor(teamId, doctorId);
  // Doctors carry no updated_at: a tie is two fetches in the same millisecond; either is current.
  const outcome = written === 'tie' ? 'stale-skipped' : written;
  return entryFor(msg, record, outcome, now(), 'referenced doctor fetched');
}
