import fc from 'fast-check';
import { mapAppointment, mapEmployee, mapPatient, type MappedRecord } from '../../../shared/mapping';
import { appointment, context, doctor, patient } from './fixtures';

/**
 * Arbitrary delivery histories for property tests: for a patient, two appointments and a doctor, a run of
 * states in DrChrono order (rising updated_at, or rising fetch time for the doctor), each mapped by the real
 * mapping from the fixtures, and for appointments possibly a final APPOINTMENT_DELETE stub.
 * `deliveries` is in order; `shuffled` is any permutation of it with any deliveries repeated.
 */
export interface DeliveryHistory {
  deliveries: MappedRecord[];
  shuffled: MappedRecord[];
}

const stamp = (minute: number) => `2024-01-15T10:${String(minute).padStart(2, '0')}:00`;
const fetchedAt = (minute: number) => `2024-01-16T12:${String(minute).padStart(2, '0')}:00.000Z`;

/** A content value per state; small alphabet so consecutive states sometimes share content. */
const contentArb = fc.constantFrom('a', 'b', 'c');

function history(states: string[], build: (content: string, i: number) => MappedRecord, deletion?: () => MappedRecord): MappedRecord[] {
  const out = states.map((content, i) => build(content, i));
  if (deletion) out.push(deletion());
  return out;
}

export const deliveryHistoryArb: fc.Arbitrary<DeliveryHistory> = fc
  .record({
    patientStates: fc.array(contentArb, { minLength: 1, maxLength: 4 }),
    apptStates: fc.array(fc.array(contentArb, { minLength: 0, maxLength: 4 }), { minLength: 2, maxLength: 2 }),
    apptDeleted: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    doctorStates: fc.array(contentArb, { minLength: 1, maxLength: 3 }),
  })
  .chain(({ patientStates, apptStates, apptDeleted, doctorStates }) => {
    const deliveries: MappedRecord[] = [
      ...history(patientStates, (content, i) =>
        mapPatient(patient({ updated_at: stamp(i), email: `${content}@example.com`, middle_name: content === 'c' ? '' : content }), context()),
      ),
      ...apptStates.flatMap((states, n) =>
        history(
          states,
          (content, i) => mapAppointment(appointment({ id: `appt-${n}`, updated_at: stamp(i), reason: content, duration: 15 + i }), context()),
          apptDeleted[n] ? () => mapAppointment({ id: `appt-${n}` }, context({ event: 'APPOINTMENT_DELETE', observedAt: fetchedAt(59) })) : undefined,
        ),
      ),
      ...history(doctorStates, (content, i) => mapEmployee(doctor({ npi_number: `NPI-${content}` }), context({ observedAt: fetchedAt(i) }))),
    ];
    const withRepeats = fc
      .array(fc.nat({ max: deliveries.length - 1 }), { maxLength: deliveries.length })
      .map((repeat) => [...deliveries, ...repeat.map((i) => deliveries[i] as MappedRecord)]);
    return withRepeats.chain((all) =>
      fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }).map((shuffled) => ({ deliveries, shuffled })),
    );
  });
