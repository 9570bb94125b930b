import fc from 'fast-check';
import { PatientSchema, AppointmentSchema } from '../../../shared/drchrono/schemas';
import { deriveChartId, findOverlap, newAppointment, newPatient, normalizeDateTime, validateFields, type RefKind } from '../../../local/drchrono-sandbox/write-rules';

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

const known: Record<RefKind, number[]> = { doctor: [263812], patient: [104857601], office: [118732], profile: [447201] };
const refs = (kind: RefKind, id: number) => known[kind].includes(id);

describe('DRF-style field validation of API writes', () => {
  it('requires doctor and gender for a new patient, each reported on its own field', () => {
    expect(validateFields('patient', { first_name: 'A' }, 'create', refs)).toEqual({
      ok: false,
      errors: { doctor: ['This field is required.'], gender: ['This field is required.'] },
    });
  });

  it('requires doctor, exam_room, office, patient and scheduled_time for a new appointment', () => {
    const r = validateFields('appointment', {}, 'create', refs);
    expect(r.ok).toBe(false);
    expect(Object.keys(r.ok ? {} : r.errors).sort()).toEqual(['doctor', 'exam_room', 'office', 'patient', 'scheduled_time']);
  });

  it('checks only the fields a PATCH sends, but every required field on a PUT', () => {
    expect(validateFields('patient', { email: 'a@b.example' }, 'partial', refs)).toEqual({ ok: true, fields: { email: 'a@b.example' } });
    expect(validateFields('patient', { email: 'a@b.example' }, 'update', refs).ok).toBe(false);
  });

  it('reports every bad field at once: unknown choice, bad date, unknown doctor, wrong types', () => {
    const r = validateFields('patient', { doctor: 999, gender: 'Robot', date_of_birth: '1990-02-30', disable_sms_messages: 'maybe', offices: 'x', email: { a: 1 } }, 'create', refs);
    expect(r).toEqual({
      ok: false,
      errors: {
        doctor: ['Invalid pk "999" - object does not exist.'],
        gender: ['"Robot" is not a valid choice.'],
        date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
        disable_sms_messages: ['Must be a valid boolean.'],
        offices: ['Expected a list of items but got type "str".'],
        email: ['Not a valid string.'],
      },
    });
  });

  it('reports a non-numeric reference as an incorrect pk type and a bad datetime in DRF words', () => {
    const r = validateFields('appointment', { doctor: 'Dr. Rivera', patient: 104857601, office: 118732, exam_room: 1, scheduled_time: '2030-01-01T25:00:00' }, 'create', refs);
    expect(r).toEqual({
      ok: false,
      errors: {
        doctor: ['Incorrect type. Expected pk value, received str.'],
        scheduled_time: [expect.stringMatching(/^Datetime has wrong format/)],
      },
    });
  });

  it('ignores read-only and unknown fields, as DRF does', () => {
    const r = validateFields('patient', { doctor: 263812, gender: 'Male', id: 5, updated_at: '2000-01-01T00:00:00', patient_flags: [1], favourite_colour: 'blue' }, 'create', refs);
    expect(r).toEqual({ ok: true, fields: { doctor: 263812, gender: 'Male' } });
    // Writable in DrChrono's schema, but the sandbox changes flags through its control API only.
    expect(validateFields('patient', { patient_flags_attached: [{ flag_type: 'x' }] }, 'partial', refs)).toEqual({ ok: true, fields: {} });
    const a = validateFields('appointment', { deleted_flag: true, billing_notes: ['x'], ins1_status: 'Paid in Full' }, 'partial', refs);
    expect(a).toEqual({ ok: true, fields: {} });
  });

  it('takes the string forms of integers and booleans (form-encoded bodies) and normalises the datetime', () => {
    const r = validateFields('appointment', { doctor: '263812', patient: '104857601', office: '118732', exam_room: '2', scheduled_time: '2030-01-01 09:30', duration: '30', allow_overlapping: 'true' }, 'create', refs);
    expect(r).toEqual({
      ok: true,
      fields: { doctor: 263812, patient: 104857601, office: 118732, exam_room: 2, scheduled_time: '2030-01-01T09:30:00', duration: 30, allow_overlapping: true },
    });
  });

  it('refuses null where DrChrono has no null (gender, doctor) and accepts it for text, dates and the patient of a break', () => {
    expect(validateFields('patient', { gender: null, doctor: null }, 'partial', refs)).toEqual({ ok: false, errors: { gender: ['This field may not be null.'], doctor: ['This field may not be null.'] } });
    expect(validateFields('patient', { email: null, date_of_birth: null }, 'partial', refs)).toEqual({ ok: true, fields: { email: null, date_of_birth: null } });
    expect(validateFields('appointment', { patient: null }, 'partial', refs)).toEqual({ ok: true, fields: { patient: null } });
  });

  it('refuses a datetime with an offset: the practice clock has none', () => {
    expect(normalizeDateTime('2030-01-01T09:00:00Z')).toBeUndefined();
    expect(normalizeDateTime('2030-01-01T09:00:00.123456')).toBe('2030-01-01T09:00:00');
  });
});

