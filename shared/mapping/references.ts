import { PATIENT_FLAG_FIELDS } from './field-names';
import type { MappedRecord } from './mapped-record';
import type { TeamSyncConfig } from './team-sync-config';

/**
 * Chrono Doctor IDs a record points at (Primary Provider, Provider) that the Employee records must hold.
 * With a config whose employee field set is empty, none: the team keeps no employees, so fetch none.
 */
export function referencedDoctorIds(record: MappedRecord, config?: TeamSyncConfig): string[] {
  if (config && config.fields.employee.length === 0) return [];
  const field = record.entity === 'patient' ? 'Primary Provider' : record.entity === 'appointment' ? 'Provider' : undefined;
  const id = field === undefined ? undefined : record.fields[field];
  return typeof id === 'string' ? [id] : [];
}

/** Whether mapping appointments needs the team's appointment profile names at all. */
export function needsProfileNames(config: TeamSyncConfig): boolean {
  return config.fields.appointment.includes('Appt Profile');
}

/** Whether the team maps "Patient Flags" or "Patient Flags and Descriptions": only then do flag events cost a call. */
export function mapsPatientFlags(config: TeamSyncConfig): boolean {
  return PATIENT_FLAG_FIELDS.some((name) => config.fields.patient.includes(name));
}

const PATIENT_ONLY_KEYS = ['chart_id', 'first_name', 'last_name', 'date_of_birth', 'patient_flags_attached'];
const ID = /^[0-9]{1,18}$/;

/**
 * The DrChrono patient id a PATIENT_FLAG_* delivery is about. DrChrono does not document the object of these
 * events, so both plausible shapes are read: a flag object with a patient reference (`patient`, as the other
 * patient-owned objects carry it) → that id; the patient itself (it carries patient-only keys such as
 * `chart_id`) → its `id`. Anything else names no patient: undefined (the delivery fails, visibly).
 * Either way the worker re-reads the patient rather than trusting the object.
 */
export function flagEventPatientId(object: Record<string, unknown>): string | undefined {
  const ref = object.patient;
  if ((typeof ref === 'number' && Number.isSafeInteger(ref) && ref >= 0) || (typeof ref === 'string' && ID.test(ref))) return String(ref);
  if (PATIENT_ONLY_KEYS.some((k) => k in object)) {
    const id = object.id;
    if ((typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) || (typeof id === 'string' && ID.test(id))) return String(id);
  }
  return undefined;
}
