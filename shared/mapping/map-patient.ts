import * as z from 'zod/mini';
import { DateString, PatientSchema, Timestamp, type Insurance, type Patient, type PatientFlag } from '../drchrono/schemas';
import { recordVersion } from '../store/record-version';
import { languageLabel, sexLabel, statusLabel } from './choice-labels';
import { PATIENT_FLAG_FIELDS, PATIENT_INSURANCE_FIELDS } from './field-names';
import {
  FieldCollector,
  MappingValidationError,
  idValue,
  labelled,
  textValue,
  type MappedRecord,
  type MappingContext,
} from './mapped-record';
import type { TeamSyncConfig } from './team-sync-config';

/** Lenient where DrChrono is: "" dates, and a missing updated_at (versioned by observation time instead). */
const optionalDate = z.nullish(z.union([DateString, z.literal('')]));
const MappablePatientSchema = z.extend(PatientSchema, {
  updated_at: z.nullish(Timestamp),
  date_of_birth: optionalDate,
  date_of_last_appointment: optionalDate,
});
type MappablePatient = z.infer<typeof MappablePatientSchema>;

/** The four DrChrono address parts "Address" is composed of. */
export type AddressParts = Pick<MappablePatient, 'address' | 'city' | 'state' | 'zip_code'>;

/**
 * "123 Main Street, San Francisco, CA 94107": blank parts left out; absent only when every part is absent.
 * The write API splits "Address" back (shared/write-back/address-parts.ts); keep the two in step.
 */
export function composeAddress(p: AddressParts): string | null | undefined {
  const parts = [p.address, p.city, p.state, p.zip_code];
  if (parts.every((v) => v === undefined)) return undefined;
  const clean = (v: string | null | undefined) => (v ?? '').trim();
  const stateZip = [clean(p.state), clean(p.zip_code)].filter(Boolean).join(' ');
  const joined = [clean(p.address), clean(p.city), stateZip].filter(Boolean).join(', ');
  return joined === '' ? null : joined;
}

/** Insurance fields: absent object → absent (verbose-only), null or {} → cleared. */
function insuranceValue(ins: Insurance | null | undefined, key: keyof Insurance): string | null | undefined {
  if (ins === undefined) return undefined;
  if (ins === null) return null;
  return textValue(ins[key] as string | null | undefined) ?? null;
}

interface FlagValues {
  names: string[] | null | undefined;
  described: string[] | null | undefined;
}

/**
 * Attached, non-archived flags. Names come from the object's own `patient_flags` (verbose), else the team's
 * flag types. If any name is unknown both fields are left as stored rather than written incomplete.
 */
function flagValues(p: MappablePatient, flagTypeNames: ReadonlyMap<number, string>): FlagValues {
  const attached = p.patient_flags_attached;
  if (attached === undefined) return { names: undefined, described: undefined };
  const live = attached.filter((f: PatientFlag) => f.archived !== true);
  const names: string[] = [];
  const described: string[] = [];
  for (const f of live) {
    const name = p.patient_flags?.find((t) => t.id === f.flag_type)?.name ?? flagTypeNames.get(f.flag_type);
    if (name === undefined) return { names: undefined, described: undefined };
    if (!names.includes(name)) names.push(name);
    described.push(f.flag_text ? `${name}: ${f.flag_text}` : name);
  }
  return names.length === 0 ? { names: null, described: null } : { names, described };
}

export function parsePatient(obj: unknown): MappablePatient {
  const parsed = MappablePatientSchema.safeParse(obj);
  if (!parsed.success) throw new MappingValidationError('patient', parsed.error);
  return parsed.data;
}

