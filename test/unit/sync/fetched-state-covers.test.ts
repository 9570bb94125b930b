import patientJson from '../../fixtures/drchrono/patient.json';
import { DEFAULT_TEAM_SYNC_CONFIG, mapPatient, type MappedRecord, type TeamSyncConfig } from '../../../shared/mapping';
import { PATIENT_FIELDS } from '../../../shared/mapping/field-names';
import type { FieldValue } from '../../../shared/mapping/mapped-record';
import { versionKey } from '../../../shared/store/record-version';
import { storedContentHash, type StoredRecordState } from '../../../shared/store/records';
import { fetchedStateCovers } from '../../../shared/sync/fetched-state-covers';

/**
 * The rule that lets a delivered patient state without the verbose-only fields (the echo of our own write-back)
 * end `unchanged` without a fetch: a stored verbose fetch of the same second with the same fields covers it.
 */
const FETCHED_AT = '2026-11-21T10:14:00.000Z';
const RECEIVED_AT = '2026-11-21T10:14:01.000Z';
const config: TeamSyncConfig = DEFAULT_TEAM_SYNC_CONFIG;
const patient = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(patientJson), ...o });

/** The webhook body: the patient without the verbose-only sources. */
function slim(o: Record<string, unknown> = {}): Record<string, unknown> {
  const p = patient(o);
  for (const k of ['primary_insurance', 'secondary_insurance', 'patient_flags', 'patient_flags_attached']) delete p[k];
  return p;
}

const map = (obj: Record<string, unknown>, observedAt: string, authority: 'fetched' | 'delivered', c: TeamSyncConfig = config): MappedRecord =>
  mapPatient(obj, { config: c, profileNames: new Map(), flagTypeNames: new Map(), observedAt, authority });

/** What getRecordState reads back after writeRecord stored `written` (empty fields absent = null, every field listed). */
function stored(written: MappedRecord, o: Partial<StoredRecordState> = {}): StoredRecordState {
  const fields: Record<string, FieldValue> = Object.fromEntries(PATIENT_FIELDS.map((f) => [f, null]));
  for (const [f, v] of Object.entries(written.fields)) fields[f] = v;
  return {
    record: { entity: 'patient', drchronoId: written.drchronoId, fields, version: versionKey(written.version), deleted: false, ...(written.key ? { chartId: written.key } : {}) },
    contentHash: storedContentHash(written),
    chartFanOutPending: false,
    ...o,
  };
}

describe('fetchedStateCovers', () => {
  const fetched = map(patient(), FETCHED_AT, 'fetched');

  it('covers a delivery of the same updated_at and fields as a stored verbose fetch (the echo)', () => {
    expect(fetchedStateCovers(stored(fetched), map(slim(), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(true);
  });

  it('does not cover it when the stored state was delivered, not fetched (it may lack a later same-second change)', () => {
    const delivered = map(patient(), FETCHED_AT, 'delivered');
    expect(fetchedStateCovers(stored(delivered), map(slim(), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover a delivery with another updated_at', () => {
    expect(fetchedStateCovers(stored(fetched), map(slim({ updated_at: '2024-01-15T10:30:01' }), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover a delivery whose non-verbose field differs within the same second', () => {
    expect(fetchedStateCovers(stored(fetched), map(slim({ email: 'other@example.invalid' }), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover a delivery with another Chart ID, even for a team that does not map "Chart ID"', () => {
    const noChart: TeamSyncConfig = { ...config, fields: { ...config.fields, patient: config.fields.patient.filter((f) => f !== 'Chart ID') } };
    const fetchedNoChart = map(patient(), FETCHED_AT, 'fetched', noChart);
    expect(fetchedStateCovers(stored(fetchedNoChart), map(slim(), RECEIVED_AT, 'delivered', noChart), noChart.fields.patient)).toBe(true);
    expect(fetchedStateCovers(stored(fetchedNoChart), map(slim({ chart_id: 'OTHER0001' }), RECEIVED_AT, 'delivered', noChart), noChart.fields.patient)).toBe(false);
  });

  it('compares list fields a delivery carries by value', () => {
    const withFlags = patient();
    delete withFlags.primary_insurance;
    expect(fetchedStateCovers(stored(fetched), map(withFlags, RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(true);
    const otherText = patient({ patient_flags_attached: [{ id: 88120, flag_type: 5521, flag_text: 'Another note', archived: false }] });
    delete otherText.primary_insurance;
    expect(fetchedStateCovers(stored(fetched), map(otherText, RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover it when a field was added to the team after the fetch (the stored hash is not reproduced)', () => {
    const before: TeamSyncConfig = { ...config, fields: { ...config.fields, patient: config.fields.patient.filter((f) => f !== 'Insurance Company') } };
    const fetchedBefore = map(patient(), FETCHED_AT, 'fetched', before);
    expect(fetchedStateCovers(stored(fetchedBefore), map(slim(), RECEIVED_AT, 'delivered'), before.fields.patient)).toBe(true);
    expect(fetchedStateCovers(stored(fetchedBefore), map(slim(), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover it when the stored item does not hold exactly its hashed content (or has no hash)', () => {
    const s = stored(fetched);
    expect(fetchedStateCovers({ ...s, record: { ...s.record, fields: { ...s.record.fields, 'Insurance Company': 'Changed' } } }, map(slim(), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
    const { contentHash: _hash, ...noHash } = s;
    expect(fetchedStateCovers(noHash, map(slim(), RECEIVED_AT, 'delivered'), config.fields.patient)).toBe(false);
  });

  it('does not cover a deleted record, a pending Chart ID fan-out, or no record', () => {
    const delivery = map(slim(), RECEIVED_AT, 'delivered');
    const s = stored(fetched);
    expect(fetchedStateCovers({ ...s, record: { ...s.record, deleted: true } }, delivery, config.fields.patient)).toBe(false);
    expect(fetchedStateCovers({ ...s, chartFanOutPending: true }, delivery, config.fields.patient)).toBe(false);
    expect(fetchedStateCovers(undefined, delivery, config.fields.patient)).toBe(false);
  });
});
