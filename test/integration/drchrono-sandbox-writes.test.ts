import { randomInt } from 'node:crypto';
import { documentClient } from '../../shared/aws/clients';
import { getRecord, type StoredRecord } from '../../shared/store/records';
import { connectTeam, decideInSandbox, type ConnectedTeam } from './helpers/connect-team';
import { httpJson, type HttpResult } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * The platform's DrChrono sandbox takes writes through its API as DrChrono does (issue #13 §7), and the webhooks
 * those writes fire reach the local webhook route and land in the records like any change made in DrChrono's UI.
 * A connected team (read scopes, as the product asks today) receives the webhooks; the writes use a second
 * token of the same app, approved by another user of the practice with the write scopes.
 */
type Json = Record<string, unknown>;

const ddb = () => documentClient();
const sandboxBase = () => platform().sandboxUrl!;
const control = (path: string) => `${sandboxBase()}/_sandbox${path}`;
const EVENTS = ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'];
const FRONT_DESK = 9101;
const SECOND_DOCTOR_USER = 9002;

let team: ConnectedTeam;
let writer: string;
let reader: string;

/** A token of the team's app for another user of the practice (so the team's own tokens stay valid). */
async function tokenFor(userId: number, scope: string): Promise<string> {
  const url = new URL('/o/authorize/', sandboxBase());
  url.search = new URLSearchParams({ client_id: team.clientId, redirect_uri: platform().oauthRedirectUri, response_type: 'code', scope }).toString();
  const code = new URL(await decideInSandbox(url.toString(), 'approve', userId)).searchParams.get('code')!;
  const res = await fetch(`${sandboxBase()}/o/token/`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: platform().oauthRedirectUri, client_id: team.clientId, client_secret: team.clientSecret }),
  });
  if (!res.ok) throw new Error(`token exchange answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function drchrono<T = Json>(method: string, path: string, body?: unknown, token = writer): Promise<HttpResult<T>> {
  const res = await fetch(`${sandboxBase()}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, body: (text ? JSON.parse(text) : undefined) as T };
}

async function delivered(event: string, objectId: string | number): Promise<Json> {
  return waitFor(
    async () => {
      const list = (await httpJson<Json[]>('GET', control(`/deliveries?clientId=${team.clientId}&event=${event}&objectId=${encodeURIComponent(String(objectId))}`), undefined, 200)).body;
      return list.find((d) => d.status === 'delivered');
    },
    { timeoutMs: 20_000, description: `the delivered ${event} of ${objectId}` },
  );
}

async function record(entity: 'patient' | 'appointment', id: string | number, ok: (r: StoredRecord) => boolean, description: string): Promise<StoredRecord> {
  return waitFor(
    async () => {
      const r = await getRecord(ddb(), platform().resources.recordsTable, team.teamId, entity, String(id), { consistent: true });
      return r && ok(r) ? r : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, description },
  );
}

/** A day no other suite books: overlap checks must see only this test's appointments. */
const day = `2032-${String(randomInt(1, 13)).padStart(2, '0')}-${String(randomInt(1, 29)).padStart(2, '0')}`;
const SLOT = { doctor: 263812, patient: 104857601, office: 118732, exam_room: 2, duration: 30 };

