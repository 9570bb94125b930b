import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { WRITE_API_PATHS } from '../../../shared/http/routes';
import { isSqsText } from '../../../shared/ingest/sqs-message-body';
import { chartKey } from '../../../shared/store/records';
import { ChangeMessageSchema, changeGroupId } from '../../../shared/write-back/change';
import type { WritePlan, WriteRequest } from '../../../shared/write-back/reverse-map';
import { handleWriteApi, MAX_BODY_BYTES, type WriteApiDeps, type WriteApiRequest } from '../../../shared/write-back/write-api';
import { AmbiguousChartIdError, LookupUnavailableError } from '../../../shared/write-back/write-lookups';

const TEAM = '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f';
const CHANGE_ID = '0b6a8f5e-2c4d-4e1f-9a3b-7c8d9e0f1a2b';
const CHART = 'CH-77';
const VERSION = 'u#2026-11-29T10:00:00.000000000#1#2026-11-29T10:00:01.000Z';
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

let planned: WriteRequest[];
let plan: (req: WriteRequest) => Promise<WritePlan>;

function team(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: TEAM,
    sk: 'TEAM',
    teamId: TEAM,
    status: 'connected',
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    writeBack: true,
    grantedScopes: ['patients:read', 'calendar:read', 'user:read', 'patients:write', 'calendar:write'],
    ...extra,
  };
}

function givenTeam(item: Record<string, unknown> | undefined): void {
  ddb.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: item });
}

function givenPatient(opts: { deleted?: boolean } = {}): void {
  ddb.on(QueryCommand, { TableName: 'records' }).resolves({ Items: [{ chartKey: chartKey(TEAM, CHART), pk: `${TEAM}#patient`, sk: '501' }] });
  ddb.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '501' } }).resolves({
    Item: { pk: `${TEAM}#patient`, sk: '501', version: VERSION, chartKey: chartKey(TEAM, CHART), 'Chart ID': CHART, ...(opts.deleted ? { deleted: true } : { 'First Name': 'Ada' }) },
  });
}

function givenAppointment(id: string, opts: { deleted?: boolean } = {}): void {
  ddb.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#appointment`, sk: id } }).resolves({
    Item: { pk: `${TEAM}#appointment`, sk: id, version: VERSION, 'Claim ID': id, ...(opts.deleted ? { deleted: true } : {}) },
  });
}

function deps(): WriteApiDeps {
  return {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    sqs: new SQSClient({ region: 'us-east-1' }),
    teamsTable: 'teams',
    recordsTable: 'records',
    writeBackQueueUrl: 'https://sqs.local/write-back.fifo',
    planWrite: (req) => {
      planned.push(req);
      return plan(req);
    },
    lookups: () => ({
      patientIdByChartId: () => Promise.resolve(undefined),
      doctorExists: () => Promise.resolve(true),
      appointmentProfiles: () => Promise.resolve(new Map()),
      officesOfDoctor: () => Promise.resolve([]),
    }),
    newChangeId: () => CHANGE_ID,
    now: () => new Date('2026-11-30T09:00:00.000Z'),
  };
}

function request(method: string, route: keyof typeof WRITE_API_PATHS, params: Record<string, string>, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): WriteApiRequest {
  return {
    method,
    routePath: WRITE_API_PATHS[route].path,
    params: { teamId: TEAM, ...params },
    headers: opts.headers ?? {},
    body: opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body),
  };
}

const call = (req: WriteApiRequest) => handleWriteApi(req, deps());
const bodyOf = (res: { body: string }) => JSON.parse(res.body) as Record<string, unknown>;

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  planned = [];
  plan = async () => ({ ok: true, payload: { email: 'x' }, fieldsWritten: ['Email'] });
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm1' });
  // Unmatched record reads: nothing stored.
  ddb.on(GetCommand, { TableName: 'records' }).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(GetCommand, { TableName: 'teams' }).resolves({});
});