/** A DrChrono patient (webhook object or API response) → the Patient record, keyed by Chart ID. */
export function mapPatient(obj: Patient | Record<string, unknown>, ctx: MappingContext): MappedRecord {
  const p = parsePatient(obj);
  const { choices } = ctx.config;
  const c = new FieldCollector(ctx.config.fields.patient);
  const flags = flagValues(p, ctx.flagTypeNames);

  c.set('Dr Chrono ID', String(p.id));
  c.set('Chart ID', textValue(p.chart_id));
  c.set('First Name', textValue(p.first_name));
  c.set('Middle Name', textValue(p.middle_name));
  c.set('Last Name', textValue(p.last_name));
  c.set('Date of Birth', textValue(p.date_of_birth));
  c.set('Sex', labelled(p.gender, (code) => sexLabel(code, choices)));
  c.set('Patient SSN', textValue(p.social_security_number));
  c.set('Language', labelled(p.preferred_language, (code) => languageLabel(code, choices)));
  c.set('Status', labelled(p.patient_status, (code) => statusLabel(code, choices)));
  c.set('Home Phone', textValue(p.home_phone));
  c.set('Cell Phone', textValue(p.cell_phone));
  c.set('Email', textValue(p.email));
  c.set('Disable SMS/Txt', p.disable_sms_messages);
  c.set('Address', composeAddress(p));
  c.set('Emergency Contact Name', textValue(p.emergency_contact_name));
  c.set('Emergency Contact Phone', textValue(p.emergency_contact_phone));
  c.set('Emergency Contact Relation', textValue(p.emergency_contact_relation));
  c.set('Primary Provider', idValue(p.doctor));
  c.set('Patient Flags', flags.names);
  c.set('Patient Flags and Descriptions', flags.described);
  c.set('Date of Last Appointment', textValue(p.date_of_last_appointment));
  c.set('Insurance Company', insuranceValue(p.primary_insurance, 'insurance_company'));
  c.set('Insurance ID Number', insuranceValue(p.primary_insurance, 'insurance_id_number'));
  c.set('Insurance Group Number', insuranceValue(p.primary_insurance, 'insurance_group_number'));
  c.set('Secondary Insurance', insuranceValue(p.secondary_insurance, 'insurance_company'));
  c.set('Secondary Insurance ID Number', insuranceValue(p.secondary_insurance, 'insurance_id_number'));
  c.set('Secondary Insurance Group Number', insuranceValue(p.secondary_insurance, 'insurance_group_number'));
  c.set('Responsible Party Name', textValue(p.responsible_party_name));
  c.set('Responsible Party Relation', textValue(p.responsible_party_relation));
  c.set('Responsible Party Email', textValue(p.responsible_party_email));
  c.set('Responsible Party Phone', textValue(p.responsible_party_phone));

  return {
    entity: 'patient',
    drchronoId: String(p.id),
    key: p.chart_id ?? '',
    fields: c.fields,
    fieldsWritten: c.written,
    fieldsSkipped: c.skipped,
    version: recordVersion(p.updated_at, ctx.observedAt ?? new Date().toISOString(), ctx.authority),
  };
}

/**
 * Whether the sync worker must fetch the patient with `verbose=true` first: the team maps insurance or flag
 * fields and the object lacks their (verbose-only) sources.
 */
export function patientNeedsVerbose(obj: Record<string, unknown>, config: TeamSyncConfig): boolean {
  const wants = (names: readonly string[]) => names.some((n) => config.fields.patient.includes(n));
  const insuranceMissing = obj.primary_insurance === undefined || obj.secondary_insurance === undefined;
  const flagsMissing = obj.patient_flags_attached === undefined;
  return (wants(PATIENT_INSURANCE_FIELDS) && insuranceMissing) || (wants(PATIENT_FLAG_FIELDS) && flagsMissing);
}

/**
 * Flag type ids the patient's attached flags use that neither the object nor `known` can name; non-empty
 * means the sync worker should load `/api/patient_flag_types` (only when the team maps flag fields).
 */
export function unresolvedFlagTypeIds(obj: Record<string, unknown>, config: TeamSyncConfig, known: ReadonlyMap<number, string>): number[] {
  if (!PATIENT_FLAG_FIELDS.some((n) => config.fields.patient.includes(n))) return [];
  const p = parsePatient(obj);
  const ids = new Set<number>();
  for (const f of p.patient_flags_attached ?? []) {
    if (f.archived === true || known.has(f.flag_type) || p.patient_flags?.some((t) => t.id === f.flag_type)) continue;
    ids.add(f.flag_type);
  }
  return [...ids];
}
