import type { Json } from './types';

/**
 * How DrChrono's API (Django REST framework serializers over DrChrono's OpenAPI schema) validates a patient or
 * appointment write, and what an object created through the API holds. Pure rules; the engine applies them.
 *
 * - Errors are DRF's: `{"<field>": ["<message>", ...]}` for every bad field at once, DRF's own message texts.
 * - Fields the schema marks read-only, and fields it does not know, are ignored (DRF drops them silently).
 * - POST and PUT need every required field; PATCH checks only the fields it sends.
 * - Integers and booleans also accept their string forms ("30", "true"), as DRF does (form-encoded bodies).
 */

export type FieldErrors = Record<string, string[]>;
export type Entity = 'patient' | 'appointment';
/** create = POST, update = PUT (full: required fields needed), partial = PATCH. */
export type WriteMode = 'create' | 'update' | 'partial';

type Kind =
  | { t: 'text' }
  | { t: 'int'; min?: number }
  | { t: 'bool' }
  | { t: 'date' }
  | { t: 'datetime' }
  | { t: 'choice'; values: readonly string[] }
  | { t: 'pk'; of: RefKind }
  | { t: 'pkList'; of: RefKind }
  | { t: 'stringList' }
  | { t: 'list' }
  | { t: 'object' };

interface FieldSpec {
  kind: Kind;
  required?: boolean;
  nullable?: boolean;
}

export type RefKind = 'doctor' | 'patient' | 'office' | 'profile';

const text: FieldSpec = { kind: { t: 'text' }, nullable: true };
const bool: FieldSpec = { kind: { t: 'bool' } };
const date: FieldSpec = { kind: { t: 'date' }, nullable: true };
const object: FieldSpec = { kind: { t: 'object' }, nullable: true };
const list: FieldSpec = { kind: { t: 'list' } };
const choice = (values: readonly string[], nullable = false): FieldSpec => ({ kind: { t: 'choice', values }, nullable });

export const GENDERS = ['', 'Male', 'Female', 'Other', 'UNK', 'ASKU'] as const;

/** Writable Patient fields (DrChrono's OpenAPI Patient schema minus its readOnly ones). Required: doctor, gender. */
export const PATIENT_FIELDS: Record<string, FieldSpec> = {
  doctor: { kind: { t: 'pk', of: 'doctor' }, required: true },
  gender: { kind: { t: 'choice', values: GENDERS }, required: true },
  chart_id: text,
  first_name: text,
  middle_name: text,
  last_name: text,
  nick_name: text,
  date_of_birth: date,
  social_security_number: text,
  ethnicity: choice(['blank', 'hispanic', 'not_hispanic', 'declined']),
  race: choice(['blank', 'indian', 'asian', 'black', 'hawaiian', 'white', 'other', 'declined']),
  preferred_language: choice(['blank', 'eng', 'zho', 'fra', 'ita', 'jpn', 'por', 'rus', 'spa', 'other', 'unknown', 'declined']),
  patient_status: choice(['A', 'I', 'D']),
  patient_payment_profile: choice(['', 'Cash', 'Insurance', 'Insurance Out of Network', 'Auto Accident', "Worker's Comp"]),
  home_phone: text,
  cell_phone: text,
  office_phone: text,
  email: text,
  disable_sms_messages: bool,
  address: text,
  city: text,
  state: text,
  zip_code: text,
  emergency_contact_name: text,
  emergency_contact_phone: text,
  emergency_contact_relation: text,
  responsible_party_name: text,
  responsible_party_relation: text,
  responsible_party_email: text,
  responsible_party_phone: text,
  employer: text,
  employer_address: text,
  employer_city: text,
  employer_state: text,
  employer_zip_code: text,
  primary_care_physician: text,
  referring_source: text,
  default_pharmacy: text,
  copay: text,
  patient_photo: text,
  patient_photo_date: date,
  date_of_first_appointment: date,
  date_of_last_appointment: date,
  offices: { kind: { t: 'pkList', of: 'office' } },
  custom_demographics: list,
  // patient_flags_attached is writable in DrChrono's schema; the sandbox ignores it on API writes (flags change
  // through the control API's flag routes), so an unchecked list never reaches a webhook.
  primary_insurance: object,
  secondary_insurance: object,
  tertiary_insurance: object,
  auto_accident_insurance: object,
  workers_comp_insurance: object,
  referring_doctor: object,
};