describe('write API: routes and the team', () => {
  it('answers 405 with Allow for a method the path does not serve', async () => {
    const res = await call(request('POST', 'patient', { chartId: CHART }, { body: '{}' }));
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, PUT, PATCH');
  });

  it('answers 404 for an unknown team and for a team id that is not a UUID', async () => {
    givenTeam(undefined);
    expect((await call(request('PUT', 'patient', { chartId: CHART }, { body: '{}' }))).statusCode).toBe(404);
    expect((await call(request('PUT', 'patient', { teamId: 'not-a-team', chartId: CHART }, { body: '{}' }))).statusCode).toBe(404);
  });

  it.each(['removing', 'removed'])('answers 404 for a %s team', async (status) => {
    givenTeam(team({ status }));
    expect((await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }))).statusCode).toBe(404);
  });

  it('answers 409 "team is disabled" for a disabled team', async () => {
    givenTeam(team({ disabledAt: '2026-11-29T00:00:00.000Z' }));
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(409);
    expect(bodyOf(res)).toEqual({ message: 'team is disabled' });
  });

  it.each(['registered', 'reauthorization_required'])('answers 409 with the reconnect hint for a %s team instead of queueing a change that cannot be applied', async (status) => {
    givenTeam(team({ status }));
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(409);
    expect(bodyOf(res)).toMatchObject({ message: 'the team is not connected to DrChrono', hint: expect.stringContaining(`team connect-link ${TEAM}`) });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 403 with the hint when write-back is off', async () => {
    givenTeam(team({ writeBack: undefined }));
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(403);
    expect(bodyOf(res).hint).toBe(`drchrono-sync team write-back ${TEAM} on, then reconnect: drchrono-sync team connect-link ${TEAM}`);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 403 with the hint when the tokens lack a write scope', async () => {
    givenTeam(team({ grantedScopes: ['patients:read', 'calendar:read', 'user:read', 'patients:write'] }));
    const res = await call(request('PATCH', 'appointment', { claimId: '9001' }, { body: '{"Reason":"x"}' }));
    expect(res.statusCode).toBe(403);
    expect(bodyOf(res).hint).toContain('connect-link');
  });

  it('reads the team item consistently, so write-back off stops the next request', async () => {
    givenTeam(team({ writeBack: false }));
    await call(request('PUT', 'patient', { chartId: CHART }, { body: '{}' }));
    const read = ddb.commandCalls(GetCommand).find((c) => c.args[0].input.Key?.sk === 'TEAM');
    expect(read?.args[0].input.ConsistentRead).toBe(true);
  });
});

