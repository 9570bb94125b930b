import {
  apptStatusesForLabel,
  languageCodesForLabel,
  profileIdsForLabel,
  sexCodesForLabel,
  statusCodesForLabel,
} from '../mapping/choice-labels';
import { FIELDS_BY_ENTITY, PATIENT_FLAG_FIELDS, PATIENT_INSURANCE_FIELDS } from '../mapping/field-names';
import type { TeamSyncConfig } from '../mapping/team-sync-config';
import { splitAddress } from './address-parts';
import type { ChangeOp, WriteEntity } from './change';

/**
 * The reverse mapping (docs/write-back.md, "Mapping back" and "What the write API accepts"): a write API body in
 * the records' field names and labels → DrChrono's request body, or every problem with it. The inverse of
 * shared/mapping (map-patient.ts, map-appointment.ts, choice-labels.ts). Problems name the field and the rule,
 * never the value (bodies are PHI).
 */

export interface WriteLookups {
  /** DrChrono patient id of the (not deleted) patient record with this Chart ID; undefined if none. */
  patientIdByChartId(chartId: string): Promise<string | undefined>;
  /** Whether the team's Employee records hold this Chrono Doctor ID. */
  doctorExists(doctorId: string): Promise<boolean>;
  /** The team's appointment profiles (id → name): the PROFILES name cache, loaded from DrChrono when cold. */
  appointmentProfiles(): Promise<ReadonlyMap<number, string>>;
  /** The doctor's non-archived office ids (DrChrono /api/offices?doctor=); only asked for an appointment create without office. */
  officesOfDoctor(doctorId: string): Promise<number[]>;
}
export interface WriteDefaults {
  office?: number;
  examRoom?: number;
}
/** `problem` never contains the value. */
export interface FieldProblem {
  field: string;
  problem: string;
}
export type WritePlan = { ok: true; payload: Record<string, unknown>; fieldsWritten: string[] } | { ok: false; problems: FieldProblem[] };
export interface WriteRequest {
  entity: WriteEntity;
  op: ChangeOp;
  key: string | null;
  fields: Record<string, unknown>;
}
export type WritableFieldType = 'text' | 'date' | 'datetime' | 'integer' | 'boolean' | 'choice' | 'reference';

/** The fields a body may carry, by entity, with their types (the CLI turns `--set Name=value` into JSON by them). */
export const WRITABLE_FIELDS: { patient: Record<string, WritableFieldType>; appointment: Record<string, WritableFieldType> } = {
  patient: {
    'First Name': 'text',
    'Middle Name': 'text',
    'Last Name': 'text',
    'Date of Birth': 'date',
    Sex: 'choice',
    'Patient SSN': 'text',
    Language: 'choice',
    Status: 'choice',
    'Home Phone': 'text',
    'Cell Phone': 'text',
    Email: 'text',
    'Disable SMS/Txt': 'boolean',
    Address: 'text',
    'Emergency Contact Name': 'text',
    'Emergency Contact Phone': 'text',
    'Emergency Contact Relation': 'text',
    'Primary Provider': 'reference',
    'Responsible Party Name': 'text',
    'Responsible Party Relation': 'text',
    'Responsible Party Email': 'text',
    'Responsible Party Phone': 'text',
  },
  appointment: {
    Patient: 'reference',
    Provider: 'reference',
    'Appt Profile': 'choice',
    'Appt Status': 'choice',
    'Date of Service': 'datetime',
    Reason: 'text',
    Duration: 'integer',
    Office: 'integer',
    'Exam Room': 'integer',
  },
};

/** Write-only fields: DrChrono needs them to create an appointment; the records do not hold them. */
const WRITE_ONLY_FIELDS: Record<WriteEntity, readonly string[]> = { patient: [], appointment: ['Office', 'Exam Room'] };

