import fc from 'fast-check';
import { mapAppointment, mapEmployee, mapPatient, type FieldValue, type MappedRecord } from '../../../shared/mapping';
import type { WriteOutcome } from '../../../shared/store/record-version';
import { appointment, context, doctor, patient } from './fixtures';

/**
 * Arbitrary delivery histories for property tests. For a patient, two appointments and a doctor: a run of
 * states in DrChrono order, where consecutive patient and appointment states often share an `updated_at`
 * second (DrChrono's precision), each mapped by the real mapping from the fixtures; appointments may end in
 * deletion (an APPOINTMENT_DELETE stub), doctors are fetched (no updated_at, rising fetch times).
 *
 * The model DrChrono holds each object's LAST state: `fetchCurrent` is what a fetch by id returns.
 * `shuffled` is any permutation of the deliveries with any of them repeated, each stamped with the time we
 * received it: at most 30 ms before it is processed (processing k happens at processedAt(k)), so a receipt
 * can fall before or after an earlier fetch.
 */
export interface DeliveryHistory {
  shuffled: MappedRecord[];
  fetchCurrent(record: MappedRecord, sentAt: string): MappedRecord;
  /** Per object (`<entity>#<id>`): the current DrChrono state as the store must end up holding it. */
  expected: Map<string, StoredState>;
}

export interface StoredState {
  deleted: boolean;
  fields: Record<string, FieldValue>;
}

const BASE_MS = Date.UTC(2024, 0, 16, 12, 0, 0);
const STEP_MS = 10;
const MAX_RECEIPT_LAG_MS = 30;

/** When the k-th delivery of `shuffled` is processed (and any fetch it makes is sent). */
export function processedAt(k: number): string {
  return new Date(BASE_MS + STEP_MS * k + 5).toISOString();
}

const second = (n: number) => `2024-01-15T10:30:${String(n).padStart(2, '0')}`;
const fetchedAt = (minute: number) => `2024-01-16T11:${String(minute).padStart(2, '0')}:00.000Z`;

/** A content value per state; small alphabet so consecutive states sometimes share content. */
const contentArb = fc.constantFrom('a', 'b', 'c');
/** States of one object: content, and whether it shares the previous state's updated_at second. */
const statesArb = (minLength: number) => fc.array(fc.record({ content: contentArb, sameSecond: fc.boolean() }), { minLength, maxLength: 4 });

function seconds(states: { sameSecond: boolean }[]): string[] {
  let n = 0;
  return states.map((s, i) => second(i === 0 || s.sameSecond ? n : ++n));
}

export const objectId = (r: MappedRecord) => `${r.entity}#${r.drchronoId}`;

export const deliveryHistoryArb: fc.Arbitrary<DeliveryHistory> = fc
  .record({
    patientStates: statesArb(1),
    apptStates: fc.array(statesArb(0), { minLength: 2, maxLength: 2 }),
    apptDeleted: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    doctorStates: fc.array(contentArb, { minLength: 1, maxLength: 3 }),
  })
  .chain(({ patientStates, apptStates, apptDeleted, doctorStates }) => {
    const deliveries: MappedRecord[] = [];
    /** DrChrono's current object by objectId, and how a fetch maps it. */
    const current = new Map<string, (sentAt: string) => MappedRecord>();

    const patientSeconds = seconds(patientStates);
    patientStates.forEach(({ content }, i) => {
      const raw = patient({ updated_at: patientSeconds[i], email: `${content}@example.com`, middle_name: content === 'c' ? '' : content });
      const delivered = mapPatient(raw, context());
      deliveries.push(delivered);
      current.set(objectId(delivered), (sentAt) => mapPatient(raw, context({ observedAt: sentAt, authority: 'fetched' })));
    });
    apptStates.forEach((states, n) => {
      const id = `appt-${n}`;
      const apptSeconds = seconds(states);
      let last: Record<string, unknown> | undefined;
      states.forEach(({ content }, i) => {
        last = appointment({ id, updated_at: apptSeconds[i], reason: content, duration: 15 + i });
        deliveries.push(mapAppointment(last, context()));
      });
      if (apptDeleted[n]) {
        deliveries.push(mapAppointment({ id }, context({ event: 'APPOINTMENT_DELETE' })));
        last = appointment({ id, updated_at: second(59), deleted_flag: true });
      }
      const fetchable = last;
      if (fetchable) current.set(`appointment#${id}`, (sentAt) => mapAppointment(fetchable, context({ observedAt: sentAt, authority: 'fetched' })));
    });
    doctorStates.forEach((content, i) => {
      const raw = doctor({ npi_number: `NPI-${content}` });
      const fetched = mapEmployee(raw, context({ observedAt: fetchedAt(i) }));
      deliveries.push(fetched);
      current.set(objectId(fetched), (sentAt) => mapEmployee(raw, context({ observedAt: sentAt })));
    });

    const expected = new Map<string, StoredState>();
    for (const [id, fetch] of current) {
      const state = fetch(processedAt(0));
      expected.set(id, { deleted: state.deleted === true, fields: state.fields });
    }
    const fetchCurrent = (record: MappedRecord, sentAt: string): MappedRecord => {
      const fetch = current.get(objectId(record));
      if (!fetch) throw new Error(`the model DrChrono has no ${objectId(record)}`);
      return fetch(sentAt);
    };

    const withRepeats = fc
      .array(fc.nat({ max: deliveries.length - 1 }), { maxLength: deliveries.length })
      .map((repeat) => [...deliveries, ...repeat.map((i) => deliveries[i] as MappedRecord)]);
    return withRepeats.chain((all) =>
      fc
        .tuple(
          fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
          fc.array(fc.integer({ min: 0, max: MAX_RECEIPT_LAG_MS }), { minLength: all.length, maxLength: all.length }),
        )
        .map(([order, lags]) => ({
          shuffled: order.map((r, k) => receivedAt(r, new Date(BASE_MS + STEP_MS * k - (lags[k] ?? 0)).toISOString())),
          fetchCurrent,
          expected,
        })),
    );
  });

/** A delivered state as received at `at`; fetched states (doctors) keep their fetch time. */
function receivedAt(record: MappedRecord, at: string): MappedRecord {
  return record.version.authority === 'delivered' ? { ...record, version: { ...record.version, observedAt: at } } : record;
}

/**
 * The sync worker's rule over any store: write each delivery; on a 'tie', fetch the object (when the
 * delivery is processed) and write that state, as processIngestMessage does. Returns the fetches ties cost.
 */
export async function processDeliveries(
  history: DeliveryHistory,
  write: (record: MappedRecord) => Promise<WriteOutcome> | WriteOutcome,
): Promise<number> {
  let fetches = 0;
  for (const [k, delivery] of history.shuffled.entries()) {
    if ((await write(delivery)) !== 'tie') continue;
    fetches += 1;
    // Sent after every receipt so far, so it supersedes whatever tied: one fetch settles it.
    const settled = await write(history.fetchCurrent(delivery, processedAt(k)));
    if (settled === 'tie') throw new Error(`a fetch did not settle the tie on ${objectId(delivery)}`);
  }
  return fetches;
}