/** Writable Appointment fields. Required: doctor, exam_room, office, patient, scheduled_time (duration: below). */
export const APPOINTMENT_FIELDS: Record<string, FieldSpec> = {
  doctor: { kind: { t: 'pk', of: 'doctor' }, required: true },
  patient: { kind: { t: 'pk', of: 'patient' }, required: true, nullable: true },
  office: { kind: { t: 'pk', of: 'office' }, required: true },
  exam_room: { kind: { t: 'int', min: 0 }, required: true },
  scheduled_time: { kind: { t: 'datetime' }, required: true },
  duration: { kind: { t: 'int', min: 1 } },
  profile: { kind: { t: 'pk', of: 'profile' }, nullable: true },
  status: text,
  reason: text,
  notes: text,
  color: text,
  billing_status: text,
  reminder_profile: text,
  allow_overlapping: bool,
  appt_is_break: bool,
  is_walk_in: bool,
  cloned_from: { kind: { t: 'int' }, nullable: true },
  icd9_codes: { kind: { t: 'stringList' } },
  icd10_codes: { kind: { t: 'stringList' } },
  custom_fields: list,
  custom_vitals: list,
  vitals: object,
  clinical_note: object,
};

const FIELDS: Record<Entity, Record<string, FieldSpec>> = { patient: PATIENT_FIELDS, appointment: APPOINTMENT_FIELDS };

/** Looks up references: a doctor, patient, (live) office or profile of the practice by id. */
export type RefLookup = (kind: RefKind, id: number) => boolean;

export const MSG = {
  required: 'This field is required.',
  notNull: 'This field may not be null.',
  integer: 'A valid integer is required.',
  boolean: 'Must be a valid boolean.',
  string: 'Not a valid string.',
  date: 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.',
  // Practice wall-clock time, no offset: what DrChrono documents for its timestamps.
  datetime: 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]].',
  choice: (v: string) => `"${v}" is not a valid choice.`,
  pkType: (v: unknown) => `Incorrect type. Expected pk value, received ${typeName(v)}.`,
  pkMissing: (v: number) => `Invalid pk "${v}" - object does not exist.`,
  minValue: (n: number) => `Ensure this value is greater than or equal to ${n}.`,
  list: (v: unknown) => `Expected a list of items but got type "${typeName(v)}".`,
  dict: (v: unknown) => `Invalid data. Expected a dictionary, but got ${typeName(v)}.`,
  examRoom: 'Exam room is not one of the office\'s exam rooms.',
  breakOrPatient: 'This field may not be null unless appt_is_break is true.',
  overlap: 'Scheduled time overlaps with an existing appointment',
} as const;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return 'dict';
}

const TRUE = new Set<unknown>([true, 1, '1', 'true', 'True', 'TRUE', 't', 'T', 'yes', 'Yes', 'YES', 'y', 'Y', 'on', 'On', 'ON']);
const FALSE = new Set<unknown>([false, 0, '0', 'false', 'False', 'FALSE', 'f', 'F', 'no', 'No', 'NO', 'n', 'N', 'off', 'Off', 'OFF']);

function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** "YYYY-MM-DD" that is a real calendar date. */
function isDate(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** An offset-less datetime, normalised to "YYYY-MM-DDTHH:MM:SS" (the form DrChrono sends back); else undefined. */
export function normalizeDateTime(v: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,6})?)?$/.exec(v);
  if (!m || !isDate(m[1]!)) return undefined;
  return `${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}`;
}

type FieldResult = { ok: true; value: unknown } | { ok: false; error: string };

