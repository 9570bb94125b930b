import { startSandbox, type RunningSandbox } from '../../local/drchrono-sandbox/index';
import { DrChronoClient, type CallInfo } from '../../shared/drchrono/client';
import { DrChronoRateLimitedError, DrChronoUnauthorizedError, InvalidClientError, InvalidGrantError } from '../../shared/drchrono/errors';
import { exchangeAuthorizationCode, refreshAccessToken, type TokenResponse } from '../../shared/drchrono/token-client';

/** The real client over HTTP against the DrChrono sandbox (in-process, random port). */
const REDIRECT = 'http://127.0.0.1:3999/integration-oauth/callback';
const CLIENT = { clientId: 'itest-app', clientSecret: 'itest-secret' };

let sb: RunningSandbox;
let baseUrl: string;

beforeAll(async () => {
  sb = await startSandbox({ port: 0 });
  baseUrl = sb.url;
});
afterAll(() => sb.close());

async function control(method: string, path: string, body?: unknown) {
  const res = await fetch(`${baseUrl}/_sandbox${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status}`);
  return res.json() as Promise<Record<string, unknown>>;
}

async function connect(): Promise<TokenResponse> {
  const { location } = (await control('POST', '/oauth/approve', { client_id: CLIENT.clientId, redirect_uri: REDIRECT, state: 'n1' })) as { location: string };
  const code = new URL(location).searchParams.get('code')!;
  return exchangeAuthorizationCode({ baseUrl, ...CLIENT, code, redirectUri: REDIRECT });
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

beforeEach(async () => {
  await control('POST', '/reset', { seed: true });
  await control('POST', '/apps', { ...CLIENT, redirectUris: [REDIRECT] });
});

describe('DrChronoClient against the sandbox', () => {
  it('connects through OAuth and reads every endpoint the product uses', async () => {
    const t = await connect();
    expect(t.expiresIn).toBe(172800);
    const c = new DrChronoClient({ baseUrl, accessToken: async () => t.accessToken });

    const me = await c.currentUser();
    expect(me.username).toEqual(expect.any(String));
    const patients = await all(c.listPatients({ verbose: true, pageSize: 5 }));
    expect(patients.length).toBe(sb.engine.state.data.patients.length);
    expect(patients.some((p) => (p.patient_flags_attached ?? []).length > 0)).toBe(true);
    const appts = await all(c.listAppointments({ since: '2000-01-01' }));
    expect(appts.length).toBe(sb.engine.state.data.appointments.length);
    expect(appts.some((a) => a.appt_is_break && a.patient === null)).toBe(true);
    expect(appts.some((a) => a.deleted_flag)).toBe(true);
    const one = await c.getAppointment(appts[0]!.id, { verbose: true });
    expect(one.id).toBe(appts[0]!.id);
    expect((await c.getPatient(patients[0]!.id)).id).toBe(patients[0]!.id);
    const doctors = await all(c.listDoctors());
    expect((await c.getDoctor(doctors[0]!.id)).npi_number).toBe(doctors[0]!.npi_number);
    expect((await all(c.listAppointmentProfiles())).length).toBeGreaterThan(0);
    expect((await all(c.listPatientFlagTypes())).length).toBeGreaterThan(0);
  });

  it('filters appointments by date_range', async () => {
    const t = await connect();
    const c = new DrChronoClient({ baseUrl, accessToken: async () => t.accessToken });
    const day = String(sb.engine.state.data.appointments[0]!.scheduled_time).slice(0, 10);
    const got = await all(c.listAppointments({ dateRange: { start: day, end: day } }));
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((a) => a.scheduled_time.startsWith(day))).toBe(true);
  });

  it('beforeCall sees exactly the calls the sandbox counts against the hourly budget', async () => {
    const t = await connect();
    await control('DELETE', `/apps/${CLIENT.clientId}/rate-limit`);
    const calls: CallInfo[] = [];
    const c = new DrChronoClient({ baseUrl, accessToken: async () => t.accessToken, beforeCall: async (i) => void calls.push(i) });
    await c.currentUser();
    await all(c.listPatients({ pageSize: 5 }));
    const counters = await control('GET', `/apps/${CLIENT.clientId}/rate-limit`);
    expect(counters.calls).toBe(calls.length);
  });

  it('surfaces the sandbox 429 with the wait from its body', async () => {
    const t = await connect();
    await control('PATCH', `/apps/${CLIENT.clientId}`, { hourlyBudget: 1 });
    await control('DELETE', `/apps/${CLIENT.clientId}/rate-limit`);
    const c = new DrChronoClient({ baseUrl, accessToken: async () => t.accessToken });
    await c.getDoctor(263812);
    const err = (await c.getDoctor(263812).catch((e: unknown) => e)) as DrChronoRateLimitedError;
    expect(err).toBeInstanceOf(DrChronoRateLimitedError);
    expect(err.retryAfterSeconds).toBe(sb.engine.secondsToNextHour());
  });

  it('rides out injected 5xx answers with its retries', async () => {
    const t = await connect();
    await control('POST', '/faults', { path: '/api/doctors', kind: '502', count: 2 });
    const c = new DrChronoClient({ baseUrl, accessToken: async () => t.accessToken, maxRetries: 2, retryBaseDelayMs: 1 });
    expect((await all(c.listDoctors())).length).toBe(3);
  });

  it('gets DrChronoUnauthorizedError once a refresh superseded its token, and works with the new one', async () => {
    const t = await connect();
    let current = t.accessToken;
    const c = new DrChronoClient({ baseUrl, accessToken: async () => current });
    const fresh = await refreshAccessToken({ baseUrl, ...CLIENT, refreshToken: t.refreshToken });
    await expect(c.getDoctor(263812)).rejects.toBeInstanceOf(DrChronoUnauthorizedError);
    current = fresh.accessToken;
    expect((await c.getDoctor(263812)).id).toBe(263812);
  });

  it('gets InvalidGrantError for a rotated-away refresh token and InvalidClientError for bad credentials', async () => {
    await control('PATCH', `/apps/${CLIENT.clientId}`, { rotateRefreshTokens: true });
    const t = await connect();
    await refreshAccessToken({ baseUrl, ...CLIENT, refreshToken: t.refreshToken });
    await expect(refreshAccessToken({ baseUrl, ...CLIENT, refreshToken: t.refreshToken })).rejects.toBeInstanceOf(InvalidGrantError);
    await expect(refreshAccessToken({ baseUrl, ...CLIENT, clientSecret: 'wrong', refreshToken: t.refreshToken })).rejects.toBeInstanceOf(InvalidClientError);
  });

  it('reads DRCHRONO_BASE_URL when no baseUrl is given', async () => {
    const t = await connect();
    const saved = process.env.DRCHRONO_BASE_URL;
    process.env.DRCHRONO_BASE_URL = baseUrl;
    try {
      const c = new DrChronoClient({ accessToken: async () => t.accessToken });
      expect((await c.getDoctor(263812)).id).toBe(263812);
    } finally {
      if (saved === undefined) delete process.env.DRCHRONO_BASE_URL;
      else process.env.DRCHRONO_BASE_URL = saved;
    }
  });
});
