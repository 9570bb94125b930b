import type * as z from 'zod/mini';
import '../validation/english-messages';
import type { RecordVersion, VersionAuthority } from '../store/record-version';
import type { Entity } from './field-names';
import type { TeamSyncConfig } from './team-sync-config';

export type FieldValue = string | number | boolean | string[] | null;

/** One DrChrono object as the records table stores it: user-facing field names, plus what the log needs. */
export interface MappedRecord {
  entity: Entity;
  /** DrChrono's id of the object (the records table sort key). */
  drchronoId: string;
  /** The user-facing key: Chart ID (patient), Claim ID (appointment), Chrono Doctor ID (employee). */
  key: string;
  /** The fields to write, exactly the names in fieldsWritten. null clears a field. */
  fields: Record<string, FieldValue>;
  fieldsWritten: string[];
  /** Fields the team lacks, plus mapped fields whose DrChrono source was absent (left as stored). */
  fieldsSkipped: string[];
  version: RecordVersion;
  /** Appointments: deleted in DrChrono (APPOINTMENT_DELETE or deleted_flag). Terminal. */
  deleted?: boolean;
  /** Set when the object is not synced at all (breaks); the sync worker logs it as ignored. */
  skipReason?: 'break';
  /** Appointments: the patient's DrChrono id, kept as bookkeeping so the reference survives Chart ID changes. */
  patientDrchronoId?: string | null;
  /**
   * Appointments: the stored version of the patient record "Patient" was read from (absent when it came from
   * DrChrono or was not resolved). A Chart ID fan-out applies only over an older one, so it is order-safe.
   */
  patientVersion?: string;
  /**
   * Appointments: the DrChrono profile id "Appt Profile" was labelled from (null: no profile), so reconcile can
   * relabel by id after a rename instead of guessing from the old label. Absent when the label was not written.
   */
  profileId?: number | null;
}

export interface MappingContext {
  config: TeamSyncConfig;
  /** `/api/appointment_profiles` id → name, cached per team by the sync worker. */
  profileNames: ReadonlyMap<number, string>;
  /** `/api/patient_flag_types` id → name; used when the patient object lacks `patient_flags`. */
  flagTypeNames: ReadonlyMap<number, string>;
  /**
   * Patient DrChrono id → Chart ID, for an appointment's "Patient" reference (the patient's record key).
   * The sync worker resolves it (store, else a patient fetch) before mapping. Unresolved → "Patient" is
   * cleared (written empty), never left naming a previous patient; the sync worker logs why.
   */
  patientChartIds?: ReadonlyMap<number, string>;
  /** Patient DrChrono id → the stored patient record's version its Chart ID was read from (MappedRecord.patientVersion). */
  patientVersions?: ReadonlyMap<number, string>;
  /** When this state was observed (ISO UTC): webhook receivedAt / list time, or when the fetch request was sent. */
  observedAt?: string;
  /** 'fetched' when the object was fetched by id at observedAt; default 'delivered' (webhook or list). */
  authority?: VersionAuthority;
  /** The delivery's event: APPOINTMENT_DELETE maps the appointment to a deletion. */
  event?: string;
}

/** The DrChrono object does not have the shape we map. The message names paths and rules, never values. */
export class MappingValidationError extends Error {
  override name = 'MappingValidationError';
  constructor(entity: Entity, error: z.core.$ZodError) {
    super(`invalid DrChrono ${entity}: ${error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/**
 * Collects field values under the two emptiness rules: `undefined` means DrChrono did not send the source
 * (skip, keep what is stored); `null` means DrChrono sent it empty (clear). Fields the team lacks are skipped.
 */
export class FieldCollector {
  readonly fields: Record<string, FieldValue> = {};
  readonly written: string[] = [];
  readonly skipped: string[] = [];
  private readonly wanted: ReadonlySet<string>;

  constructor(wanted: readonly string[]) {
    this.wanted = new Set(wanted);
  }

  set(name: string, value: FieldValue | undefined): void {
    if (!this.wanted.has(name) || value === undefined) {
      this.skipped.push(name);
      return;
    }
    this.fields[name] = value;
    this.written.push(name);
  }
}

/** DrChrono text: absent stays absent, "" and null clear. */
export function textValue(v: string | null | undefined): string | null | undefined {
  if (v === undefined) return undefined;
  return v === null || v === '' ? null : v;
}

/** A text value through a label function; empty stays null, absent stays absent. */
export function labelled(v: string | null | undefined, label: (code: string) => string): string | null | undefined {
  const t = textValue(v);
  return typeof t === 'string' ? label(t) : t;
}

/** DrChrono integer ids are stored as strings, the type of every record key. */
export function idValue(v: number | null | undefined): string | null | undefined {
  if (v === undefined) return undefined;
  return v === null ? null : String(v);
}
