/**
 * The convergence oracle: what the records table must hold for a team with the default sync config, computed
 * from the DrChrono sandbox's own current state (GET /_sandbox/data).
 *
 * INDEPENDENT of the product's mapping code (shared/mapping/): every field rule below is written from
 * docs/mapping.md and the integration guide, not imported, so a mapping bug shows as a divergence. The one
 * shared rule is the language label of ISO codes outside the default list, which both sides take from
 * Intl.DisplayNames (the platform's ICU is the reference either way). What IS shared: the field names
 * (shared/mapping/field-names.ts, the records table's schema) and the record reader (shared/store/records.ts).
 */
export type Json = Record<string, unknown>;
export type FieldValue = string | number | boolean | string[] | null;
export type Fields = Record<string, FieldValue>;

export interface SandboxData {
  doctors: Json[];
  profiles: Json[];
  flagTypes: Json[];
  patients: Json[];
  appointments: Json[];
}

/** What one DrChrono object must look like in the records table. */
export type Expected =
  | { entity: 'patient' | 'appointment' | 'employee'; id: string; state: 'live'; fields: Fields; chartId?: string }
  /** Deleted in DrChrono: a tombstone, or no record if the product never saw the object alive. */
  | { entity: 'patient' | 'appointment'; id: string; state: 'deleted' }
  /** Not something the product stores (a break). */
  | { entity: 'appointment'; id: string; state: 'absent' };

const SEX: Record<string, string> = { Male: 'Male', Female: 'Female', Other: 'Other', UNK: 'Unknown', ASKU: 'Asked but unknown' };
const STATUS: Record<string, string> = { A: 'Active', I: 'Inactive', D: 'Inactive - Deceased' };
const LANGUAGE: Record<string, string> = { eng: 'English', spa: 'Spanish', blank: 'Blank', other: 'Other', unknown: 'Unknown', declined: 'Declined' };
const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/** "" and null both mean "no value" in DrChrono; the record stores nothing (reported as null). */
function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function label(v: unknown, list: Record<string, string>): string | null {
  const t = text(v);
  return t === null ? null : Object.hasOwn(list, t) ? list[t]! : t;
}

function language(v: unknown): string | null {
  const t = text(v);
  if (t === null) return null;
  if (Object.hasOwn(LANGUAGE, t)) return LANGUAGE[t]!;
  try {
    return languageNames.of(t) ?? t;
  } catch {
    return t;
  }
}

function firstText(...vs: unknown[]): string | null {
  for (const v of vs) if (text(v) !== null) return text(v);
  return null;
}

function address(p: Json): string | null {
  const t = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const stateZip = [t(p.state), t(p.zip_code)].filter(Boolean).join(' ');
  const joined = [t(p.address), t(p.city), stateZip].filter(Boolean).join(', ');
  return joined === '' ? null : joined;
}

function insurance(ins: unknown, key: string): string | null {
  return ins && typeof ins === 'object' ? text((ins as Json)[key]) : null;
}

function flags(p: Json, flagTypes: Json[]): { names: string[] | null; described: string[] | null } {
  const attached = Array.isArray(p.patient_flags_attached) ? (p.patient_flags_attached as Json[]) : [];
  const names: string[] = [];
  const described: string[] = [];
  for (const f of attached) {
    if (f.archived === true) continue;
    const type = flagTypes.find((t) => t.id === f.flag_type);
    const name = typeof type?.name === 'string' ? type.name : `#${String(f.flag_type)}`;
    if (!names.includes(name)) names.push(name);
    described.push(text(f.flag_text) ? `${name}: ${String(f.flag_text)}` : name);
  }
  return names.length === 0 ? { names: null, described: null } : { names, described };
}

export function expectedPatient(p: Json, data: SandboxData): Fields {
  const f = flags(p, data.flagTypes);
  const ins1 = p.primary_insurance;
  const ins2 = p.secondary_insurance;
  return {
    'Dr Chrono ID': String(p.id),
    'Chart ID': text(p.chart_id),
    'First Name': text(p.first_name),
    'Middle Name': text(p.middle_name),
    'Last Name': text(p.last_name),
    'Date of Birth': text(p.date_of_birth),
    Sex: label(p.gender, SEX),
    'Patient SSN': text(p.social_security_number),
    Language: language(p.preferred_language),
    Status: label(p.patient_status, STATUS),
    'Home Phone': text(p.home_phone),
    'Cell Phone': text(p.cell_phone),
    Email: text(p.email),
    'Disable SMS/Txt': typeof p.disable_sms_messages === 'boolean' ? p.disable_sms_messages : null,
    Address: address(p),
    'Emergency Contact Name': text(p.emergency_contact_name),
    'Emergency Contact Phone': text(p.emergency_contact_phone),
    'Emergency Contact Relation': text(p.emergency_contact_relation),
    'Primary Provider': typeof p.doctor === 'number' ? String(p.doctor) : null,
    'Patient Flags': f.names,
    'Patient Flags and Descriptions': f.described,
    'Date of Last Appointment': text(p.date_of_last_appointment),
    'Insurance Company': insurance(ins1, 'insurance_company'),
    'Insurance ID Number': insurance(ins1, 'insurance_id_number'),
    'Insurance Group Number': insurance(ins1, 'insurance_group_number'),
    'Secondary Insurance': insurance(ins2, 'insurance_company'),
    'Secondary Insurance ID Number': insurance(ins2, 'insurance_id_number'),
    'Secondary Insurance Group Number': insurance(ins2, 'insurance_group_number'),
    'Responsible Party Name': text(p.responsible_party_name),
    'Responsible Party Relation': text(p.responsible_party_relation),
    'Responsible Party Email': text(p.responsible_party_email),
    'Responsible Party Phone': text(p.responsible_party_phone),
  };
}

