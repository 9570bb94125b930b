import { documentClient, secretsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { readIntegrationLog, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { getRecord, type StoredRecord } from '../../shared/store/records';
import { readTeamSecret } from '../../shared/teams/team-secret';
import { main } from '../../cli/main';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson, httpRequest } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';
import { PLATFORM_INFO_ENV } from './setup/platform-process';

/**
 * What the receiver accepts must be queueable and land, and what it cannot queue gets a 4xx: bodies with
 * characters SQS refuses or that need escaping, excessive nesting, non-numeric appointment ids, and timestamps
 * with a UTC offset. Sandbox changes arrive as the sandbox's own signed webhooks; crafted deliveries are POSTed.
 */
type Json = Record<string, unknown>;
const SYNCED = ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'];
const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const tables = () => platform().resources;

let team: ConnectedTeam;
let patientId: number;
let chartId: string;

async function record(entity: 'patient' | 'appointment', id: string): Promise<StoredRecord | undefined> {
  return getRecord(documentClient(), tables().recordsTable, team.teamId, entity, id, { consistent: true });
}

function waitForRecord(entity: 'patient' | 'appointment', id: string, ok: (r: StoredRecord) => boolean, what: string) {
  return waitFor(async () => {
    const r = await record(entity, id);
    return r && ok(r) ? r : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250, description: what });
}

function waitForLog(ok: (e: IntegrationLogEntry) => boolean, what: string) {
  return waitFor(async () => (await readIntegrationLog(documentClient(), tables().integrationLogTable, team.teamId, { limit: 500 })).find(ok), {
    timeoutMs: 30_000,
    intervalMs: 250,
    description: what,
  });
}

/** A delivery as DrChrono sends it, signed with the team's token (the documented signature form). */
function deliver(event: string, deliveryId: string, body: string) {
  return httpRequest('POST', apiUrl(`/drchronowebhook/${team.teamId}`), {
    body,
    headers: { 'content-type': 'application/json', 'x-drchrono-signature': team.webhookSecret, 'x-drchrono-event': event, 'x-drchrono-delivery': deliveryId },
  });
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  team = await connectTeam();
  await httpJson(
    'PUT',
    sandbox(`/apps/${team.clientId}/webhook`),
    { callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`), secretToken: team.webhookSecret, events: SYNCED, active: true, verboseObjects: true },
    200,
  );
  const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
  if (!verified.body.ok) throw new Error('webhook verification failed');
}, 60_000);

afterAll(async () => {
  if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200).catch(() => undefined);
});

describe('receiver: bodies SQS would refuse', () => {
  it('lands a patient whose names hold U+FFFE, U+FFFF and a lone surrogate, exactly', async () => {
    const names = { first_name: 'Ivy\uFFFE', middle_name: 'Mid\uFFFF', last_name: 'Lone\uD800Sur' };
    const created = (await httpJson<Json>('POST', sandbox('/patients'), { ...names, patient_status: 'A', doctor: 263812 }, 201)).body;
    patientId = created.id as number;
    chartId = created.chart_id as string;
    const stored = await waitForRecord('patient', String(patientId), () => true, 'the patient record');
    expect(stored.fields).toMatchObject({ 'First Name': names.first_name, 'Middle Name': names.middle_name, 'Last Name': names.last_name });
  });

  it('lands a patient with an emoji in a name: the local SQS accepts characters above U+FFFF, as AWS does', async () => {
    const created = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Smile \u{1F600}', last_name: 'Emojiworth', doctor: 263812 }, 201)).body;
    const stored = await waitForRecord('patient', String(created.id), () => true, 'the patient record');
    expect(stored.fields['First Name']).toBe('Smile \u{1F600}');
  });

  it('answers 400 to a body nested 5,000 levels deep (10 KB), so DrChrono does not retry it', async () => {
    const deep = `{"receiver":{},"object":{"id":${patientId},"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    const r = await deliver('PATIENT_MODIFY', 'deep-1', deep);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toEqual({ error: 'body nests deeper than 64 levels' });
  });
});

describe('receiver: appointment ids that are not numeric', () => {
  const appointmentId = 'Appt 7/B é #1';

  it('syncs an appointment with spaces, a slash and non-ASCII in its id through webhook, records, CLI and log', async () => {
    await httpJson('POST', sandbox('/appointments'), { id: appointmentId, patient: patientId, doctor: 263812, profile: 447202, reason: 'Check-up', duration: 15 }, 201);

    const stored = await waitForRecord('appointment', appointmentId, () => true, 'the appointment record');
    expect(stored.fields).toMatchObject({ 'Claim ID': appointmentId, Patient: chartId, Reason: 'Check-up' });

    const entry = await waitForLog((e) => e.entity === 'appointment' && e.drchronoId === appointmentId, 'the appointment log entry');
    expect(entry).toMatchObject({ event: 'APPOINTMENT_CREATE', outcome: 'created' });

    const shown = await cli('records', team.teamId, 'appointment', appointmentId);
    expect(shown).toMatchObject({ code: 0, err: '' });
    expect(shown.out).toContain(`appointment ${appointmentId}`);
    expect(shown.out).toContain(`Claim ID: ${appointmentId}`);
    const log = await cli('log', team.teamId, '--limit', '50');
    expect(log.out).toContain(`appointment ${appointmentId}`);
  });

  it('fetches such an appointment from DrChrono by id as one escaped path segment', async () => {
    const secret = await readTeamSecret(secretsClient(), tables().teamSecretPrefix, team.teamId);
    const client = new DrChronoClient({ baseUrl: platform().sandboxUrl!, accessToken: async () => secret.accessToken! });
    expect((await client.getAppointment(appointmentId)).id).toBe(appointmentId);
  });
});

describe('receiver: timestamps with a UTC offset', () => {
  it('syncs an appointment delivery whose updated_at carries an offset, ordered by the wall clock it states', async () => {
    const created = (await httpJson<Json>('POST', sandbox('/appointments'), { patient: patientId, doctor: 263812, profile: 447202, reason: 'Plain' }, 201)).body;
    const id = String(created.id);
    await waitForRecord('appointment', id, () => true, 'the appointment record');
    const current = (await httpJson<Json>('GET', sandbox(`/appointments/${id}`), undefined, 200)).body;

    const object = { ...current, reason: 'Offset change', updated_at: '2099-01-15T10:30:00.250-05:00' };
    const r = await deliver('APPOINTMENT_MODIFY', `offset-${id}`, JSON.stringify({ receiver: { id: 1 }, object }));
    expect(r.status).toBe(202);
    expect(await waitForLog((e) => e.deliveryId === `offset-${id}`, 'the offset delivery log entry')).toMatchObject({ outcome: 'updated' });
    expect((await record('appointment', id))?.fields.Reason).toBe('Offset change');

    // An older offset-less state of the same object, delivered late, does not overwrite it.
    const late = await deliver('APPOINTMENT_MODIFY', `late-${id}`, JSON.stringify({ receiver: { id: 1 }, object: { ...current, reason: 'Late', updated_at: '2099-01-15T10:30:00' } }));
    expect(late.status).toBe(202);
    expect(await waitForLog((e) => e.deliveryId === `late-${id}`, 'the late delivery log entry')).toMatchObject({ outcome: 'stale-skipped' });
    expect((await record('appointment', id))?.fields.Reason).toBe('Offset change');
  });
});
