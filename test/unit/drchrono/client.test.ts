import { DrChronoClient } from '../../../shared/drchrono/client';
import {
  ApiBudgetExhaustedError,
  DrChronoError,
  DrChronoForbiddenError,
  DrChronoNetworkError,
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoResponseValidationError,
  DrChronoServerError,
  DrChronoUnauthorizedError,
} from '../../../shared/drchrono/errors';
import { json, StubServer } from './stub-server';
import patientFixture from '../../fixtures/drchrono/patient.json';
import appointmentFixture from '../../fixtures/drchrono/appointment.json';
import doctorFixture from '../../fixtures/drchrono/doctor.json';

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

describe('DrChronoClient errors', () => {
  it.each([
    [401, DrChronoUnauthorizedError],
    [403, DrChronoForbiddenError],
    [404, DrChronoNotFoundError],
  ])('maps HTTP %i to %p without retrying', async (status, Type) => {
    stub.script({ status, body: { detail: 'nope' } });
    const err = await caught(client().getPatient(104857601));
    expect(err).toBeInstanceOf(Type);
    expect((err as DrChronoError).status).toBe(status);
    expect(stub.seen).toHaveLength(1);
  });

  it('parses the wait from the 429 body text', async () => {
    stub.script({ status: 429, body: { detail: 'Request was throttled. Expected available in 1234 seconds.' } });
    const err = await caught(client().getDoctor(1));
    expect(err).toBeInstanceOf(DrChronoRateLimitedError);
    expect((err as DrChronoRateLimitedError).retryAfterSeconds).toBe(1234);
  });

  it('honours a Retry-After header longer than the body wait', async () => {
    stub.script({ status: 429, body: { detail: 'Request was throttled. Expected available in 5 seconds.' }, headers: { 'retry-after': '90' } });
    const err = (await caught(client().getDoctor(1))) as DrChronoRateLimitedError;
    expect(err.retryAfterSeconds).toBe(90);
  });

  it('retries a 5xx and returns the later success', async () => {
    stub.script({ status: 502 }, { status: 503 }, { status: 200, body: doctorFixture });
    const d = await client({ maxRetries: 2 }).getDoctor(263812);
    expect(d.id).toBe(263812);
    expect(stub.seen).toHaveLength(3);
  });

  it('gives up after maxRetries with a retryable DrChronoServerError', async () => {
    stub.script({ status: 500 });
    const err = await caught(client({ maxRetries: 3 }).getDoctor(1));
    expect(err).toBeInstanceOf(DrChronoServerError);
    expect((err as DrChronoServerError).retryable).toBe(true);
    expect(stub.seen).toHaveLength(4);
  });

  it('turns a timeout into a retryable DrChronoNetworkError after bounded tries', async () => {
    // Long enough for the request to reach the stub on a busy machine (it counts what arrived).
    stub.script('hang');
    const err = await caught(client({ timeoutMs: 1_000, maxRetries: 1 }).getDoctor(1));
    expect(err).toBeInstanceOf(DrChronoNetworkError);
    expect((err as DrChronoNetworkError).retryable).toBe(true);
    expect(stub.seen).toHaveLength(2);
  });

  it('turns a refused connection into DrChronoNetworkError', async () => {
    const url = stub.url;
    await stub.stop();
    const c = new DrChronoClient({ baseUrl: url, accessToken: async () => TOKEN, maxRetries: 1, retryBaseDelayMs: 1 });
    const err = (await caught(c.getDoctor(1))) as DrChronoNetworkError;
    expect(err).toBeInstanceOf(DrChronoNetworkError);
    expect(err.code).toBe('ECONNREFUSED');
    stub = await new StubServer().start();
  });

  it('keeps tokens, query strings and response bodies out of error messages', async () => {
    stub.script({ status: 500, body: { detail: 'Jane Doe 123-45-6789' } });
    const err = (await caught(client({ maxRetries: 0 }).listPatients({ since: '2024-01-01' })[Symbol.asyncIterator]().next())) as Error;
    expect(err.message).toBe('GET /api/patients: server error (HTTP 500)');
    expect(JSON.stringify(err)).not.toContain(TOKEN);
  });

  it('rejects a response whose mapped fields have the wrong type, naming only the field', async () => {
    stub.script({ status: 200, body: { ...patientFixture, date_of_birth: 19850615, first_name: 'Jane' } });
    const err = (await caught(client().getPatient(1))) as DrChronoResponseValidationError;
    expect(err).toBeInstanceOf(DrChronoResponseValidationError);
    expect(err.issues).toEqual(['date_of_birth:invalid_type']);
    expect(err.message).not.toContain('Jane');
  });
});