beforeAll(async () => {
  team = await connectTeam();
  await httpJson('PUT', control(`/apps/${team.clientId}/webhook`), { callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`), secretToken: team.webhookSecret, events: EVENTS, active: true, verboseObjects: true }, 200);
  const verified = await httpJson<{ ok: boolean }>('POST', control(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
  if (!verified.body.ok) throw new Error('webhook verification failed');
  writer = await tokenFor(FRONT_DESK, 'patients:read patients:write calendar:read calendar:write user:read');
  reader = await tokenFor(SECOND_DOCTOR_USER, 'patients:read calendar:read user:read');
}, 120_000);

// Later suites' sandbox changes do not reach this team.
afterAll(async () => {
  if (team) await httpJson('PATCH', control(`/apps/${team.clientId}/webhook`), { active: false }, 200);
});

describe('the sandbox writes like DrChrono', () => {
  it('creates a minimal patient with only the fields sent, blanks and a Chart ID from the name; the record shows it', async () => {
    const created = await drchrono('POST', '/api/patients', { first_name: 'Minnie', last_name: 'Writewell', doctor: 263812, gender: 'Female' });
    expect(created.status).toBe(201);
    const p = created.body;
    expect(p).toMatchObject({ first_name: 'Minnie', last_name: 'Writewell', gender: 'Female', email: '', social_security_number: '', cell_phone: '', home_phone: '', date_of_birth: null });
    expect(p.chart_id).toMatch(/^WRMI\d{6}$/);
    const found = await drchrono<{ results: Json[] }>('GET', `/api/patients?chart_id=${String(p.chart_id)}`);
    expect(found.body.results.map((x) => x.id)).toEqual([p.id]);

    await delivered('PATIENT_CREATE', Number(p.id));
    const r = await record('patient', Number(p.id), () => true, 'the created patient record');
    expect(r.fields['Chart ID']).toBe(p.chart_id);
    expect(r.fields.Email ?? '').toBe('');
  });

  it('answers 400 with every bad field in DRF format', async () => {
    const bad = await drchrono('POST', '/api/patients', { gender: 'Robot', date_of_birth: '1990-13-01', doctor: 999 });
    expect(bad).toMatchObject({
      status: 400,
      body: {
        gender: ['"Robot" is not a valid choice.'],
        date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
        doctor: ['Invalid pk "999" - object does not exist.'],
      },
    });
    const missing = await drchrono('POST', '/api/appointments', {});
    expect(missing.status).toBe(400);
    for (const f of ['doctor', 'exam_room', 'office', 'patient', 'scheduled_time']) expect(missing.body[f]).toEqual(['This field is required.']);
    const room = await drchrono('POST', '/api/appointments', { ...SLOT, scheduled_time: `${day}T07:00:00`, exam_room: 9 });
    expect(room).toMatchObject({ status: 400, body: { exam_room: [expect.any(String)] } });
  });

  it('answers 409 to an overlapping appointment in the same office and exam room, unless allow_overlapping', async () => {
    expect((await drchrono('POST', '/api/appointments', { ...SLOT, scheduled_time: `${day}T08:00:00` })).status).toBe(201);
    const clash = await drchrono('POST', '/api/appointments', { ...SLOT, scheduled_time: `${day}T08:15:00` });
    expect(clash).toMatchObject({ status: 409, body: { detail: 'Scheduled time overlaps with an existing appointment' } });
    const allowed = await drchrono('POST', '/api/appointments', { ...SLOT, scheduled_time: `${day}T08:15:00`, allow_overlapping: true });
    expect(allowed.status).toBe(201);
  });

  it('answers 403 to writes without the write scopes, and still serves reads', async () => {
    const forbidden = { status: 403, body: { detail: 'You do not have permission to perform this action.' } };
    expect(await drchrono('POST', '/api/patients', { doctor: 263812, gender: 'Male' }, reader)).toMatchObject(forbidden);
    expect(await drchrono('PATCH', '/api/patients/104857602', { email: 'no@example.com' }, reader)).toMatchObject(forbidden);
    expect(await drchrono('POST', '/api/appointments', { ...SLOT, scheduled_time: `${day}T12:00:00` }, reader)).toMatchObject(forbidden);
    expect((await drchrono('GET', '/api/patients/104857602', undefined, reader)).status).toBe(200);
  });

  it('PATCH answers 204; a GET shows the change, PATIENT_MODIFY is delivered and the record follows', async () => {
    const p = (await drchrono('POST', '/api/patients', { first_name: 'Pat', last_name: 'Changer', doctor: 263812, gender: 'Male' })).body;
    await delivered('PATIENT_CREATE', Number(p.id));
    const patched = await drchrono('PATCH', `/api/patients/${String(p.id)}`, { email: 'pat.changer@example.com' });
    expect(patched.status).toBe(204);
    expect(patched.text).toBe('');
    expect((await drchrono('GET', `/api/patients/${String(p.id)}`)).body.email).toBe('pat.changer@example.com');
    await delivered('PATIENT_MODIFY', Number(p.id));
    await record('patient', Number(p.id), (r) => r.fields.Email === 'pat.changer@example.com', 'the patched patient record');
  });

  it('an appointment created, moved and deleted through the API fires CREATE, MODIFY and DELETE, and the record ends deleted', async () => {
    const a = (await drchrono('POST', '/api/appointments', { ...SLOT, exam_room: 3, scheduled_time: `${day}T14:00:00` })).body;
    expect(a).toMatchObject({ id: expect.any(String), scheduled_time: `${day}T14:00:00`, deleted_flag: false });
    const id = String(a.id);
    await delivered('APPOINTMENT_CREATE', id);
    await record('appointment', id, () => true, 'the created appointment record');

    expect((await drchrono('PATCH', `/api/appointments/${id}`, { scheduled_time: `${day}T15:00:00` })).status).toBe(204);
    await delivered('APPOINTMENT_MODIFY', id);
    await record('appointment', id, (r) => String(r.fields['Date of Service'] ?? '').includes('15:00'), 'the moved appointment record');

    expect((await drchrono('DELETE', `/api/appointments/${id}`)).status).toBe(204);
    expect((await drchrono('GET', `/api/appointments/${id}`)).body.deleted_flag).toBe(true);
    await delivered('APPOINTMENT_DELETE', id);
    await record('appointment', id, (r) => r.deleted === true, 'the deleted appointment record');
  });
});
