import { DrChronoClient } from '../../../shared/drchrono/client';
import {
  DrChronoConflictError,
  DrChronoForbiddenError,
  DrChronoNetworkError,
  DrChronoServerError,
  DrChronoValidationError,
  parseFieldErrors,
} from '../../../shared/drchrono/errors';
import { StubServer } from './stub-server';
import patientFixture from '../../fixtures/drchrono/patient.json';
import appointmentFixture from '../../fixtures/drchrono/appointment.json';

const TOKEN = 'test-access-token-0123456789';
let stub: StubServer;

beforeEach(async () => {
  stub = await new StubServer().start();
});
afterEach(() => stub.stop());

function client(extra: Partial<ConstructorParameters<typeof DrChronoClient>[0]> = {}) {
  return new DrChronoClient({ baseUrl: stub.url, accessToken: async () => TOKEN, retryBaseDelayMs: 1, retryMaxDelayMs: 5, ...extra });
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('DrChronoClient writes', () => {
  it('PATCHes a patient with a JSON body and resolves on 204', async () => {
    stub.script({ status: 204 });
    await client().updatePatient(104857601, { email: 'x@example.invalid' });
    expect(stub.seen).toHaveLength(1);
    expect(stub.seen[0]!.method).toBe('PATCH');
    expect(stub.seen[0]!.url).toBe('/api/patients/104857601');
    expect(stub.seen[0]!.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(stub.seen[0]!.body)).toEqual({ email: 'x@example.invalid' });
    expect(stub.seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('POSTs a patient and returns the 201 body', async () => {
    stub.script({ status: 201, body: patientFixture });
    const p = await client().createPatient({ doctor: 1, gender: 'Female', chart_id: 'C-1' });
    expect(p.id).toBe(patientFixture.id);
    expect(stub.seen[0]!.method).toBe('POST');
    expect(stub.seen[0]!.url).toBe('/api/patients');
  });

  it('POSTs, PATCHes and DELETEs appointments', async () => {
    stub.script({ status: 201, body: appointmentFixture }, { status: 204 }, { status: 204 });
    const a = await client().createAppointment({ doctor: 1, patient: 2, office: 3, exam_room: 1, scheduled_time: '2025-01-01T09:00:00' });
    expect(a.id).toBe('246813579');
    await client().updateAppointment('246813579', { status: 'Cancelled' });
    await client().deleteAppointment('246813579');
    expect(stub.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/appointments', 'PATCH /api/appointments/246813579', 'DELETE /api/appointments/246813579']);
    expect(stub.seen[2]!.body).toBe('');
  });

  it('looks patients up by exact Chart ID', async () => {
    stub.script({ status: 200, body: { results: [patientFixture], next: null } });
    const found = await client().findPatientsByChartId('AB 12/3');
    expect(found).toHaveLength(1);
    expect(new URL(stub.seen[0]!.url, stub.url).searchParams.get('chart_id')).toBe('AB 12/3');
  });

  it('lists appointment candidates by date, doctor and patient', async () => {
    stub.script({ status: 200, body: { results: [appointmentFixture], next: null } });
    await client().findAppointments({ date: '2024-01-15', doctor: 263812, patient: 104857601 });
    const q = new URL(stub.seen[0]!.url, stub.url).searchParams;
    expect([q.get('date'), q.get('doctor'), q.get('patient')]).toEqual(['2024-01-15', '263812', '104857601']);
  });

  it('turns a 400 into DrChronoValidationError with DRF field errors and no values in the message', async () => {
    stub.script({ status: 400, body: { gender: ['This field is required.'], preferred_language: ['“Klingon” is not a valid choice.'] } });
    const err = (await caught(client().createPatient({ doctor: 1 }))) as DrChronoValidationError;
    expect(err).toBeInstanceOf(DrChronoValidationError);
    expect(err.fieldErrors).toEqual({ gender: ['This field is required.'], preferred_language: ['"…" is not a valid choice.'] });
    expect(err.message).toBe('POST /api/patients: refused (fields: gender, preferred_language) (HTTP 400)');
    expect(JSON.stringify(err)).not.toContain('Klingon');
    expect(stub.seen).toHaveLength(1);
  });

  it('turns a 409 into DrChronoConflictError without retrying', async () => {
    stub.script({ status: 409, body: { detail: 'Scheduled time overlaps with an existing appointment' } });
    const err = await caught(client().createAppointment({ doctor: 1 }));
    expect(err).toBeInstanceOf(DrChronoConflictError);
    expect(stub.seen).toHaveLength(1);
  });

  it('turns a 403 on a write into DrChronoForbiddenError', async () => {
    stub.script({ status: 403, body: { detail: 'You do not have permission to perform this action.' } });
    expect(await caught(client().updateAppointment('1', { status: 'Arrived' }))).toBeInstanceOf(DrChronoForbiddenError);
  });

  it('never retries a POST after a 5xx: DrChrono may have applied it', async () => {
    stub.script({ status: 502 }, { status: 201, body: appointmentFixture });
    const err = await caught(client({ maxRetries: 2 }).createAppointment({ doctor: 1 }));
    expect(err).toBeInstanceOf(DrChronoServerError);
    expect(stub.seen).toHaveLength(1);
  });

  it('never retries a POST after a timeout (the request may have arrived)', async () => {
    stub.script('hang');
    const err = await caught(client({ timeoutMs: 500, maxRetries: 2 }).createPatient({ doctor: 1, gender: 'Male' }));
    expect(err).toBeInstanceOf(DrChronoNetworkError);
    expect(stub.seen).toHaveLength(1);
  });

  it('retries a POST whose connection was refused (it never reached DrChrono)', async () => {
    const url = stub.url;
    await stub.stop();
    let calls = 0;
    const c = new DrChronoClient({ baseUrl: url, accessToken: async () => TOKEN, maxRetries: 2, retryBaseDelayMs: 1, beforeCall: async () => void calls++ });
    const err = (await caught(c.createPatient({ doctor: 1, gender: 'Male' }))) as DrChronoNetworkError;
    expect(err.code).toBe('ECONNREFUSED');
    expect(calls).toBe(3);
    stub = await new StubServer().start();
  });

  it('retries an idempotent PATCH and DELETE after a 5xx', async () => {
    stub.script({ status: 503 }, { status: 204 });
    await client({ maxRetries: 2 }).updatePatient(1, { email: 'a@b.invalid' });
    expect(stub.seen).toHaveLength(2);
    stub.seen.length = 0;
    stub.script({ status: 500 }, { status: 204 });
    await client({ maxRetries: 2 }).deleteAppointment('9');
    expect(stub.seen).toHaveLength(2);
  });
});

describe('parseFieldErrors', () => {
  it('flattens nested serializer errors and keeps non_field_errors', () => {
    expect(parseFieldErrors({ primary_insurance: { insurance_company: ['Too long.'] }, non_field_errors: ['Bad.'] })).toEqual({
      'primary_insurance.insurance_company': ['Too long.'],
      non_field_errors: ['Bad.'],
    });
  });

  it('ignores a body that is not a JSON object (an HTML error page)', () => {
    expect(parseFieldErrors('<html>Bad Request</html>')).toEqual({});
  });
});