function checkField(spec: FieldSpec, v: unknown, refs: RefLookup): FieldResult {
  if (v === null) return spec.nullable ? { ok: true, value: null } : { ok: false, error: MSG.notNull };
  const k = spec.kind;
  switch (k.t) {
    case 'text':
      // DRF's CharField takes numbers as their string form; anything else is not a string.
      if (typeof v === 'string') return { ok: true, value: v };
      if (typeof v === 'number') return { ok: true, value: String(v) };
      return { ok: false, error: MSG.string };
    case 'int': {
      const n = toInt(v);
      if (n === undefined || typeof v === 'boolean') return { ok: false, error: MSG.integer };
      if (k.min !== undefined && n < k.min) return { ok: false, error: MSG.minValue(k.min) };
      return { ok: true, value: n };
    }
    case 'bool':
      if (TRUE.has(v)) return { ok: true, value: true };
      if (FALSE.has(v)) return { ok: true, value: false };
      return { ok: false, error: MSG.boolean };
    case 'date':
      return typeof v === 'string' && isDate(v) ? { ok: true, value: v } : { ok: false, error: MSG.date };
    case 'datetime': {
      const norm = typeof v === 'string' ? normalizeDateTime(v) : undefined;
      return norm ? { ok: true, value: norm } : { ok: false, error: MSG.datetime };
    }
    case 'choice':
      if (typeof v === 'string' && k.values.includes(v)) return { ok: true, value: v };
      return { ok: false, error: MSG.choice(typeof v === 'string' ? v : JSON.stringify(v)) };
    case 'pk': {
      const n = typeof v === 'boolean' ? undefined : toInt(v);
      if (n === undefined) return { ok: false, error: MSG.pkType(v) };
      return refs(k.of, n) ? { ok: true, value: n } : { ok: false, error: MSG.pkMissing(n) };
    }
    case 'pkList': {
      if (!Array.isArray(v)) return { ok: false, error: MSG.list(v) };
      const out: number[] = [];
      for (const item of v) {
        const r = checkField({ kind: { t: 'pk', of: k.of } }, item, refs);
        if (!r.ok) return r;
        out.push(r.value as number);
      }
      return { ok: true, value: out };
    }
    case 'stringList':
      if (!Array.isArray(v)) return { ok: false, error: MSG.list(v) };
      return v.every((x) => typeof x === 'string') ? { ok: true, value: [...v] } : { ok: false, error: MSG.string };
    case 'list':
      return Array.isArray(v) ? { ok: true, value: structuredClone(v) } : { ok: false, error: MSG.list(v) };
    case 'object':
      return typeof v === 'object' && !Array.isArray(v) ? { ok: true, value: structuredClone(v) } : { ok: false, error: MSG.dict(v) };
  }
}

/**
 * Validates a request body field by field. Returns the writable fields, converted (ints from "30", datetimes
 * normalised), or every field's errors. Read-only and unknown fields are dropped, as DRF does.
 */
export function validateFields(entity: Entity, body: Json, mode: WriteMode, refs: RefLookup): { ok: true; fields: Json } | { ok: false; errors: FieldErrors } {
  const specs = FIELDS[entity];
  const fields: Json = {};
  const errors: FieldErrors = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (!(name in body) || body[name] === undefined) {
      if (spec.required && mode !== 'partial') errors[name] = [MSG.required];
      continue;
    }
    const r = checkField(spec, body[name], refs);
    if (r.ok) fields[name] = r.value;
    else errors[name] = [r.error];
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, fields };
}

// ---------------------------------------------------------------- created objects

/**
 * DrChrono: "chart_id: Automatically set using first & last name if absent". Rule (the real algorithm is not
 * published; DrChrono's look like "SMJO000001"): the first two letters of the last name and of the first name,
 * upper-cased, accents dropped, other characters skipped, an `X` for each letter missing, then the lowest
 * six-digit number (from 000001) that makes the Chart ID unused in the practice.
 */
export function deriveChartId(firstName: unknown, lastName: unknown, taken: ReadonlySet<string>): string {
  const letters = (v: unknown) =>
    (typeof v === 'string' ? v : '')
      .normalize('NFD')
      .toUpperCase()
      .replace(/[^A-Z]/g, '')
      .slice(0, 2)
      .padEnd(2, 'X');
  const prefix = letters(lastName) + letters(firstName);
  for (let n = 1; ; n++) {
    const id = `${prefix}${String(n).padStart(6, '0')}`;
    if (!taken.has(id)) return id;
  }
}

const EMPTY_REFERRING_DOCTOR = { address: '', email: '', fax: '', first_name: '', last_name: '', middle_name: '', npi: '', phone: '', provider_number: '', provider_qualifier: '', specialty: '', suffix: '' };

/**
 * A patient created through the API: what was sent, and for everything else the value DrChrono's serializer
 * shows for a field never set (blank strings, `blank` enums, active status, no dates, no insurance, no flags).
 */