describe('write API: request validation', () => {
  beforeEach(() => givenTeam(team()));

  it.each([
    ['not JSON', '{"Email":'],
    ['an array', '[1,2]'],
    ['a string', '"Email"'],
    ['empty', ''],
  ])('answers 400 when the body is %s', async (_what, body) => {
    givenPatient();
    const res = await call(request('PATCH', 'patient', { chartId: CHART }, { body }));
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res)).toMatchObject({ message: 'invalid change', problems: [{ field: '(body)' }] });
    expect(planned).toHaveLength(0);
  });

  it('answers 413 for a body over 64 KB', async () => {
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: JSON.stringify({ Reason: 'x'.repeat(MAX_BODY_BYTES) }) }));
    expect(res.statusCode).toBe(413);
  });

  it.each(['v1', '"not-a-version"', 'W/"not-a-version"', '"a", "b"', '* "x"'])('answers 400 for If-Match %s', async (ifMatch) => {
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}', headers: { 'if-match': ifMatch } }));
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res).problems).toEqual([{ field: 'If-Match', problem: expect.any(String) }]);
  });

  it('answers 400 with every problem the reverse mapping found, without queueing anything', async () => {
    plan = async () => ({ ok: false, problems: [{ field: 'Email', problem: 'not an email address' }, { field: 'Nope', problem: 'unknown field' }] });
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"x","Nope":1}' }));
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res)).toEqual({ message: 'invalid change', problems: [{ field: 'Email', problem: 'not an email address' }, { field: 'Nope', problem: 'unknown field' }] });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 404 to PATCH of a patient no record holds, and of a deleted one', async () => {
    expect((await call(request('PATCH', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }))).statusCode).toBe(404);
    givenPatient({ deleted: true });
    expect((await call(request('PATCH', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }))).statusCode).toBe(404);
  });

  it('answers 404 to PATCH and DELETE of an unknown or deleted appointment, and of a Claim ID that is not a number', async () => {
    expect((await call(request('PATCH', 'appointment', { claimId: '9001' }, { body: '{"Reason":"x"}' }))).statusCode).toBe(404);
    givenAppointment('9002', { deleted: true });
    expect((await call(request('DELETE', 'appointment', { claimId: '9002' }))).statusCode).toBe(404);
    expect((await call(request('DELETE', 'appointment', { claimId: 'abc' }))).statusCode).toBe(404);
  });

  it('answers 409 and queues nothing when two live patients hold the Chart ID, instead of writing to one of them', async () => {
    ddb.on(QueryCommand, { TableName: 'records' }).resolves({
      Items: [{ chartKey: chartKey(TEAM, CHART), pk: `${TEAM}#patient`, sk: '501' }, { chartKey: chartKey(TEAM, CHART), pk: `${TEAM}#patient`, sk: '502' }],
    });
    for (const sk of ['501', '502']) {
      ddb.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk } }).resolves({ Item: { pk: `${TEAM}#patient`, sk, version: VERSION, chartKey: chartKey(TEAM, CHART) } });
    }
    for (const method of ['PUT', 'PATCH']) {
      const res = await call(request(method, 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
      expect(res.statusCode).toBe(409);
      expect(bodyOf(res)).toMatchObject({ message: 'several patients have this Chart ID' });
    }
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 409 when an appointment names a Chart ID that several live patients hold', async () => {
    plan = () => Promise.reject(new AmbiguousChartIdError());
    const res = await call(request('POST', 'appointments', {}, { body: '{"Chart ID":"CH-77"}' }));
    expect(res.statusCode).toBe(409);
    expect(bodyOf(res)).toMatchObject({ message: 'several patients have this Chart ID' });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 400 to a DELETE with a body', async () => {
    givenAppointment('9001');
    expect((await call(request('DELETE', 'appointment', { claimId: '9001' }, { body: '{"Reason":"x"}' }))).statusCode).toBe(400);
  });

  it('answers 503 with Retry-After when a lookup needs DrChrono and DrChrono cannot be asked', async () => {
    plan = async () => {
      throw new LookupUnavailableError('budget', 1200);
    };
    const res = await call(request('POST', 'appointments', {}, { body: '{"Provider":"7"}' }));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1200');
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('write API: accepting a change', () => {
  beforeEach(() => givenTeam(team()));

  it('PUT of a synced patient stores a pending change, queues it in the record\'s group and answers 202 with Location', async () => {
    givenPatient();
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}', headers: { 'if-match': `"${VERSION}"` } }));
    expect(res.statusCode).toBe(202);
    expect(bodyOf(res)).toEqual({ changeId: CHANGE_ID, status: 'pending' });
    expect(res.headers.location).toBe(`/teams/${TEAM}/changes/${CHANGE_ID}`);
    expect(planned).toEqual([{ entity: 'patient', op: 'upsert', key: CHART, fields: { Email: 'a@b.example' } }]);

    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.Item).toMatchObject({ pk: TEAM, sk: `CHANGE#${CHANGE_ID}`, status: 'pending', drchronoId: '501', baseVersion: VERSION, fieldsWritten: ['Email'] });
    const sent = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    const message = ChangeMessageSchema.parse(JSON.parse(sent.MessageBody!));
    expect(message).toMatchObject({ teamId: TEAM, entity: 'patient', op: 'upsert', key: CHART, drchronoId: '501', payload: { email: 'x' }, baseVersion: VERSION });
    expect(sent.MessageGroupId).toBe(changeGroupId(message));
    expect(sent.MessageGroupId).not.toContain(CHART);
    expect(sent.MessageDeduplicationId).toBe(CHANGE_ID);
    expect(sent.MessageAttributes).toEqual({ teamId: { DataType: 'String', StringValue: TEAM }, entity: { DataType: 'String', StringValue: 'patient' } });
  });

  it('queues a value with U+FFFE, U+FFFF or a lone surrogate in a body SQS accepts, which parses back to the same value', async () => {
    const value = 'A\uFFFEB\uFFFF \uD800';
    const d = { ...deps(), planWrite: (req: WriteRequest): Promise<WritePlan> => Promise.resolve({ ok: true, payload: { email: req.fields.Email }, fieldsWritten: ['Email'] }) };
    const res = await handleWriteApi(request('PUT', 'patient', { chartId: CHART }, { body: JSON.stringify({ Email: value }) }), d);
    expect(res.statusCode).toBe(202);
    const body = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!;
    expect(isSqsText(body)).toBe(true);
    expect(ChangeMessageSchema.parse(JSON.parse(body)).payload).toEqual({ email: value });
  });

  it('takes If-Match: * as "any version": the change has no base version (last writer wins)', async () => {
    givenPatient();
    const res = await call(request('PATCH', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}', headers: { 'if-match': '*' } }));
    expect(res.statusCode).toBe(202);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ baseVersion: null });
  });

  it('takes a weak ETag W/"<version>" as that version (the opaque value is compared)', async () => {
    givenPatient();
    const res = await call(request('PATCH', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}', headers: { 'if-match': `W/"${VERSION}"` } }));
    expect(res.statusCode).toBe(202);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ baseVersion: VERSION });
  });

  it('PUT of a Chart ID no record holds queues an upsert without a DrChrono id', async () => {
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(202);
    const message = ChangeMessageSchema.parse(JSON.parse(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!));
    expect(message).toMatchObject({ op: 'upsert', key: CHART, drchronoId: null, baseVersion: null });
  });

  it('PATCH of a patient queues an update of its DrChrono id', async () => {
    givenPatient();
    expect((await call(request('PATCH', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }))).statusCode).toBe(202);
    expect(planned[0]).toMatchObject({ op: 'update', key: CHART });
    expect(JSON.parse(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!)).toMatchObject({ op: 'update', drchronoId: '501' });
  });

  it('POST of an appointment queues a create without a key, in a group of its own', async () => {
    const res = await call(request('POST', 'appointments', {}, { body: '{"Provider":"7"}' }));
    expect(res.statusCode).toBe(202);
    expect(planned[0]).toEqual({ entity: 'appointment', op: 'create', key: null, fields: { Provider: '7' } });
    const sent = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(JSON.parse(sent.MessageBody!)).toMatchObject({ op: 'create', key: null, drchronoId: null });
    expect(sent.MessageGroupId).toBe(`${TEAM}:appointment:new:${CHANGE_ID}`);
  });

  it('DELETE of an appointment queues a delete with an empty payload, without the reverse mapping', async () => {
    givenAppointment('9001');
    expect((await call(request('DELETE', 'appointment', { claimId: '9001' }))).statusCode).toBe(202);
    expect(planned).toHaveLength(0);
    expect(JSON.parse(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!)).toMatchObject({ op: 'delete', key: '9001', drchronoId: '9001', payload: {}, fieldsWritten: [] });
  });

  it('ends the change failed "not queued" and answers 503 when the queue send fails', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('queue down'));
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(503);
    expect(bodyOf(res)).toMatchObject({ changeId: CHANGE_ID, status: 'failed' });
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.Key).toEqual({ pk: TEAM, sk: `CHANGE#${CHANGE_ID}` });
    expect(update.ExpressionAttributeValues).toMatchObject({ ':status': 'failed', ':reason': 'not queued' });
  });
  it('answers 202 with the change\'s own status when the send failed on the client side but the worker already ended the change', async () => {
    // The SDK gave up on SendMessage (a timeout), but SQS had stored it and the worker applied it meanwhile.
    sqs.on(SendMessageCommand).rejects(new Error('socket hang up'));
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'not pending', $metadata: {} }));
    ddb.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: `CHANGE#${CHANGE_ID}` } }).resolves({
      Item: { pk: TEAM, sk: `CHANGE#${CHANGE_ID}`, changeId: CHANGE_ID, teamId: TEAM, entity: 'patient', op: 'upsert', key: CHART, fieldsWritten: ['Email'], baseVersion: null, requestedAt: 'x', status: 'applied' },
    });
    const res = await call(request('PUT', 'patient', { chartId: CHART }, { body: '{"Email":"a@b.example"}' }));
    expect(res.statusCode).toBe(202);
    expect(bodyOf(res)).toEqual({ changeId: CHANGE_ID, status: 'applied' });
    expect(res.headers.location).toBe(`/teams/${TEAM}/changes/${CHANGE_ID}`);
  });
});

