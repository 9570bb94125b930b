import { AppointmentSchema, DoctorSchema, PatientSchema, UserProfileSchema } from '../../../shared/drchrono/schemas';
import { backoffDelayMs, rateLimitWaitSeconds } from '../../../shared/drchrono/transport';
import { effectivePageSize } from '../../../shared/drchrono/client';
import patientFixture from '../../fixtures/drchrono/patient.json';
import appointmentFixture from '../../fixtures/drchrono/appointment.json';
import doctorFixture from '../../fixtures/drchrono/doctor.json';

describe('schemas', () => {
  it('accept the fixtures and keep unknown fields', () => {
    const p = PatientSchema.parse(patientFixture);
    expect(p.primary_insurance?.insurance_company).toBe(patientFixture.primary_insurance.insurance_company);
    expect((p as Record<string, unknown>).race_subcategories).toEqual([]);
    expect(DoctorSchema.parse(doctorFixture).npi_number).toBe(doctorFixture.npi_number);
    expect(AppointmentSchema.parse(appointmentFixture).scheduled_time).toBe(appointmentFixture.scheduled_time);
  });

  it('normalise a numeric appointment id to a string', () => {
    expect(AppointmentSchema.parse({ ...appointmentFixture, id: 246813579 }).id).toBe('246813579');
  });

  it('accept a break with no patient and no profile', () => {
    const a = AppointmentSchema.parse({ ...appointmentFixture, patient: null, profile: null, appt_is_break: true });
    expect(a.patient).toBeNull();
  });

  it('keep timestamps verbatim', () => {
    expect(PatientSchema.parse(patientFixture).updated_at).toBe('2024-01-15T10:30:00');
  });

  it.each(['2024-01-15T10:30:00Z', '2024-01-15T10:30:00-05:00', '2024-01-15T10:30:00+0530', '2024-01-15T10:30:00.123456+01', '2024-01-15T10:30:00.5z'])(
    'accept a timestamp with an offset or fractional seconds, verbatim: %s',
    (ts) => {
      expect(PatientSchema.parse({ ...patientFixture, updated_at: ts }).updated_at).toBe(ts);
      expect(AppointmentSchema.parse({ ...appointmentFixture, updated_at: ts, scheduled_time: ts }).updated_at).toBe(ts);
    },
  );

  it.each(['2024-01-15T10:30:00+24:00', '2024-01-15T10:30:00-05:60', '2024-01-15T10:30:00 -05:00', '2024-01-15T10:30'])('reject a malformed timestamp: %s', (ts) => {
    expect(PatientSchema.safeParse({ ...patientFixture, updated_at: ts }).success).toBe(false);
  });

  it('reject a mapped field of the wrong type', () => {
    expect(PatientSchema.safeParse({ ...patientFixture, disable_sms_messages: 'yes' }).success).toBe(false);
    expect(AppointmentSchema.safeParse({ ...appointmentFixture, duration: '30' }).success).toBe(false);
  });

  it('accept "" and null in text fields, as DrChrono sends both', () => {
    expect(PatientSchema.safeParse({ ...patientFixture, email: null, cell_phone: '' }).success).toBe(true);
  });

  it('accept verbose-only fields being absent', () => {
    const { primary_insurance: _a, patient_flags: _b, patient_flags_attached: _c, secondary_insurance: _d, ...plain } = patientFixture;
    expect(PatientSchema.safeParse(plain).success).toBe(true);
  });

  it('read a user profile whose ids are numbers or strings', () => {
    expect(UserProfileSchema.parse({ id: 12, username: 'u' }).id).toBe('12');
    expect(UserProfileSchema.parse({ id: '12', username: 'u', doctor: '5' }).doctor).toBe('5');
  });
});

describe('rate-limit wait', () => {
  it('reads DrChrono body text', () => {
    expect(rateLimitWaitSeconds({ detail: 'Request was throttled. Expected available in 17 seconds.' }, undefined)).toBe(17);
  });
  it('reads a Retry-After HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(rateLimitWaitSeconds({}, 'Tue, 01 Jan 2030 00:02:00 GMT', now)).toBe(120);
  });
  it('falls back when neither is present', () => {
    expect(rateLimitWaitSeconds('throttled', undefined, 0, 33)).toBe(33);
  });
});

describe('backoff', () => {
  it('stays within [0, min(cap, base * 2^attempt))', () => {
    expect(backoffDelayMs(0, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.999)).toBe(99);
    expect(backoffDelayMs(3, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.5)).toBe(400);
    expect(backoffDelayMs(10, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.999)).toBe(999);
    expect(backoffDelayMs(2, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0)).toBe(0);
  });
});

describe('page size', () => {
  it('applies the endpoint ceiling, lowered to 50 by verbose', () => {
    expect(effectivePageSize(250, false)).toBe(250);
    expect(effectivePageSize(250, true)).toBe(50);
    expect(effectivePageSize(20, true)).toBe(20);
    expect(effectivePageSize(250, false, 10)).toBe(10);
    expect(() => effectivePageSize(250, false, 0)).toThrow(TypeError);
  });
});
