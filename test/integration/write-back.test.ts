import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, sqsClient } from '../../shared/aws/clients';
import { budgetHourKey } from '../../shared/budget/api-budget';
import { readIntegrationLog, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { getRecord } from '../../shared/store/records';
import { PATIENT_FIELDS } from '../../shared/mapping/field-names';
import { teamKey } from '../../shared/teams/team-store';
import { changeGroupId, type ChangeMessage } from '../../shared/write-back/change';
import { createChange, getChange, type ChangeItem } from '../../shared/write-back/change-store';
import { MAIN_OFFICE } from '../../local/drchrono-sandbox/seed';
import { createSandboxApp, decideInSandbox, followCallback, registerTestTeam, startAuthorize } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * The write-back function through the local platform (docs/write-back.md): a change message on the FIFO queue (as
 * the write API would send it, with its change item) → DrChrono (the sandbox) → the records and the change outcome,
 * and DrChrono's webhook for our own change → `unchanged`.
 */
type Json = Record<string, unknown>;
const DOCTOR = 263812;
const VERBOSE_ONLY = new Set(['Patient Flags', 'Patient Flags and Descriptions', 'Insurance Company', 'Insurance ID Number', 'Insurance Group Number', 'Secondary Insurance', 'Secondary Insurance ID Number', 'Secondary Insurance Group Number']);
const NON_VERBOSE_PATIENT_FIELDS = PATIENT_FIELDS.filter((f) => !VERBOSE_ONLY.has(f));
const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const ddb = documentClient();
const tables = () => platform().resources;

interface Team {
  teamId: string;
  clientId: string;
}

/**
 * Connects a team whose authorization asked for the write scopes and switches write-back on: what `team write-back
 * on` + the connect link do (wt-api's §5), done here directly so this suite tests the worker alone.
 */
async function connectWritingTeam(o: { defaultFields?: boolean } = {}): Promise<Team> {
  const app = await createSandboxApp();
  const { teamId, webhookSecret } = await registerTestTeam(app);
  // No verbose-only patient fields (flags, insurance): then a webhook's body is the whole state. The default config
  // (every field) is the other case: the echo's body lacks the verbose-only fields (docs/write-back.md "Processing").
  if (!o.defaultFields) {
    await ddb.send(
      new UpdateCommand({ TableName: tables().teamsTable, Key: teamKey(teamId), UpdateExpression: 'SET syncFields = :f', ExpressionAttributeValues: { ':f': { patient: NON_VERBOSE_PATIENT_FIELDS } } }),
    );
  }
  const authorize = await startAuthorize(teamId);
  if (authorize.status !== 302 || !authorize.location) throw new Error(`authorize answered ${authorize.status}`);
  const url = new URL(authorize.location);
  url.searchParams.set('scope', `${url.searchParams.get('scope') ?? ''} patients:write calendar:write`.trim());
  const callback = await followCallback(await decideInSandbox(url.toString(), 'approve'), authorize.cookie);
  if (callback.status !== 200) throw new Error(`callback answered ${callback.status}`);
  await ddb.send(
    new UpdateCommand({
      TableName: tables().teamsTable,
      Key: teamKey(teamId),
      UpdateExpression: 'SET writeBack = :on, grantedScopes = :scopes',
      ExpressionAttributeValues: { ':on': true, ':scopes': ['patients:read', 'calendar:read', 'user:read', 'patients:write', 'calendar:write'] },
    }),
  );
  await httpJson('PUT', sandbox(`/apps/${app.clientId}/webhook`), {
    callbackUrl: apiUrl(`/drchronowebhook/${teamId}`),
    secretToken: webhookSecret,
    events: ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'],
    active: true,
    verboseObjects: false,
  }, 200);
  const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${app.clientId}/webhook/verify`), undefined, 200);
  if (!verified.body.ok) throw new Error('webhook verification failed');
  return { teamId, clientId: app.clientId };
}

function message(team: Team, o: Partial<ChangeMessage>): ChangeMessage {
  return {
    v: 1,
    changeId: randomUUID(),
    teamId: team.teamId,
    entity: 'patient',
    op: 'update',
    key: null,
    drchronoId: null,
    fieldsWritten: [],
    payload: {},
    baseVersion: null,
    requestedAt: new Date().toISOString(),
    ...o,
  };
}

/** What the write API does: the pending change item, then the FIFO message (group per record, dedup = change id). */
async function send(m: ChangeMessage): Promise<ChangeMessage> {
  if (!(await createChange(ddb, tables().teamsTable, m))) throw new Error('change id collided');
  await sqsClient().send(
    new SendMessageCommand({
      QueueUrl: platform().queueUrls.writeBack,
      MessageBody: JSON.stringify(m),
      MessageGroupId: changeGroupId(m),
      MessageDeduplicationId: m.changeId,
    }),
  );
  return m;
}

function outcome(team: Team, changeId: string, timeoutMs = 30_000): Promise<ChangeItem> {
  return waitFor(
    async () => {
      const c = await getChange(ddb, tables().teamsTable, team.teamId, changeId);
      return c && c.status !== 'pending' ? c : undefined;
    },
    { timeoutMs, intervalMs: 200, description: `the outcome of change ${changeId}` },
  );
}

const log = (team: Team): Promise<IntegrationLogEntry[]> => readIntegrationLog(ddb, tables().integrationLogTable, team.teamId, { limit: 500 });
const rawRecord = async (team: Team, entity: string, id: string) =>
  (await ddb.send(new GetCommand({ TableName: tables().recordsTable, Key: { pk: `${team.teamId}#${entity}`, sk: id }, ConsistentRead: true }))).Item;

/** DrChrono calls on `/api/patients/{id}` (GET, PATCH) the team's app has made, from the sandbox's counter. */
async function patientByIdCalls(team: Team): Promise<number> {
  const { body } = await httpJson<{ byPath: Record<string, number> }>('GET', sandbox(`/apps/${team.clientId}/rate-limit`), undefined, 200);
  return body.byPath['/api/patients/{id}'] ?? 0;
}

async function sandboxPatient(o: Json = {}): Promise<Json> {
  const chart = `WB${randomUUID().slice(0, 8).toUpperCase()}`;
  return (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Write', last_name: 'Back', gender: 'Female', doctor: DOCTOR, chart_id: chart, ...o }, 201)).body;
}

async function syncedPatient(team: Team): Promise<{ id: string; chartId: string }> {
  const p = await sandboxPatient();
  const id = String(p.id);
  await waitFor(() => getRecord(ddb, tables().recordsTable, team.teamId, 'patient', id, { consistent: true }), { timeoutMs: 30_000, description: 'the new patient synced' });
  await deliveriesLogged(team);
  return { id, chartId: String(p.chart_id) };
}

/**
 * Until every delivery the team's app has been sent has its final log entry: no earlier webhook (another suite's
 * patient change in the shared practice, or this patient's create) is still on its way to the record, so a test
 * that compares the record before and after an echo sees the echo's effect only.
 */
async function deliveriesLogged(team: Team): Promise<void> {
  await waitFor(
    async () => {
      const { body: deliveries } = await httpJson<{ id: string; attempts: { ok: boolean }[] }[]>('GET', sandbox(`/deliveries?clientId=${team.clientId}`), undefined, 200);
      const logged = new Set((await log(team)).filter((e) => e.deliveryId !== undefined && e.outcome !== 'deferred').map((e) => e.deliveryId));
      return deliveries.every((d) => !d.attempts.some((a) => a.ok) || logged.has(d.id));
    },
    { timeoutMs: 30_000, description: 'the team\'s deliveries so far processed' },
  );
}

/** A start time no other test books: a random minute of a day far ahead. */
function freeSlot(): string {
  const day = 10 + Math.floor(Math.random() * 18);
  const minute = Math.floor(Math.random() * 600);
  const hh = String(8 + Math.floor(minute / 60)).padStart(2, '0');
  const mm = String(minute % 60).padStart(2, '0');
  return `2031-0${1 + Math.floor(Math.random() * 9)}-${day}T${hh}:${mm}:00`;
}

describe('write-back through the local platform', () => {
  let team: Team;

  beforeAll(async () => {
    team = await connectWritingTeam();
  }, 120_000);

  afterAll(async () => {
    if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
    // Later suites on this platform read real time again (the conflict and budget tests move the clock).
    await httpJson('POST', apiUrl('/_local/clock'), { reset: true }, 200);
  });

  it("applies a patient update, shows DrChrono's state in the record at once, and DrChrono's echo is `unchanged`", async () => {
    const p = await syncedPatient(team);
    await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/quirks`), { holding: true }, 200);
    try {
      const m = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'changed@example.invalid' }, fieldsWritten: ['Email'] }));
      const done = await outcome(team, m.changeId);
      expect(done).toMatchObject({ status: 'applied', drchronoId: p.id });
      const rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'patient', p.id, { consistent: true });
      expect(rec?.fields.Email).toBe('changed@example.invalid');
      expect(rec?.version).toBe(done.currentVersion);
      const before = await rawRecord(team, 'patient', p.id);
      expect(before?.lastDeliveryId).toBe(m.changeId);

      // The echo: DrChrono's PATIENT_MODIFY for the change we made, delivered after it was applied.
      await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/release`), { order: 'fifo' }, 200);
      const echo = await waitFor(
        async () => (await log(team)).find((e) => e.event === 'PATIENT_MODIFY' && e.drchronoId === p.id && e.direction === undefined),
        { timeoutMs: 30_000, description: 'the echo webhook processed' },
      );
      expect(echo.outcome).toBe('unchanged');
      expect(await rawRecord(team, 'patient', p.id)).toEqual(before);

      const out = await waitFor(async () => (await log(team)).find((e) => e.changeId === m.changeId), { description: 'the outbound entry' });
      expect(out).toMatchObject({ direction: 'outbound', outcome: 'applied', entity: 'patient', drchronoId: p.id, fieldsWritten: ['Email'], event: 'WRITE_BACK_PATIENT_UPDATE' });
    } finally {
      await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/quirks`), { holding: false }, 200);
      await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/release`), {}, 200);
    }
  }, 90_000);

  it("with the default fields (flags, insurance: verbose-only), DrChrono's echo is `unchanged` without a GET or a record write", async () => {
    const all = await connectWritingTeam({ defaultFields: true });
    try {
      const p = await syncedPatient(all);
      await httpJson('POST', sandbox(`/apps/${all.clientId}/webhook/quirks`), { holding: true }, 200);
      const m = await send(message(all, { key: p.chartId, drchronoId: p.id, payload: { email: 'echo@example.invalid' }, fieldsWritten: ['Email'] }));
      expect(await outcome(all, m.changeId)).toMatchObject({ status: 'applied', drchronoId: p.id });
      const before = await rawRecord(all, 'patient', p.id);
      expect(before).toMatchObject({ Email: 'echo@example.invalid', lastDeliveryId: m.changeId });
      const patientCalls = await patientByIdCalls(all);

      await httpJson('POST', sandbox(`/apps/${all.clientId}/webhook/release`), { order: 'fifo' }, 200);
      const echo = await waitFor(
        async () => (await log(all)).find((e) => e.event === 'PATIENT_MODIFY' && e.drchronoId === p.id && e.direction === undefined),
        { timeoutMs: 30_000, description: 'the echo webhook processed' },
      );
      expect(echo.outcome).toBe('unchanged');
      expect(await rawRecord(all, 'patient', p.id)).toEqual(before);
      expect(await patientByIdCalls(all)).toBe(patientCalls);
    } finally {
      await httpJson('PATCH', sandbox(`/apps/${all.clientId}/webhook`), { active: false }, 200);
    }
  }, 120_000);

  it('upserts a Chart ID DrChrono does not have by creating the patient with it', async () => {
    const chart = `WBNEW${randomUUID().slice(0, 6).toUpperCase()}`;
    const m = await send(
      message(team, { op: 'upsert', key: chart, payload: { doctor: DOCTOR, gender: 'Male', first_name: 'Upsert', last_name: 'Created' }, fieldsWritten: ['Primary Provider', 'Sex', 'First Name', 'Last Name'] }),
    );
    const done = await outcome(team, m.changeId);
    expect(done).toMatchObject({ status: 'applied', key: chart });
    const created = (await httpJson<Json[]>('GET', sandbox('/patients'), undefined, 200)).body.filter((x) => x.chart_id === chart);
    expect(created).toHaveLength(1);
    const rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'patient', String(created[0]!.id), { consistent: true });
    expect(rec?.fields['Chart ID']).toBe(chart);
    expect(rec?.fields['First Name']).toBe('Upsert');
  }, 60_000);

  it('creates, moves, cancels and deletes an appointment', async () => {
    const p = await syncedPatient(team);
    const start = freeSlot();
    const create = await send(
      message(team, {
        entity: 'appointment',
        op: 'create',
        payload: { doctor: DOCTOR, patient: Number(p.id), office: MAIN_OFFICE[DOCTOR], exam_room: 1, scheduled_time: start, duration: 30 },
        fieldsWritten: ['Provider', 'Patient', 'Date of Service', 'Duration'],
      }),
    );
    const created = await outcome(team, create.changeId);
    expect(created).toMatchObject({ status: 'applied' });
    const id = created.drchronoId!;
    expect(created.key).toBe(id);
    let rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'appointment', id, { consistent: true });
    expect(rec?.fields['Date of Service']).toContain(start.slice(0, 16));
    expect(rec?.fields.Patient).toBe(p.chartId);

    const later = `${start.slice(0, 11)}${String(Number(start.slice(11, 13)) + 1).padStart(2, '0')}${start.slice(13)}`;
    const move = await send(message(team, { entity: 'appointment', key: id, drchronoId: id, payload: { scheduled_time: later }, fieldsWritten: ['Date of Service'] }));
    expect(await outcome(team, move.changeId)).toMatchObject({ status: 'applied' });
    rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'appointment', id, { consistent: true });
    expect(rec?.fields['Date of Service']).toContain(later.slice(0, 16));

    const cancel = await send(message(team, { entity: 'appointment', key: id, drchronoId: id, payload: { status: 'Cancelled' }, fieldsWritten: ['Appt Status'] }));
    expect(await outcome(team, cancel.changeId)).toMatchObject({ status: 'applied' });
    rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'appointment', id, { consistent: true });
    expect(rec?.fields['Appt Status']).toBe('Cancelled');

    const del = await send(message(team, { entity: 'appointment', op: 'delete', key: id, drchronoId: id }));
    expect(await outcome(team, del.changeId)).toMatchObject({ status: 'applied' });
    rec = await getRecord(ddb, tables().recordsTable, team.teamId, 'appointment', id, { consistent: true });
    expect(rec?.deleted).toBe(true);

    // The log is written after the batch, just after the change item ended.
    const entries = await waitFor(async () => {
      const found = (await log(team)).filter((e) => [create, move, cancel, del].some((c) => c.changeId === e.changeId));
      return found.length === 4 ? found : undefined;
    }, { description: 'the four outbound log entries' });
    expect(entries.map((e) => e.outcome)).toEqual(['applied', 'applied', 'applied', 'applied']);
  }, 90_000);

  it('rejects an overlapping appointment (409) and a value DrChrono refuses (400, with field errors by record field)', async () => {
    const p = await syncedPatient(team);
    const start = freeSlot();
    const body = { doctor: DOCTOR, patient: Number(p.id), office: MAIN_OFFICE[DOCTOR], exam_room: 2, scheduled_time: start, duration: 30 };
    const first = await send(message(team, { entity: 'appointment', op: 'create', payload: body, fieldsWritten: ['Provider'] }));
    expect(await outcome(team, first.changeId)).toMatchObject({ status: 'applied' });
    const second = await send(message(team, { entity: 'appointment', op: 'create', payload: body, fieldsWritten: ['Provider'] }));
    const overlap = await outcome(team, second.changeId);
    expect(overlap.status).toBe('rejected');
    expect(overlap.reason).toContain('overlaps an existing appointment');

    const bad = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { gender: 'Klingon' }, fieldsWritten: ['Sex'] }));
    const refused = await outcome(team, bad.changeId);
    expect(refused).toMatchObject({ status: 'rejected', reason: 'DrChrono refused the change' });
    expect(Object.keys(refused.fieldErrors ?? {})).toEqual(['Sex']);
    expect(JSON.stringify(refused)).not.toContain('Klingon');
    const entry = await waitFor(async () => (await log(team)).find((e) => e.changeId === bad.changeId), { description: 'the rejection logged' });
    expect(entry).toMatchObject({ outcome: 'rejected', fieldsWritten: [] });
  }, 60_000);

  it('ends a change based on a version DrChrono has moved past as `conflict`, writing nothing', async () => {
    const p = await syncedPatient(team);
    const base = (await getRecord(ddb, tables().recordsTable, team.teamId, 'patient', p.id, { consistent: true }))!.version;
    // Someone edits the patient in DrChrono a second later; the app has not seen it.
    await httpJson('POST', apiUrl('/_local/clock'), { advanceSeconds: 2 }, 200);
    await httpJson('PATCH', sandbox(`/patients/${p.id}`), { cell_phone: '555-0100' }, 200);
    await waitFor(async () => (await getRecord(ddb, tables().recordsTable, team.teamId, 'patient', p.id, { consistent: true }))?.fields['Cell Phone'] === '555-0100', {
      description: 'the DrChrono edit synced',
    });
    const m = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'late@example.invalid' }, fieldsWritten: ['Email'], baseVersion: base }));
    const done = await outcome(team, m.changeId);
    expect(done.status).toBe('conflict');
    expect(done.currentVersion).toBeDefined();
    expect(done.currentVersion! > base).toBe(true);
    const now = (await httpJson<Json>('GET', sandbox(`/patients/${p.id}`), undefined, 200)).body;
    expect(now.email).not.toBe('late@example.invalid');
  }, 60_000);

  it('retries a DrChrono 5xx and applies the change once DrChrono answers', async () => {
    const p = await syncedPatient(team);
    // Three 500s: the client's own three tries all fail, so the worker backs the change off (10 s) and tries again.
    await httpJson('POST', sandbox('/faults'), { path: `/api/patients/${p.id}`, method: 'PATCH', kind: '500', count: 3 }, 201);
    const m = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'after-5xx@example.invalid' }, fieldsWritten: ['Email'] }));
    const done = await outcome(team, m.changeId, 60_000);
    expect(done).toMatchObject({ status: 'applied', attempts: 1 });
    expect((await httpJson<Json>('GET', sandbox(`/patients/${p.id}`), undefined, 200)).body.email).toBe('after-5xx@example.invalid');
  }, 90_000);

  it('does not create an appointment twice when the worker fails between the POST and recording it', async () => {
    const p = await syncedPatient(team);
    const start = freeSlot();
    // The write of the created id fails (all 4 of the DynamoDB client's tries): the change is retried with the POST done.
    await httpJson('POST', apiUrl('/_local/faults'), { service: 'dynamodb', operations: ['UpdateItem'], resource: tables().teamsTable, bodyContains: 'createdId', kind: '500', count: 4 }, 201);
    const m = await send(
      message(team, {
        entity: 'appointment',
        op: 'create',
        payload: { doctor: DOCTOR, patient: Number(p.id), office: MAIN_OFFICE[DOCTOR], exam_room: 3, scheduled_time: start, duration: 15 },
        fieldsWritten: ['Provider', 'Patient', 'Date of Service'],
      }),
    );
    const done = await outcome(team, m.changeId, 60_000);
    expect(done).toMatchObject({ status: 'applied', attempts: 1 });
    const booked = (await httpJson<Json[]>('GET', sandbox('/appointments'), undefined, 200)).body.filter(
      (a) => a.patient === Number(p.id) && String(a.scheduled_time).startsWith(start) && a.deleted_flag !== true,
    );
    expect(booked.map((a) => String(a.id))).toEqual([done.drchronoId]);
  }, 90_000);

  it('does not create a patient twice when the worker fails between the POST and ending the change', async () => {
    const chart = `WBFLT${randomUUID().slice(0, 6).toUpperCase()}`;
    // Ending the change fails (all 4 of the DynamoDB client's tries) after DrChrono created the patient.
    await httpJson('POST', apiUrl('/_local/faults'), { service: 'dynamodb', operations: ['UpdateItem'], resource: tables().teamsTable, bodyContains: 'completedAt', kind: '500', count: 4 }, 201);
    const m = await send(message(team, { op: 'upsert', key: chart, payload: { doctor: DOCTOR, gender: 'Female', first_name: 'Fault', last_name: 'Create' }, fieldsWritten: ['Primary Provider', 'Sex', 'First Name', 'Last Name'] }));
    const done = await outcome(team, m.changeId, 60_000);
    expect(done).toMatchObject({ status: 'applied', key: chart, attempts: 1 });
    const created = (await httpJson<Json[]>('GET', sandbox('/patients'), undefined, 200)).body.filter((x) => x.chart_id === chart);
    expect(created.map((x) => String(x.id))).toEqual([done.drchronoId]);
  }, 90_000);

  it('rejects a change with the reconnect hint once write-back is switched off, without calling DrChrono', async () => {
    const p = await syncedPatient(team);
    const setWriteBack = (on: boolean) =>
      ddb.send(new UpdateCommand({ TableName: tables().teamsTable, Key: teamKey(team.teamId), UpdateExpression: 'SET writeBack = :on', ExpressionAttributeValues: { ':on': on } }));
    await setWriteBack(false);
    try {
      const m = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'off@example.invalid' }, fieldsWritten: ['Email'] }));
      const done = await outcome(team, m.changeId);
      expect(done.status).toBe('rejected');
      expect(done.reason).toContain(`drchrono-sync team write-back ${team.teamId} on`);
      expect((await httpJson<Json>('GET', sandbox(`/patients/${p.id}`), undefined, 200)).body.email).not.toBe('off@example.invalid');
    } finally {
      await setWriteBack(true);
    }
  }, 60_000);

  it('defers on a spent budget without reordering: both changes of one patient apply, in order, after the hour', async () => {
    const p = await syncedPatient(team);
    // Spend this hour's budget (write-back may use 450 of 500).
    await ddb.send(new PutCommand({ TableName: tables().teamsTable, Item: { ...teamKeyOf(team.teamId, budgetHourKey(new Date(await platformNow()))), calls: 500 } }));
    const a = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'first@example.invalid' }, fieldsWritten: ['Email'] }));
    const b = await send(message(team, { key: p.chartId, drchronoId: p.id, payload: { email: 'second@example.invalid' }, fieldsWritten: ['Email'] }));
    const deferred = await waitFor(async () => (await log(team)).find((e) => e.changeId === a.changeId && e.outcome === 'deferred'), { description: 'the deferral logged' });
    expect(deferred.detail).toContain('team API budget exhausted');
    expect((await getChange(ddb, tables().teamsTable, team.teamId, b.changeId))?.status).toBe('pending');
    expect((await log(team)).some((e) => e.changeId === b.changeId)).toBe(false);

    // The next hour (plus the spread): a fresh budget, and the hidden message is visible again.
    const now = new Date(await platformNow());
    const toNextHour = 3600 - (now.getUTCMinutes() * 60 + now.getUTCSeconds());
    await httpJson('POST', apiUrl('/_local/clock'), { advanceSeconds: toNextHour + 90 }, 200);
    const first = await outcome(team, a.changeId, 60_000);
    const second = await outcome(team, b.changeId, 60_000);
    expect([first.status, second.status]).toEqual(['applied', 'applied']);
    expect(first.completedAt! <= second.completedAt!).toBe(true);
    expect((await httpJson<Json>('GET', sandbox(`/patients/${p.id}`), undefined, 200)).body.email).toBe('second@example.invalid');
  }, 120_000);
});

function teamKeyOf(teamId: string, sk: string): { pk: string; sk: string } {
  return { pk: teamId, sk };
}

async function platformNow(): Promise<string> {
  return (await httpJson<{ now: string }>('GET', apiUrl('/_local/clock'), undefined, 200)).body.now;
}
