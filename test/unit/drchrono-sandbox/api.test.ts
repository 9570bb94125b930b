import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import { VERBOSE_ONLY } from '../../../local/drchrono-sandbox/serializer';
import { api, connect, control, sandbox } from './helpers';

let sb: RunningSandbox;
let token: string;
beforeEach(async () => {
  sb = await sandbox();
  token = (await connect(sb)).access_token;
});
afterEach(() => sb.close());

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

describe('sandbox API shapes', () => {
  it('hides verbose-only patient fields unless verbose=true', async () => {
    const plain = (await api(sb, token, '/api/patients/104857601')).body;
    const verbose = (await api(sb, token, '/api/patients/104857601?verbose=true')).body;
    for (const k of VERBOSE_ONLY.patient) {
      expect(plain).not.toHaveProperty(k);
      expect(verbose).toHaveProperty(k);
    }
    expect(verbose.primary_insurance.insurance_company).toEqual(expect.any(String));
  });

  it('hides verbose-only appointment fields unless verbose=true', async () => {
    const plain = (await api(sb, token, '/api/appointments/246813579')).body;
    for (const k of VERBOSE_ONLY.appointment) expect(plain).not.toHaveProperty(k);
    expect((await api(sb, token, '/api/appointments/246813579?verbose=true')).body).toHaveProperty('extended_updated_at');
  });

  it('sends timestamps without an offset', async () => {
    const p = (await api(sb, token, '/api/patients/104857601')).body;
    const a = (await api(sb, token, '/api/appointments/246813579')).body;
    expect(p.updated_at).toMatch(TIMESTAMP);
    expect(a.scheduled_time).toMatch(TIMESTAMP);
  });

  it('paginates with results/next, appointments at most 20 per page', async () => {
    const first = (await api(sb, token, '/api/appointments?since=2000-01-01&page_size=100')).body;
    expect(first.results).toHaveLength(20);
    expect(first.previous).toBeNull();
    const next = new URL(first.next);
    expect(next.searchParams.get('since')).toBe('2000-01-01');
    const second = (await api(sb, token, next.pathname + next.search)).body;
    expect(second.next).toBeNull();
    expect(second.results.length).toBeGreaterThan(0);
    const ids = [...first.results, ...second.results].map((a: { id: string }) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('caps verbose patient pages at 50', async () => {
    for (let i = 0; i < 45; i++) await control(sb, 'POST', '/patients', { first_name: `Bulk${i}`, last_name: 'Seedwell' });
    const page = (await api(sb, token, '/api/patients?verbose=true&page_size=250')).body;
    expect(page.results).toHaveLength(50);
    expect(page.next).not.toBeNull();
  });

  it('requires since, date or date_range on the appointment list', async () => {
    expect((await api(sb, token, '/api/appointments')).status).toBe(400);
  });

  it('filters appointments by date_range on the scheduled day', async () => {
    const all = (await api(sb, token, '/api/appointments/246813579')).body;
    const day = all.scheduled_time.slice(0, 10);
    const page = (await api(sb, token, `/api/appointments?date_range=${day}/${day}`)).body;
    expect(page.results.map((a: { id: string }) => a.id)).toContain('246813579');
    expect(page.results.every((a: { scheduled_time: string }) => a.scheduled_time.startsWith(day))).toBe(true);
  });

  it('filters patients by since on updated_at', async () => {
    const before = (await api(sb, token, '/api/patients')).body.results.length;
    const created = (await control(sb, 'POST', '/patients', { first_name: 'Newest', last_name: 'Seedwell' })).body;
    const since = created.updated_at.slice(0, 10);
    const page = (await api(sb, token, `/api/patients?since=${since}`)).body;
    expect(page.results.map((p: { id: number }) => p.id)).toEqual([created.id]);
    expect(before).toBeGreaterThan(1);
  });

  it('answers /api/users/current with a 302 to /api/users/{id}', async () => {
    const r = await api(sb, token, '/api/users/current');
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location')!).pathname).toBe('/api/users/9001');
  });

  it('keeps a deleted appointment readable with deleted_flag, and 404s a deleted patient', async () => {
    await control(sb, 'DELETE', '/appointments/246813580');
    expect((await api(sb, token, '/api/appointments/246813580')).body.deleted_flag).toBe(true);
    const created = (await control(sb, 'POST', '/patients', { first_name: 'Gone', last_name: 'Soon' })).body;
    expect((await api(sb, token, `/api/patients/${created.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(sb, token, `/api/patients/${created.id}`)).status).toBe(404);
  });

  it('rejects a created patient with a wrongly typed field', async () => {
    const r = await control(sb, 'POST', '/patients', { first_name: 'X', doctor: 'not-a-number' });
    expect(r.status).toBe(400);
  });

  it('answers 413 to a request body over 1 MB and keeps serving', async () => {
    const r = await api(sb, token, '/api/patients', { method: 'POST', body: JSON.stringify({ notes: 'x'.repeat(1_000_001) }) });
    expect(r).toMatchObject({ status: 413, body: { detail: 'Request body too large.' } });
    expect((await api(sb, token, '/api/doctors')).status).toBe(200);
  });

  it('refuses an unauthenticated call with 401', async () => {
    expect((await api(sb, 'not-a-token', '/api/doctors')).status).toBe(401);
  });
});

describe('sandbox rate limit', () => {
  it('answers 429 with DrChrono body text once the hourly budget is spent, and counts calls', async () => {
    await control(sb, 'PATCH', '/apps/sandbox-client', { hourlyBudget: 4 });
    await control(sb, 'DELETE', '/apps/sandbox-client/rate-limit');
    for (let i = 0; i < 4; i++) expect((await api(sb, token, '/api/doctors')).status).toBe(200);
    const r = await api(sb, token, '/api/doctors');
    expect(r.status).toBe(429);
    expect(r.body.detail).toMatch(/^Request was throttled\. Expected available in \d+ seconds\.$/);
    expect(r.headers.get('retry-after')).toBeNull();
    const counters = (await control(sb, 'GET', '/apps/sandbox-client/rate-limit')).body;
    expect(counters).toMatchObject({ budget: 4, calls: 4, remaining: 0, throttled: 1 });
    expect(counters.byPath['/api/doctors']).toBe(4);
  });

  it('resets on the hour', async () => {
    await control(sb, 'PATCH', '/apps/sandbox-client', { hourlyBudget: 1 });
    await control(sb, 'DELETE', '/apps/sandbox-client/rate-limit');
    await api(sb, token, '/api/doctors');
    expect((await api(sb, token, '/api/doctors')).status).toBe(429);
    sb.engine.advanceClock(sb.engine.secondsToNextHour() * 1000);
    expect((await api(sb, token, '/api/doctors')).status).toBe(200);
  });

  it('counts the token endpoint against the budget', async () => {
    await control(sb, 'DELETE', '/apps/sandbox-client/rate-limit');
    await connect(sb);
    expect((await control(sb, 'GET', '/apps/sandbox-client/rate-limit')).body.byPath['/o/token/']).toBe(1);
  });
});

describe('sandbox fault injection', () => {
  it('injects N 5xx answers on a path, then recovers', async () => {
    await control(sb, 'POST', '/faults', { path: '/api/doctors', kind: '503', count: 2 });
    expect((await api(sb, token, '/api/doctors')).status).toBe(503);
    expect((await api(sb, token, '/api/doctors')).status).toBe(503);
    expect((await api(sb, token, '/api/doctors')).status).toBe(200);
  });

  it('injects 429 with a chosen wait and optional Retry-After', async () => {
    await control(sb, 'POST', '/faults', { path: '/api/patients', kind: '429', retryAfterSeconds: 7, retryAfterHeader: true });
    const r = await api(sb, token, '/api/patients');
    expect(r.status).toBe(429);
    expect(r.body.detail).toBe('Request was throttled. Expected available in 7 seconds.');
    expect(r.headers.get('retry-after')).toBe('7');
  });

  it('injects 401 for a valid token', async () => {
    await control(sb, 'POST', '/faults', { path: '/api/users', kind: '401' });
    expect((await api(sb, token, '/api/users/current')).status).toBe(401);
  });

  it('injects a timeout: no answer arrives', async () => {
    await control(sb, 'POST', '/faults', { path: '/api/doctors', kind: 'timeout' });
    await expect(fetch(`${sb.url}/api/doctors`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(300) })).rejects.toThrow();
  });

  it('rejects an unknown fault kind with 400', async () => {
    expect((await control(sb, 'POST', '/faults', { path: '/api', kind: 'explode' })).status).toBe(400);
  });
});

describe('sandbox patient flags', () => {
  it('attaches, changes and archives a flag, keeping the patient\'s updated_at, and records the flag events', async () => {
    const before = (await api(sb, token, '/api/patients/104857602?verbose=true')).body;
    const added = await control(sb, 'POST', '/patients/104857602/flags', { flag_type: 5523, flag_text: 'Owes 20' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ patient: 104857602, flag_type: 5523, flag_text: 'Owes 20', archived: false });

    let p = (await api(sb, token, '/api/patients/104857602?verbose=true')).body;
    expect(p.updated_at).toBe(before.updated_at);
    expect(p.patient_flags_attached).toContainEqual(expect.objectContaining({ id: added.body.id, flag_type: 5523 }));
    expect(p.patient_flags.map((t: { name: string }) => t.name)).toContain('Balance Due');

    expect((await control(sb, 'PATCH', `/patients/104857602/flags/${added.body.id}`, { flag_text: 'Owes 30' })).body.flag_text).toBe('Owes 30');
    expect((await control(sb, 'DELETE', `/patients/104857602/flags/${added.body.id}`)).body.archived).toBe(true);
    p = (await api(sb, token, '/api/patients/104857602?verbose=true')).body;
    expect(p.patient_flags.map((t: { name: string }) => t.name)).not.toContain('Balance Due');
  });

  it('refuses an unknown or archived flag type (400) and an unknown flag (404)', async () => {
    expect((await control(sb, 'POST', '/patients/104857602/flags', { flag_type: 1 })).status).toBe(400);
    expect((await control(sb, 'POST', '/patients/104857602/flags', { flag_type: 5524 })).status).toBe(400);
    expect((await control(sb, 'POST', '/patients/104857602/flags', { flag_type: 'VIP' })).status).toBe(400);
    expect((await control(sb, 'PATCH', '/patients/104857602/flags/1', { flag_text: 'x' })).status).toBe(404);
  });
});