/** Why a record field cannot be written (any record field not in WRITABLE_FIELDS). */
function readOnlyProblem(field: string): string {
  if (field === 'Chart ID') return 'read-only (the Chart ID is the key in the path)';
  if ((PATIENT_INSURANCE_FIELDS as readonly string[]).includes(field)) return 'read-only (writing insurance is not supported)';
  if ((PATIENT_FLAG_FIELDS as readonly string[]).includes(field)) return 'read-only (patient flags are not written back)';
  return 'read-only';
}

/** No DrChrono length is documented; a cap keeps bodies (and the queue message) sane. */
export const TEXT_MAX_LENGTH = 255;
/** An appointment lasts at most a day. */
export const DURATION_MAX_MINUTES = 24 * 60;
/** Exam rooms are 1-based indexes into the office's `exam_rooms`; no office has hundreds. */
const EXAM_ROOM_MAX = 999;

const TEXT_TARGETS: Record<string, string> = {
  'First Name': 'first_name',
  'Middle Name': 'middle_name',
  'Last Name': 'last_name',
  'Patient SSN': 'social_security_number',
  'Home Phone': 'home_phone',
  'Cell Phone': 'cell_phone',
  Email: 'email',
  'Emergency Contact Name': 'emergency_contact_name',
  'Emergency Contact Phone': 'emergency_contact_phone',
  'Emergency Contact Relation': 'emergency_contact_relation',
  'Responsible Party Name': 'responsible_party_name',
  'Responsible Party Relation': 'responsible_party_relation',
  'Responsible Party Email': 'responsible_party_email',
  'Responsible Party Phone': 'responsible_party_phone',
  Reason: 'reason',
};

/** What planWrite needs besides the request: the team's mapping config, its write-back defaults, the lookups. */
export interface WriteContext {
  config: TeamSyncConfig;
  defaults: WriteDefaults;
  lookups: WriteLookups;
}

type Converted = { set: Record<string, unknown> } | { problem: string };
type Ctx = WriteContext;

const CANNOT_CLEAR = 'cannot be cleared';
const isEmpty = (v: unknown) => v === null || v === '';

function text(target: string, v: unknown): Converted {
  if (isEmpty(v)) return { set: { [target]: '' } };
  if (typeof v !== 'string') return { problem: 'must be text' };
  if (v.length > TEXT_MAX_LENGTH) return { problem: `too long (at most ${TEXT_MAX_LENGTH} characters)` };
  return { set: { [target]: v } };
}

function address(v: unknown): Converted {
  if (isEmpty(v)) return { set: { ...splitAddress('') } };
  if (typeof v !== 'string') return { problem: 'must be text' };
  const parts = splitAddress(v);
  if (Object.values(parts).some((p) => p.length > TEXT_MAX_LENGTH)) return { problem: `a part is too long (at most ${TEXT_MAX_LENGTH} characters each)` };
  return { set: { ...parts } };
}

/** A real proleptic Gregorian date (rejects 2023-02-29, month 13, ...). */
function isCalendarDate(y: number, m: number, d: number): boolean {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** The latest calendar date anywhere on earth now (UTC+14): a birth "today" in any practice is not in the future. */
function latestDateOnEarth(now: number): string {
  return new Date(now + 14 * 3600_000).toISOString().slice(0, 10);
}

function dateOfBirth(v: unknown): Converted {
  if (isEmpty(v)) return { set: { date_of_birth: null } };
  if (typeof v !== 'string') return { problem: 'must be a date YYYY-MM-DD' };
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return { problem: 'must be a date YYYY-MM-DD' };
  if (!isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return { problem: 'not a real calendar date' };
  if (v > latestDateOnEarth(Date.now())) return { problem: 'in the future' };
  return { set: { date_of_birth: v } };
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

/** Practice wall-clock time, as DrChrono's scheduled_time is: never an instant, so never an offset. */
function dateOfService(v: unknown): Converted {
  if (isEmpty(v)) return { problem: CANNOT_CLEAR };
  if (typeof v !== 'string') return { problem: 'must be practice wall-clock time YYYY-MM-DDTHH:MM[:SS]' };
  if (WITH_OFFSET.test(v)) return { problem: "has a UTC offset: send the practice's wall-clock time YYYY-MM-DDTHH:MM[:SS] without one" };
  const m = WALL_CLOCK.exec(v);
  if (!m) return { problem: 'must be practice wall-clock time YYYY-MM-DDTHH:MM[:SS]' };
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? '0')) as [number, number, number, number, number, number];
  if (!isCalendarDate(y, mo, d) || h > 23 || mi > 59 || s > 59) return { problem: 'not a real date and time' };
  return { set: { scheduled_time: `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}` } };
}

/** A JSON integer or its decimal string form ("30"), so CLI `--set` strings work. */
function integerValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}