describe('chart_id derived from the name', () => {
  it('is the first two letters of last and first name, upper-cased, and the lowest free six-digit number', () => {
    expect(deriveChartId('John', 'Smith', new Set())).toBe('SMJO000001');
    expect(deriveChartId('John', 'Smith', new Set(['SMJO000001', 'SMJO000003']))).toBe('SMJO000002');
  });

  it('drops accents and other characters and pads a missing letter with X', () => {
    expect(deriveChartId('Élodie', "O'Brien", new Set())).toBe('OBEL000001');
    expect(deriveChartId('J', '', new Set())).toBe('XXJX000001');
    expect(deriveChartId(undefined, null, new Set())).toBe('XXXX000001');
  });

  it('never returns a Chart ID already taken (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 20 }), (first, last, used) => {
        const prefix = deriveChartId(first, last, new Set()).slice(0, 4);
        const taken = new Set(used.map((n) => `${prefix}${String(n).padStart(6, '0')}`));
        const id = deriveChartId(first, last, taken);
        expect(id).toMatch(/^[A-Z]{4}\d{6}$/);
        expect(taken.has(id)).toBe(false);
      }),
      { seed, numRuns: 300 },
    );
  });
});

describe('objects created through the API', () => {
  it('a patient holds what was sent and blanks, nothing invented, and parses with the product schema', () => {
    const p = newPatient(1, { doctor: 263812, gender: 'Female', first_name: 'Ann', last_name: 'Blank' }, 'BLAN000001', '2030-01-01T09:00:00');
    expect(p).toMatchObject({ first_name: 'Ann', last_name: 'Blank', chart_id: 'BLAN000001', email: '', social_security_number: '', home_phone: '', cell_phone: '', date_of_birth: null, patient_status: 'A', preferred_language: 'blank' });
    expect(p.primary_insurance).toEqual({});
    expect(p.patient_flags_attached).toEqual([]);
    expect(PatientSchema.safeParse(p).success).toBe(true);
  });

  it('an appointment takes color, duration and reason from its profile unless sent', () => {
    const profile = { id: 447201, duration: 45, reason: 'Annual physical', color: '#4CAF50' };
    const sent = { doctor: 263812, patient: 104857601, office: 118732, exam_room: 1, scheduled_time: '2030-01-01T09:00:00', profile: 447201 };
    const a = newAppointment('9', sent, profile, '2030-01-01T08:00:00');
    expect(a).toMatchObject({ duration: 45, reason: 'Annual physical', color: '#4CAF50', status: '', notes: '', deleted_flag: false, icd10_codes: [] });
    expect(newAppointment('9', { ...sent, duration: 10, reason: 'Other' }, profile, '2030-01-01T08:00:00')).toMatchObject({ duration: 10, reason: 'Other' });
    expect(AppointmentSchema.safeParse(a).success).toBe(true);
  });
});

describe('appointment overlap (same office and exam room)', () => {
  const at = (id: string, time: string, duration: number, over: Record<string, unknown> = {}) => ({ id, office: 1, exam_room: 1, scheduled_time: `2030-01-01T${time}:00`, duration, ...over });
  const existing = [at('a', '09:00', 30)];

  it('finds an intersecting slot and ignores one that only touches', () => {
    expect(findOverlap(at('n', '09:15', 30), existing)).toBe('a');
    expect(findOverlap(at('n', '08:45', 20), existing)).toBe('a');
    expect(findOverlap(at('n', '09:30', 30), existing)).toBeUndefined();
    expect(findOverlap(at('n', '08:30', 30), existing)).toBeUndefined();
  });

  it('ignores other rooms, other offices, deleted appointments, breaks and the appointment itself', () => {
    expect(findOverlap(at('n', '09:00', 30, { exam_room: 2 }), existing)).toBeUndefined();
    expect(findOverlap(at('n', '09:00', 30, { office: 2 }), existing)).toBeUndefined();
    expect(findOverlap(at('n', '09:00', 30), [at('a', '09:00', 30, { deleted_flag: true })])).toBeUndefined();
    expect(findOverlap(at('n', '09:00', 30), [at('a', '09:00', 30, { appt_is_break: true })])).toBeUndefined();
    expect(findOverlap(at('n', '09:00', 30, { appt_is_break: true }), existing)).toBeUndefined();
    expect(findOverlap(at('a', '09:10', 30), existing)).toBeUndefined();
  });

  it('keeps a cancelled appointment\'s slot taken: only deletion frees it', () => {
    expect(findOverlap(at('n', '09:00', 30), [at('a', '09:00', 30, { status: 'Cancelled' })])).toBe('a');
  });

  it('agrees with minute-by-minute occupancy (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 120 }), (s1, d1, s2, d2) => {
        const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const clash = Array.from({ length: d1 }, (_, i) => s1 + i).some((m) => m >= s2 && m < s2 + d2);
        expect(findOverlap(at('n', hhmm(s1), d1), [at('a', hhmm(s2), d2)]) !== undefined).toBe(clash);
      }),
      { seed, numRuns: 500 },
    );
  });
});
