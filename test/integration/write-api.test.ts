import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, sqsClient } from '../../shared/aws/clients';
import { LOCAL_CREDENTIALS, signRequest, type SigV4Credentials } from '../../shared/http/sigv4';
import { mapEmployee, mapPatient } from '../../shared/mapping';
import { SYNC_SCOPES, WRITE_BACK_SCOPES } from '../../shared/oauth/authorize-url';
import { getRecord, writeRecord } from '../../shared/store/records';
import { TEAM_SK } from '../../shared/teams/team-store';
import { changeGroupId, ChangeMessageSchema } from '../../shared/write-back/change';
import { getChange } from '../../shared/write-back/change-store';
import { context, doctor, patient } from '../unit/mapping/fixtures';
import { httpJson, httpRequest, type HttpResult } from './helpers/http';
import { apiUrl, pausePoller, platform, resumePoller } from './helpers/platform';

/**
 * The write API through the local API: SigV4 (the local IAM authorizer), the team checks, validation and the
 * accepted change (change item + one FIFO message). The write-back poller is paused, so the queued messages
 * are inspected here and never applied (the end-to-end outcomes are the write-back worker's tests).
 */
const ddb = documentClient();
const teamsTable = (): string => platform().resources.teamsTable;
const recordsTable = (): string => platform().resources.recordsTable;
const DOCTOR_ID = '263812';
const ALL_SCOPES = [...SYNC_SCOPES, ...WRITE_BACK_SCOPES];

async function signedRequest(
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; credentials?: SigV4Credentials; sendBody?: string } = {},
): Promise<HttpResult<string>> {
  const url = apiUrl(path);
  const headers = await signRequest(
    { method, url, headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }, ...(opts.body !== undefined ? { body: opts.body } : {}) },
    { credentials: opts.credentials ?? LOCAL_CREDENTIALS, region: platform().region },
  );
  const body = opts.sendBody ?? opts.body;
  return httpRequest(method, url, { headers, ...(body !== undefined ? { body } : {}) });
}

const json = (r: HttpResult<string>): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;

async function createTeam(extra: Record<string, unknown> = {}): Promise<string> {
  const teamId = randomUUID();
  const now = new Date().toISOString();
  await ddb.send(
    new PutCommand({
      TableName: teamsTable(),
      Item: { pk: teamId, sk: TEAM_SK, teamId, status: 'connected', createdAt: now, updatedAt: now, writeBack: true, grantedScopes: ALL_SCOPES, writeBackDefaults: { office: 1, examRoom: 1 }, ...extra },
    }),
  );
  return teamId;
}

/** A synced patient (and its doctor) with a Chart ID of this test's own. */
async function seedPatient(teamId: string): Promise<{ chartId: string; drchronoId: string; version: string }> {
  const chartId = `WAPI-${randomUUID().slice(0, 8)}`;
  const record = mapPatient(patient({ chart_id: chartId }), context());
  await writeRecord(ddb, recordsTable(), { teamId, record, deliveryId: 'seed', syncedAt: new Date().toISOString() });
  await writeRecord(ddb, recordsTable(), { teamId, record: mapEmployee(doctor(), context()), deliveryId: 'seed', syncedAt: new Date().toISOString() });
  const stored = await getRecord(ddb, recordsTable(), teamId, 'patient', record.drchronoId, { consistent: true });
  return { chartId, drchronoId: record.drchronoId, version: stored!.version };
}

/** Receives (and deletes) the queued write-back messages of this team. */
async function takeQueued(teamId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < 3; i += 1) {
    const res = await sqsClient().send(
      new ReceiveMessageCommand({
        QueueUrl: platform().queueUrls.writeBack,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
        MessageAttributeNames: ['All'],
      }),
    );
    for (const m of res.Messages ?? []) {
      await sqsClient().send(new DeleteMessageCommand({ QueueUrl: platform().queueUrls.writeBack, ReceiptHandle: m.ReceiptHandle! }));
      if (m.MessageAttributes?.teamId?.StringValue === teamId) out.push(m);
    }
    if (out.length > 0) break;
  }
  return out;
}

beforeAll(async () => {
  await pausePoller('write-back');
});
afterAll(async () => {
  await httpJson('DELETE', apiUrl('/_local/faults'));
  await resumePoller('write-back');
});