function boundedInteger(target: string, v: unknown, min: number, max: number, messages: { notWhole: string; outOfRange: string }): Converted {
  if (isEmpty(v)) return { problem: CANNOT_CLEAR };
  const n = integerValue(v);
  if (n === undefined) return { problem: messages.notWhole };
  if (n < min || n > max) return { problem: messages.outOfRange };
  return { set: { [target]: n } };
}

function booleanValue(target: string, v: unknown): Converted {
  if (isEmpty(v)) return { problem: CANNOT_CLEAR };
  if (typeof v === 'boolean') return { set: { [target]: v } };
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return { set: { [target]: v.toLowerCase() === 'true' } };
  return { problem: 'must be true or false' };
}

/** A label through the team's list: exactly one code, else a problem (never naming the value). */
function choice(target: string, v: unknown, listName: string, codesFor: (label: string) => string[], clearTo?: string): Converted {
  if (isEmpty(v)) return clearTo === undefined ? { problem: CANNOT_CLEAR } : { set: { [target]: clearTo } };
  if (typeof v !== 'string') return { problem: `must be one of the team's ${listName} labels` };
  const codes = codesFor(v);
  if (codes.length === 0) return { problem: `not one of the team's ${listName} labels` };
  if (codes.length > 1) return { problem: `ambiguous: the label stands for more than one ${listName} value in the team's list` };
  return { set: { [target]: codes[0] } };
}

const DOCTOR_ID = /^(0|[1-9]\d{0,14})$/;

/** A Chrono Doctor ID (string, or a JSON integer) that the team's Employee records hold → DrChrono doctor id. */
async function doctorReference(v: unknown, lookups: WriteLookups): Promise<Converted> {
  if (isEmpty(v)) return { problem: CANNOT_CLEAR };
  const id = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
  if (typeof id !== 'string' || !DOCTOR_ID.test(id)) return { problem: 'must be a Chrono Doctor ID (digits)' };
  if (!(await lookups.doctorExists(id))) return { problem: 'no employee with this Chrono Doctor ID' };
  return { set: { doctor: Number(id) } };
}

/** A Chart ID → the DrChrono id of the patient with it. */
async function patientReference(v: unknown, lookups: WriteLookups): Promise<Converted> {
  if (isEmpty(v)) return { problem: CANNOT_CLEAR };
  if (typeof v !== 'string') return { problem: 'must be a Chart ID (text)' };
  if (v.length > 128) return { problem: 'no patient with this Chart ID' };
  const id = await lookups.patientIdByChartId(v);
  if (id === undefined) return { problem: 'no patient with this Chart ID' };
  return { set: { patient: Number(id) } };
}

async function apptProfile(v: unknown, ctx: Ctx): Promise<Converted> {
  if (isEmpty(v)) return { set: { profile: null } };
  if (typeof v !== 'string') return { problem: "must be an appointment profile's name or the team's label for it" };
  const profiles = await ctx.lookups.appointmentProfiles();
  const ids = profileIdsForLabel(v, profiles, ctx.config.choices);
  if (ids.length === 0) return { problem: "not one of the team's appointment profiles" };
  if (ids.length > 1) return { problem: 'ambiguous: the name stands for more than one appointment profile (map them to distinct labels: drchrono-sync team choices)' };
  return { set: { profile: ids[0] } };
}