describe('write API: reads', () => {
  beforeEach(() => givenTeam(team({ writeBack: undefined, disabledAt: '2026-11-29T00:00:00.000Z' })));

  it('GET of a record answers its fields and version, with the version as a quoted ETag (also when write-back is off or the team disabled)', async () => {
    givenPatient();
    const res = await call(request('GET', 'patient', { chartId: CHART }));
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(`"${VERSION}"`);
    expect(bodyOf(res)).toMatchObject({ entity: 'patient', key: CHART, drchronoId: '501', version: VERSION, deleted: false, fields: { 'First Name': 'Ada' } });
  });

  it('GET of an unknown record answers 404', async () => {
    expect((await call(request('GET', 'appointment', { claimId: '9001' }))).statusCode).toBe(404);
  });

  it('GET of a change answers the change item; an unknown or malformed change id answers 404', async () => {
    ddb.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: `CHANGE#${CHANGE_ID}` } }).resolves({
      Item: { pk: TEAM, sk: `CHANGE#${CHANGE_ID}`, expiresAt: 1, changeId: CHANGE_ID, teamId: TEAM, entity: 'patient', op: 'update', key: CHART, fieldsWritten: ['Email'], baseVersion: null, requestedAt: '2026-11-30T09:00:00.000Z', status: 'applied' },
    });
    const res = await call(request('GET', 'change', { changeId: CHANGE_ID }));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ changeId: CHANGE_ID, status: 'applied' });
    expect(bodyOf(res)).not.toHaveProperty('pk');
    expect((await call(request('GET', 'change', { changeId: '1b6a8f5e-2c4d-4e1f-9a3b-7c8d9e0f1a2b' }))).statusCode).toBe(404);
    expect((await call(request('GET', 'change', { changeId: 'nope' }))).statusCode).toBe(404);
  });
});