describe('write API: SigV4 (the local IAM authorizer)', () => {
  let teamId: string;
  let chartId: string;
  beforeAll(async () => {
    teamId = await createTeam();
    ({ chartId } = await seedPatient(teamId));
  });

  it('answers 403 Forbidden to an unsigned request', async () => {
    const res = await httpRequest('PUT', apiUrl(`/teams/${teamId}/patients/${chartId}`), { body: '{"Email":"new@example.invalid"}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(403);
    expect(json(res)).toEqual({ message: 'Forbidden' });
  });

  it('answers 403 to a request signed with the wrong secret', async () => {
    const res = await signedRequest('PUT', `/teams/${teamId}/patients/${chartId}`, { body: '{"Email":"new@example.invalid"}', credentials: { accessKeyId: 'local', secretAccessKey: 'wrong' } });
    expect(res.status).toBe(403);
  });

  it('answers 403 to a body altered after signing', async () => {
    const res = await signedRequest('PUT', `/teams/${teamId}/patients/${chartId}`, { body: '{"Email":"new@example.invalid"}', sendBody: '{"Email":"evil@example.invalid"}' });
    expect(res.status).toBe(403);
  });
});

describe('write API: the team may write', () => {
  it('answers 403 with the hint when write-back is off', async () => {
    const teamId = await createTeam({ writeBack: false });
    const res = await signedRequest('PUT', `/teams/${teamId}/patients/CH-1`, { body: '{"Email":"new@example.invalid"}' });
    expect(res.status).toBe(403);
    expect(json(res).hint).toBe(`drchrono-sync team write-back ${teamId} on, then reconnect: drchrono-sync team connect-link ${teamId}`);
  });

  it('answers 403 with the hint when the tokens were not granted the write scopes', async () => {
    const teamId = await createTeam({ grantedScopes: [...SYNC_SCOPES] });
    const res = await signedRequest('POST', `/teams/${teamId}/appointments`, { body: '{"Reason":"x"}' });
    expect(res.status).toBe(403);
    expect(String(json(res).hint)).toContain('connect-link');
  });

  it('answers 404 for an unknown team and 409 for a disabled one', async () => {
    expect((await signedRequest('PUT', `/teams/${randomUUID()}/patients/CH-1`, { body: '{"Email":"new@example.invalid"}' })).status).toBe(404);
    const disabled = await createTeam({ disabledAt: new Date().toISOString() });
    const res = await signedRequest('PUT', `/teams/${disabled}/patients/CH-1`, { body: '{"Email":"new@example.invalid"}' });
    expect(res.status).toBe(409);
    expect(json(res)).toEqual({ message: 'team is disabled' });
  });
});

describe('write API: validation and unknown records', () => {
  let teamId: string;
  let chartId: string;
  beforeAll(async () => {
    teamId = await createTeam();
    ({ chartId } = await seedPatient(teamId));
  });

  it('answers 400 with every problem: a read-only field and a bad value, nothing queued', async () => {
    const res = await signedRequest('PATCH', `/teams/${teamId}/patients/${chartId}`, { body: '{"Chart ID":"X","Disable SMS/Txt":"maybe"}' });
    expect(res.status).toBe(400);
    const body = json(res) as { message: string; problems: { field: string }[] };
    expect(body.message).toBe('invalid change');
    expect(body.problems.map((p) => p.field).sort()).toEqual(['Chart ID', 'Disable SMS/Txt']);
    expect(await takeQueued(teamId)).toEqual([]);
  });

  it('answers 400 listing every problem of the issue\'s kinds: unknown, read-only, a bad date, a label not in the list, a Chart ID and a Chrono Doctor ID no record has', async () => {
    const patch = await signedRequest('PATCH', `/teams/${teamId}/patients/${chartId}`, {
      body: JSON.stringify({ 'Favourite Colour': 'blue', 'Dr Chrono ID': '1', 'Patient Flags': ['VIP'], 'Date of Last Appointment': '2026-01-01', 'Date of Birth': '1990-02-30', Status: 'Retired', 'Primary Provider': '999999' }),
    });
    expect(patch.status).toBe(400);
    const problems = (json(patch) as { problems: { field: string; problem: string }[] }).problems;
    expect(problems.map((p) => p.field).sort()).toEqual(['Date of Birth', 'Date of Last Appointment', 'Dr Chrono ID', 'Favourite Colour', 'Patient Flags', 'Primary Provider', 'Status'].sort());
    // Problems name fields, never the values sent (PHI).
    expect(JSON.stringify(problems)).not.toMatch(/blue|1990-02-30|Retired|999999/);

    const create = await signedRequest('POST', `/teams/${teamId}/appointments`, {
      body: JSON.stringify({ Patient: 'NO-SUCH-CHART', Provider: '999999', 'Date of Service': '2026-12-14T10:30:00-05:00', Duration: 30, 'Claim ID': '5' }),
    });
    expect(create.status).toBe(400);
    expect((json(create).problems as { field: string }[]).map((p) => p.field).sort()).toEqual(['Claim ID', 'Date of Service', 'Patient', 'Provider']);
    expect(await takeQueued(teamId)).toEqual([]);
  });

  it('answers 400 to a body that is not a JSON object and to a malformed If-Match', async () => {
    expect((await signedRequest('PATCH', `/teams/${teamId}/patients/${chartId}`, { body: '["Email"]' })).status).toBe(400);
    const res = await signedRequest('PATCH', `/teams/${teamId}/patients/${chartId}`, { body: '{"Email":"new@example.invalid"}', headers: { 'if-match': 'v1' } });
    expect(res.status).toBe(400);
    expect(json(res).problems).toEqual([{ field: 'If-Match', problem: expect.any(String) }]);
  });

  it('answers 400 to an appointment create without its required fields', async () => {
    const res = await signedRequest('POST', `/teams/${teamId}/appointments`, { body: '{"Reason":"check-up"}' });
    expect(res.status).toBe(400);
    expect((json(res).problems as { field: string }[]).map((p) => p.field)).toEqual(expect.arrayContaining(['Patient', 'Provider', 'Date of Service']));
  });

  it('answers 404 to PATCH of an unknown patient, DELETE of an unknown appointment, GET of an unknown change', async () => {
    expect((await signedRequest('PATCH', `/teams/${teamId}/patients/NO-SUCH-CHART`, { body: '{"Email":"new@example.invalid"}' })).status).toBe(404);
    expect((await signedRequest('DELETE', `/teams/${teamId}/appointments/999999999`)).status).toBe(404);
    expect((await signedRequest('GET', `/teams/${teamId}/changes/${randomUUID()}`)).status).toBe(404);
  });

  it('answers 405 with Allow to a method the path does not serve', async () => {
    const res = await signedRequest('POST', `/teams/${teamId}/patients/${chartId}`, { body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, PUT, PATCH');
  });
});

describe('write API: accepted changes and reads', () => {
  let teamId: string;
  let seeded: { chartId: string; drchronoId: string; version: string };
  beforeAll(async () => {
    teamId = await createTeam();
    seeded = await seedPatient(teamId);
  });

  it('GET of a record answers its fields with the stored version as the ETag', async () => {
    const res = await signedRequest('GET', `/teams/${teamId}/patients/${seeded.chartId}`);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe(`"${seeded.version}"`);
    expect(json(res)).toMatchObject({ entity: 'patient', key: seeded.chartId, drchronoId: seeded.drchronoId, version: seeded.version, deleted: false });
  });

  it('accepts a PATCH with If-Match: 202 + Location, a pending change item and one message in the record\'s FIFO group', async () => {
    const res = await signedRequest('PATCH', `/teams/${teamId}/patients/${seeded.chartId}`, { body: '{"Email":"new@example.invalid"}', headers: { 'if-match': `"${seeded.version}"` } });
    expect(res.status).toBe(202);
    const { changeId, status } = json(res) as { changeId: string; status: string };
    expect(status).toBe('pending');
    expect(res.headers.location).toBe(`/teams/${teamId}/changes/${changeId}`);

    const change = await signedRequest('GET', `/teams/${teamId}/changes/${changeId}`);
    expect(change.status).toBe(200);
    expect(json(change)).toMatchObject({ changeId, teamId, entity: 'patient', op: 'update', key: seeded.chartId, drchronoId: seeded.drchronoId, status: 'pending', baseVersion: seeded.version, fieldsWritten: ['Email'] });

    const queued = await takeQueued(teamId);
    expect(queued).toHaveLength(1);
    const message = ChangeMessageSchema.parse(JSON.parse(queued[0]!.Body!));
    expect(message).toMatchObject({ changeId, op: 'update', payload: { email: 'new@example.invalid' } });
    expect(queued[0]!.Attributes?.MessageGroupId).toBe(changeGroupId(message));
    expect(queued[0]!.Attributes?.MessageDeduplicationId).toBe(changeId);
  });

  it('accepts an appointment create with the team\'s default office and exam room', async () => {
    const res = await signedRequest('POST', `/teams/${teamId}/appointments`, {
      body: JSON.stringify({ Patient: seeded.chartId, Provider: DOCTOR_ID, 'Date of Service': '2026-12-03T10:00:00', Duration: 30 }),
    });
    expect(res.status).toBe(202);
    const [queued] = await takeQueued(teamId);
    const message = ChangeMessageSchema.parse(JSON.parse(queued!.Body!));
    expect(message).toMatchObject({ op: 'create', key: null, payload: { office: 1, exam_room: 1, duration: 30 } });
    expect(queued!.Attributes?.MessageGroupId).toBe(`${teamId}:appointment:new:${message.changeId}`);
  });

  it('answers 503 and ends the change failed "not queued" when the queue send fails', async () => {
    await httpJson('POST', apiUrl('/_local/faults'), { service: 'sqs', operations: ['SendMessage'], bodyContains: teamId, kind: '500', count: 10 }, 201);
    try {
      const res = await signedRequest('PATCH', `/teams/${teamId}/patients/${seeded.chartId}`, { body: '{"Email":"other@example.invalid"}' });
      expect(res.status).toBe(503);
      const { changeId } = json(res) as { changeId: string };
      expect(await getChange(ddb, teamsTable(), teamId, changeId)).toMatchObject({ status: 'failed', reason: 'not queued' });
    } finally {
      await httpJson('DELETE', apiUrl('/_local/faults'));
    }
    expect(await takeQueued(teamId)).toEqual([]);
  });
});