function convert(entity: WriteEntity, field: string, v: unknown, ctx: Ctx): Converted | Promise<Converted> {
  const { choices } = ctx.config;
  if (Object.hasOwn(TEXT_TARGETS, field)) return text(TEXT_TARGETS[field] as string, v);
  switch (field) {
    case 'Date of Birth':
      return dateOfBirth(v);
    case 'Sex':
      return choice('gender', v, 'Sex', (l) => sexCodesForLabel(l, choices), '');
    case 'Language':
      return choice('preferred_language', v, 'Language', (l) => languageCodesForLabel(l, choices));
    case 'Status':
      return choice('patient_status', v, 'Status', (l) => statusCodesForLabel(l, choices));
    case 'Disable SMS/Txt':
      return booleanValue('disable_sms_messages', v);
    case 'Address':
      return address(v);
    case 'Primary Provider':
    case 'Provider':
      return doctorReference(v, ctx.lookups);
    case 'Patient':
      return patientReference(v, ctx.lookups);
    case 'Appt Profile':
      return apptProfile(v, ctx);
    case 'Appt Status':
      return choice('status', v, 'Appt Status', (l) => apptStatusesForLabel(l, choices), '');
    case 'Date of Service':
      return dateOfService(v);
    case 'Duration':
      return boundedInteger('duration', v, 1, DURATION_MAX_MINUTES, {
        notWhole: 'must be a whole number of minutes',
        outOfRange: `must be between 1 and ${DURATION_MAX_MINUTES} minutes`,
      });
    case 'Office':
      return boundedInteger('office', v, 1, Number.MAX_SAFE_INTEGER, { notWhole: 'must be an office id', outOfRange: 'must be an office id' });
    case 'Exam Room':
      return boundedInteger('exam_room', v, 1, EXAM_ROOM_MAX, {
        notWhole: 'must be an exam room index (1, 2, ...)',
        outOfRange: `must be an exam room index from 1 to ${EXAM_ROOM_MAX}`,
      });
  }
  throw new Error(`no reverse mapping for ${entity} field ${field}`);
}

/** Which ops an entity has: patients are upserted or updated, appointments created, updated or deleted. */
const OPS: Record<WriteEntity, readonly ChangeOp[]> = { patient: ['upsert', 'update'], appointment: ['create', 'update', 'delete'] };

function requestProblems(req: WriteRequest): FieldProblem[] {
  if (!OPS[req.entity].includes(req.op)) return [{ field: '(request)', problem: `${req.op} is not an operation on a ${req.entity}` }];
  if (req.op === 'create' && req.key !== null) return [{ field: '(request)', problem: 'a create names no key' }];
  if (req.op !== 'create' && (req.key === null || req.key === '')) return [{ field: '(request)', problem: 'the key is missing' }];
  return [];
}

/** Unknown names may be anything (even PHI pasted in the wrong place): only a known name is suggested back. */
function unknownFieldProblem(entity: WriteEntity, field: string): string {
  const folded = field.trim().toLowerCase();
  const known = [...FIELDS_BY_ENTITY[entity], ...WRITE_ONLY_FIELDS[entity]].find((n) => n.toLowerCase() === folded);
  return known === undefined ? 'unknown field' : `unknown field (did you mean "${known}"?)`;
}