export function newPatient(id: number, sent: Json, chartId: string, stamp: string): Json {
  return {
    id,
    doctor: sent.doctor,
    first_name: '',
    middle_name: '',
    last_name: '',
    nick_name: '',
    date_of_birth: null,
    gender: sent.gender,
    social_security_number: '',
    preferred_language: 'blank',
    race: 'blank',
    ethnicity: 'blank',
    patient_status: 'A',
    home_phone: '',
    cell_phone: '',
    office_phone: '',
    email: '',
    disable_sms_messages: false,
    address: '',
    city: '',
    state: '',
    zip_code: '',
    emergency_contact_name: '',
    emergency_contact_phone: '',
    emergency_contact_relation: '',
    responsible_party_name: '',
    responsible_party_relation: '',
    responsible_party_email: '',
    responsible_party_phone: '',
    employer: '',
    employer_address: '',
    employer_city: '',
    employer_state: '',
    employer_zip_code: '',
    primary_care_physician: '',
    referring_source: '',
    default_pharmacy: '',
    copay: '',
    patient_payment_profile: '',
    patient_photo: '',
    patient_photo_date: null,
    date_of_first_appointment: null,
    date_of_last_appointment: null,
    offices: [],
    custom_demographics: [],
    patient_flags: [],
    patient_flags_attached: [],
    primary_insurance: {},
    secondary_insurance: {},
    tertiary_insurance: {},
    auto_accident_insurance: {},
    workers_comp_insurance: {},
    referring_doctor: { ...EMPTY_REFERRING_DOCTOR },
    ...sent, // validated: never id or a read-only field
    chart_id: chartId,
    created_at: stamp,
    updated_at: stamp,
  };
}

/**
 * An appointment created through the API: what was sent; the profile's color, duration and reason where not
 * sent (DrChrono: "The profile sets default values for color, duration, and reason on creation"); blanks else.
 */
export function newAppointment(id: string, sent: Json, profile: Json | undefined, stamp: string): Json {
  return {
    id,
    doctor: sent.doctor,
    patient: sent.patient,
    office: sent.office,
    exam_room: sent.exam_room,
    profile: null,
    scheduled_time: sent.scheduled_time,
    duration: profile?.duration ?? null,
    reason: profile?.reason ?? '',
    notes: '',
    status: '',
    color: profile?.color ?? '',
    appt_is_break: false,
    allow_overlapping: false,
    is_walk_in: false,
    is_virtual_base: false,
    recurring_appointment: false,
    base_recurring_appointment: null,
    cloned_from: null,
    deleted_flag: false,
    billing_status: '',
    billing_provider: '',
    supervising_provider: '',
    reminder_profile: '',
    ins1_status: '',
    ins2_status: '',
    first_billed_date: null,
    last_billed_date: null,
    primary_insurer_name: '',
    primary_insurer_payer_id: '',
    primary_insurance_id_number: '',
    secondary_insurer_name: '',
    secondary_insurer_payer_id: '',
    secondary_insurance_id_number: '',
    icd9_codes: [],
    icd10_codes: [],
    billing_notes: [],
    reminders: [],
    vitals: {},
    custom_fields: [],
    custom_vitals: [],
    clinical_note: {},
    status_transitions: [],
    ...sent, // validated: never id or a read-only field
    created_at: stamp,
    updated_at: stamp,
    extended_updated_at: stamp,
  };
}

// ---------------------------------------------------------------- overlap

/** Minutes since the epoch of an offset-less "YYYY-MM-DDTHH:MM:SS" (both sides are practice wall time). */
function minutes(ts: unknown): number | undefined {
  const norm = typeof ts === 'string' ? normalizeDateTime(ts.slice(0, 19)) : undefined;
  return norm === undefined ? undefined : Date.parse(`${norm}Z`) / 60_000;
}

/**
 * The appointment `a` overlaps: another live (not deleted), non-break appointment in the same office and exam room
 * (DrChrono's calendar columns are exam rooms) whose [start, start + duration) intersects a's. Breaks neither
 * block nor are blocked. Returns the other appointment's id, or undefined.
 */
export function findOverlap(a: Json, all: readonly Json[]): string | undefined {
  if (a.appt_is_break === true) return undefined;
  const start = minutes(a.scheduled_time);
  const dur = typeof a.duration === 'number' ? a.duration : 0;
  if (start === undefined || dur <= 0) return undefined;
  for (const b of all) {
    if (b.id === a.id || b.deleted_flag === true || b.appt_is_break === true) continue;
    if (b.office !== a.office || b.exam_room !== a.exam_room) continue;
    const bStart = minutes(b.scheduled_time);
    const bDur = typeof b.duration === 'number' ? b.duration : 0;
    if (bStart === undefined || bDur <= 0) continue;
    if (start < bStart + bDur && bStart < start + dur) return String(b.id);
  }
  return undefined;
}