/**
 * Live appointment fields; `Patient` is the CURRENT Chart ID of the appointment's patient. When that patient has
 * been deleted (the sandbox keeps such appointments; what DrChrono does with them is undocumented) the field is
 * not judged.
 */
export function expectedAppointment(a: Json, data: SandboxData): Fields {
  const patient = data.patients.find((p) => p.id === a.patient);
  const profile = a.profile === null || a.profile === undefined ? undefined : data.profiles.find((x) => x.id === a.profile);
  return {
    ...(patient ? { Patient: text(patient.chart_id) } : {}),
    Provider: typeof a.doctor === 'number' ? String(a.doctor) : null,
    'Appt Profile': profile && typeof profile.name === 'string' ? profile.name : null,
    'Appt Status': text(a.status),
    'Date of Service': text(a.scheduled_time),
    Reason: text(a.reason),
    Duration: typeof a.duration === 'number' ? a.duration : null,
    'Claim ID': String(a.id),
  };
}

export function expectedEmployee(d: Json): Fields {
  return {
    'First Name': text(d.first_name),
    'Last Name': text(d.last_name),
    'Work Phone': text(d.office_phone),
    'Personal Phone': firstText(d.cell_phone, d.home_phone),
    'Chrono Doctor ID': String(d.id),
    NPI: firstText(d.npi_number, d.group_npi_number),
    'Work Email': text(d.email),
  };
}

/**
 * The projection of the whole practice. `deletedPatientIds` are patients the sequence deleted (DrChrono
 * hard-deletes them, so the sandbox no longer knows them).
 */
export function project(data: SandboxData, deletedPatientIds: readonly number[]): Expected[] {
  const out: Expected[] = [];
  for (const p of data.patients) out.push({ entity: 'patient', id: String(p.id), state: 'live', fields: expectedPatient(p, data), ...(text(p.chart_id) ? { chartId: String(p.chart_id) } : {}) });
  for (const id of deletedPatientIds) if (!data.patients.some((p) => p.id === id)) out.push({ entity: 'patient', id: String(id), state: 'deleted' });
  for (const a of data.appointments) {
    const id = String(a.id);
    if (a.deleted_flag === true) out.push({ entity: 'appointment', id, state: 'deleted' });
    else if (a.appt_is_break === true || a.patient === null) out.push({ entity: 'appointment', id, state: 'absent' });
    else out.push({ entity: 'appointment', id, state: 'live', fields: expectedAppointment(a, data) });
  }
  for (const d of data.doctors) out.push({ entity: 'employee', id: String(d.id), state: 'live', fields: expectedEmployee(d) });
  return out;
}

export interface StoredView {
  entity: 'patient' | 'appointment' | 'employee';
  id: string;
  deleted: boolean;
  fields: Record<string, unknown>;
}

export interface Divergence {
  kind: 'field' | 'missing' | 'extra' | 'not-deleted' | 'queue' | 'dlq' | 'delivery-unlogged' | 'settle' | 'change' | 'change-unlogged' | 'echo';
  entity?: string;
  id?: string;
  /** Field names only (values are PHI-shaped; synthetic here, but the report stays ids-only). */
  fields?: string[];
  detail?: string;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Compares the team's stored records with the projection; never prints values, only ids and field names. */
export function compare(expected: readonly Expected[], stored: readonly StoredView[]): Divergence[] {
  const out: Divergence[] = [];
  const byKey = new Map(stored.map((s) => [`${s.entity}#${s.id}`, s]));
  const known = new Set<string>();
  for (const e of expected) {
    const key = `${e.entity}#${e.id}`;
    known.add(key);
    const s = byKey.get(key);
    if (e.state === 'absent') {
      if (s && !s.deleted) out.push({ kind: 'extra', entity: e.entity, id: e.id, detail: 'a break has a record' });
      continue;
    }
    if (e.state === 'deleted') {
      if (s && !s.deleted) out.push({ kind: 'not-deleted', entity: e.entity, id: e.id });
      continue;
    }
    if (!s) {
      out.push({ kind: 'missing', entity: e.entity, id: e.id });
      continue;
    }
    if (s.deleted) {
      out.push({ kind: 'field', entity: e.entity, id: e.id, detail: 'live object stored as a tombstone' });
      continue;
    }
    const diff = Object.keys(e.fields).filter((name) => !same(e.fields[name], s.fields[name]));
    if (diff.length > 0) out.push({ kind: 'field', entity: e.entity, id: e.id, fields: diff });
  }
  for (const s of stored) {
    if (!known.has(`${s.entity}#${s.id}`) && !s.deleted) out.push({ kind: 'extra', entity: s.entity, id: s.id, detail: 'record for an object DrChrono does not have' });
  }
  return out;
}
