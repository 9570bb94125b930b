import type { FieldValue, MappedRecord } from '../mapping/mapped-record';
import { parseVersionKey } from '../store/record-version';
import { storedContentHash, type StoredRecordState } from '../store/records';

/**
 * Whether a delivered patient state that lacks the team's verbose-only fields (flags, insurance) is already
 * covered by the state the record holds, so the verbose fetch it would otherwise need is skipped and nothing is
 * written ('unchanged'). The typical case is DrChrono's webhook for our own write-back (the echo): the
 * write-back worker stored DrChrono's read-back, verbose, as a fetched state of the same second. DrChrono's
 * retries of a delivery already synced are the other.
 *
 * Covered when all of these hold:
 *  - the stored version is a FETCHED one (read by id, verbose as the team needs, see fetchCurrentState) with the
 *    same `updated_at` as the delivery. A fetch sent at T holds every change made before T, so every state of
 *    that second up to T;
 *  - the stored item holds exactly one mapped state under the team's CURRENT fields: its content hash is
 *    reproduced from its fields. A field added to the team since that fetch (stored absent, not in the hash),
 *    a flag name the fetch could not resolve, or a rename that could not rehash fails this, and the fetch is
 *    made as before;
 *  - every field the delivery carries (the non-verbose ones, and any verbose source it does carry), and its
 *    Chart ID, equal the stored ones;
 *  - no Chart ID fan-out of the patient is pending (the normal write path finishes it).
 *
 * What it can miss: a change made AFTER the fetch, within the same `updated_at` second (DrChrono's precision),
 * that touched only verbose-only fields. Its delivery looks like the echo. The window is the rest of that
 * second after the fetch (a later change gets a later `updated_at`, which never matches). Such a state is
 * healed by the hourly reconcile, which lists patients verbose (`since` includes that second): different
 * content of the same second is a tie, settled by a fetch. Flags are not at risk: a flag change has its own
 * PATIENT_FLAG_* event, which always re-reads the patient (it may leave `updated_at` as it was, so this rule
 * never applies to those events). Assumed: an insurance change moves the patient's `updated_at` (insurance is
 * part of the patient object; DrChrono does not document it; the sandbox does so) — otherwise its webhook
 * would match a stored fetch of the previous second's state.
 */
export function fetchedStateCovers(stored: StoredRecordState | undefined, delivered: MappedRecord, mappedFields: readonly string[]): boolean {
  if (!stored || stored.record.deleted || stored.chartFanOutPending || delivered.deleted) return false;
  const version = parseVersionKey(stored.record.version);
  if (!version || version.deletion || version.authority !== 'fetched') return false;
  if (version.updatedAt === null || version.updatedAt !== delivered.version.updatedAt) return false;

  const storedFields = stored.record.fields;
  const chartId = stored.record.chartId ?? '';
  const current = Object.fromEntries(mappedFields.map((f) => [f, storedFields[f] ?? null]));
  if (stored.contentHash === undefined || storedContentHash({ entity: 'patient', fields: current, key: chartId }) !== stored.contentHash) return false;

  if ((delivered.key || '') !== chartId) return false;
  return delivered.fieldsWritten.every((f) => sameValue(delivered.fields[f] ?? null, storedFields[f] ?? null));
}

/** Two stored field values are equal (lists element by element, in order). */
export function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}