describe('DrChronoClient /api/users/current', () => {
  it('follows the 302 to /api/users/{id} keeping the Authorization header', async () => {
    stub.handler = (req, res) => {
      if (req.url === '/api/users/current') return void res.writeHead(302, { location: '/api/users/9001' }).end();
      json(res, 200, { id: 9001, username: 'drsandbox', doctor: 263812, is_doctor: true, is_staff: false, practice_group: '77821' });
    };
    const me = await client().currentUser();
    expect(me).toMatchObject({ id: '9001', username: 'drsandbox', doctor: 263812 });
    expect(stub.seen.map((r) => r.url)).toEqual(['/api/users/current', '/api/users/9001']);
    expect(stub.seen[1]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('refuses to follow a redirect to another origin (the token would leak)', async () => {
    stub.handler = (_req, res) => void res.writeHead(302, { location: 'http://attacker.example/api/users/1' }).end();
    const err = (await caught(client().currentUser())) as Error;
    expect(err).toBeInstanceOf(DrChronoError);
    expect(err.message).toContain('another origin');
    expect(stub.seen).toHaveLength(1);
  });
});

describe('DrChronoClient pagination and beforeCall', () => {
  function pages(total: number, size: number) {
    stub.handler = (req, res) => {
      const u = new URL(req.url!, stub.url);
      const offset = Number(u.searchParams.get('cursor') ?? 0);
      const results = Array.from({ length: Math.min(size, total - offset) }, (_, i) => ({ ...doctorFixture, id: offset + i + 1 }));
      const next = offset + size < total ? `${stub.url}/api/doctors?cursor=${offset + size}` : null;
      json(res, 200, { previous: null, results, next });
    };
  }

  it('follows next until it runs out, validating every item', async () => {
    pages(7, 3);
    const ids: number[] = [];
    for await (const d of client().listDoctors()) ids.push(d.id);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(stub.seen).toHaveLength(3);
  });

  it('runs beforeCall before every request, including retries and each page', async () => {
    let n = 0;
    stub.handler = (req, res) => {
      n++;
      if (n === 2) return json(res, 503);
      const u = new URL(req.url!, stub.url);
      json(res, 200, { previous: null, results: [{ ...doctorFixture, id: n }], next: u.searchParams.has('cursor') ? null : `${stub.url}/api/doctors?cursor=x` });
    };
    const calls: string[] = [];
    const c = client({ beforeCall: async (info) => void calls.push(`${info.method} ${info.path}`) });
    for await (const _ of c.listDoctors());
    expect(calls).toEqual(['GET /api/doctors', 'GET /api/doctors', 'GET /api/doctors']);
    expect(stub.seen).toHaveLength(3);
  });

  it('makes no request when beforeCall throws', async () => {
    pages(1, 1);
    const c = client({ beforeCall: async () => Promise.reject(new ApiBudgetExhaustedError(new Date('2030-01-01T01:00:00Z'))) });
    await expect(c.getDoctor(1)).rejects.toBeInstanceOf(ApiBudgetExhaustedError);
    expect(stub.seen).toHaveLength(0);
  });

  it('counts the redirect follow of currentUser as a call', async () => {
    stub.handler = (req, res) => {
      if (req.url === '/api/users/current') return void res.writeHead(302, { location: `${stub.url}/api/users/7` }).end();
      json(res, 200, { id: 7, username: 'u' });
    };
    const calls: string[] = [];
    await client({ beforeCall: async (i) => void calls.push(i.path) }).currentUser();
    expect(calls).toEqual(['/api/users/current', '/api/users/{id}']);
  });

  it('sends since, date_range, verbose and a page size within the verbose ceiling for appointments', async () => {
    stub.script({ status: 200, body: { previous: null, results: [appointmentFixture], next: null } });
    const got = [];
    for await (const a of client().listAppointments({ since: '2024-01-01T00:00:00', dateRange: { start: '2024-01-01', end: '2024-01-31' }, verbose: true, pageSize: 100 })) got.push(a);
    expect(got[0]!.id).toBe('246813579');
    const q = new URL(stub.seen[0]!.url, stub.url).searchParams;
    expect(Object.fromEntries(q)).toEqual({ since: '2024-01-01T00:00:00', date_range: '2024-01-01/2024-01-31', verbose: 'true', page_size: '20' });
  });

  it('caps a verbose patient page at 50 and a plain one at 250', async () => {
    stub.script({ status: 200, body: { previous: null, results: [], next: null } });
    for await (const _ of client().listPatients({ verbose: true }));
    for await (const _ of client().listPatients({ pageSize: 1000 }));
    expect(stub.seen.map((r) => new URL(r.url, stub.url).searchParams.get('page_size'))).toEqual(['50', '250']);
  });

  it('refuses an appointment list without since or dateRange, as DrChrono does', () => {
    expect(() => client().listAppointments({})).toThrow(TypeError);
  });

  it('asks for the access token on every request so a refreshed token is used', async () => {
    stub.script({ status: 200, body: doctorFixture });
    let i = 0;
    const c = client({ accessToken: async () => `token-${++i}` });
    await c.getDoctor(1);
    await c.getDoctor(1);
    expect(stub.seen.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });
});

describe('DrChronoClient appointment ids that are not numeric', () => {
  it('GETs an id with spaces, a slash and non-ASCII as one escaped path segment', async () => {
    const id = 'Appt 7/B é#?%';
    stub.script({ status: 200, body: { ...appointmentFixture, id } });
    const a = await client().getAppointment(id);
    expect(a.id).toBe(id);
    expect(stub.seen[0]!.url).toBe(`/api/appointments/${encodeURIComponent(id)}`);
    expect(stub.seen[0]!.url).toBe('/api/appointments/Appt%207%2FB%20%C3%A9%23%3F%25');
  });

  it.each(['.', '..', ''])('refuses %j, which no URL path can carry as a segment', async (id) => {
    await expect(async () => client().getAppointment(id)).rejects.toThrow('invalid DrChrono id');
    expect(stub.seen).toHaveLength(0);
  });
});