/** Canonical order: the entity's record field order, write-only fields last. */
function canonicalOrder(entity: WriteEntity, names: string[]): string[] {
  const order = [...FIELDS_BY_ENTITY[entity], ...WRITE_ONLY_FIELDS[entity]];
  return [...names].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/**
 * Appointment create: DrChrono requires doctor, patient, scheduled_time, office and exam_room, and a duration
 * unless a profile gives one. Office: the body, else the team's default, else the provider's only office.
 */
async function createProblems(fields: Record<string, unknown>, payload: Record<string, unknown>, ctx: Ctx): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  for (const f of ['Patient', 'Provider', 'Date of Service']) {
    if (!Object.hasOwn(fields, f)) problems.push({ field: f, problem: 'required to create an appointment' });
  }
  if (!Object.hasOwn(fields, 'Duration') && (!Object.hasOwn(fields, 'Appt Profile') || isEmpty(fields['Appt Profile']))) {
    problems.push({ field: 'Duration', problem: "required unless Appt Profile is given (DrChrono then takes the profile's duration)" });
  }
  if (!Object.hasOwn(fields, 'Office')) {
    if (ctx.defaults.office !== undefined) payload.office = ctx.defaults.office;
    else if (typeof payload.doctor === 'number') {
      const offices = await ctx.lookups.officesOfDoctor(String(payload.doctor));
      if (offices.length === 1) payload.office = offices[0];
      else {
        const has = offices.length === 0 ? 'the provider has no office' : `the provider has ${offices.length} offices`;
        problems.push({
          field: 'Office',
          problem: `required: ${has} and the team has no default (drchrono-sync team write-back defaults <teamId> --office ID --exam-room N)`,
        });
      }
    }
  }
  // An index into the office's exam_rooms. DrChrono does not document the base; live clients use 1 (docs/write-back.md).
  // The team's default room belongs to its default office: in another office that index may not exist.
  if (!Object.hasOwn(fields, 'Exam Room')) {
    const inDefaultOffice = ctx.defaults.office !== undefined && payload.office === ctx.defaults.office;
    payload.exam_room = inDefaultOffice ? (ctx.defaults.examRoom ?? 1) : 1;
  }
  return problems;
}

/**
 * Validate a write API body and map it back to DrChrono's request body. Every problem is collected (not
 * first-fail). The payload holds only the mapped fields (plus office and exam room on an appointment create):
 * the worker adds chart_id when an upsert creates the patient.
 */
export async function planWrite(req: WriteRequest, ctx: Ctx): Promise<WritePlan> {
  const early = requestProblems(req);
  if (early.length > 0) return { ok: false, problems: early };

  const names = Object.keys(req.fields);
  if (req.op === 'delete') {
    if (names.length === 0) return { ok: true, payload: {}, fieldsWritten: [] };
    return { ok: false, problems: orderProblems(req.entity, names.map((field) => ({ field, problem: 'a delete takes no fields' }))) };
  }
  if (names.length === 0 && req.op !== 'create') return { ok: false, problems: [{ field: '(body)', problem: 'no fields' }] };

  const writable = WRITABLE_FIELDS[req.entity];
  const synced = new Set(ctx.config.fields[req.entity]);
  const problems: FieldProblem[] = [];
  const conversions: Array<Promise<{ field: string; result: Converted }>> = [];
  for (const field of names) {
    if (!Object.hasOwn(writable, field)) {
      const isRecordField = FIELDS_BY_ENTITY[req.entity].includes(field);
      problems.push({ field, problem: isRecordField ? readOnlyProblem(field) : unknownFieldProblem(req.entity, field) });
    } else if (!WRITE_ONLY_FIELDS[req.entity].includes(field) && !synced.has(field)) {
      problems.push({ field, problem: 'not synced for this team' });
    } else {
      conversions.push(Promise.resolve(convert(req.entity, field, req.fields[field], ctx)).then((result) => ({ field, result })));
    }
  }

  const payload: Record<string, unknown> = {};
  for (const { field, result } of await Promise.all(conversions)) {
    if ('problem' in result) problems.push({ field, problem: result.problem });
    else Object.assign(payload, result.set);
  }
  if (req.entity === 'appointment' && req.op === 'create') problems.push(...(await createProblems(req.fields, payload, ctx)));

  if (problems.length > 0) return { ok: false, problems: orderProblems(req.entity, problems) };
  return { ok: true, payload, fieldsWritten: canonicalOrder(req.entity, names) };
}

/** Problems in a stable order: request and body problems first, then by field in canonical order. */
function orderProblems(entity: WriteEntity, problems: FieldProblem[]): FieldProblem[] {
  const order = [...FIELDS_BY_ENTITY[entity], ...WRITE_ONLY_FIELDS[entity]];
  const rank = (f: string) => (f.startsWith('(') ? -1 : order.includes(f) ? order.indexOf(f) : order.length);
  return problems.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p.field) - rank(b.p.field) || a.i - b.i).map(({ p }) => p);
}
