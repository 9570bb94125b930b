import { createHmac } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { captureOutput, lambdaContext } from '../helpers/lambda';
import { handler, WEBHOOK_SECRET_TTL_MS } from '../../../functions/webhook/handler';
import { WEBHOOK_TEAM_STATE_TTL_MS } from '../../../shared/webhook/team-state-cache';

// The handler reads its env on first invocation, as a Lambda container does.
process.env.TEAMS_TABLE = 'drchrono-sync-test-teams';
process.env.INGEST_QUEUE_URL = 'http://sqs.local/000000000000/drchrono-sync-test-ingest';
process.env.TEAM_SECRET_PREFIX = 'drchrono-sync/test/teams/';
process.env.AWS_REGION = 'us-east-1';

const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SecretsManagerClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f12345678';
const CLIENT_SECRET = 'client-secret-value-xyz';
const PATIENT = { id: 90210, chart_id: 'WXYZ0009', first_name: 'Philomena', last_name: 'Quartermaine', email: 'pq@example.test' };
const BODY = JSON.stringify({ receiver: { id: 5 }, object: PATIENT });

/** A distinct team per test: the handler's secret cache lives for the module, as it does in a container. */
let seq = 0;
function newTeam(): string {
  seq++;
  return `3f2c1b0a-9d8e-4f7a-8b6c-${seq.toString(16).padStart(12, '0')}`;
}

function seedSecret(teamId: string): void {
  secretsMock
    .on(GetSecretValueCommand, { SecretId: `drchrono-sync/test/teams/${teamId}` })
    .resolves({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: CLIENT_SECRET, webhookSecret: TOKEN }) });
}

function event(teamId: string, opts: { method?: string; body?: string; base64?: boolean; headers?: Record<string, string>; query?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  const body = opts.body ?? BODY;
  return {
    version: '2.0',
    routeKey: `${opts.method ?? 'POST'} /drchronowebhook/{teamId}`,
    rawPath: `/drchronowebhook/${teamId}`,
    rawQueryString: '',
    headers: {
      'X-Drchrono-Signature': TOKEN,
      'X-Drchrono-Event': 'PATIENT_MODIFY',
      'X-Drchrono-Delivery': 'dlv-777',
      'content-type': 'application/json',
      ...opts.headers,
    },
    queryStringParameters: opts.query,
    pathParameters: { teamId },
    isBase64Encoded: opts.base64 ?? false,
    body: opts.base64 ? Buffer.from(body).toString('base64') : body,
    requestContext: { http: { method: opts.method ?? 'POST', path: `/drchronowebhook/${teamId}` } },
  } as unknown as APIGatewayProxyEventV2;
}

const context = lambdaContext('webhook');

const invoke = (e: APIGatewayProxyEventV2) => handler(e, context) as Promise<APIGatewayProxyStructuredResultV2>;

let output: string[];
beforeEach(() => {
  sqsMock.reset();
  secretsMock.reset();
  ddbMock.reset();
  secretsMock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  // Every team the tests use has a team item, unless a test says otherwise.
  ddbMock.on(GetCommand).resolves({ Item: { pk: 'team' } });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  output = captureOutput();
});
afterEach(() => jest.restoreAllMocks());

describe('webhook handler', () => {
  it('queues an authenticated delivery and answers 202 with a JSON content type', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId));
    expect(res).toEqual({ statusCode: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: true, queued: true }) });
    const sent = sqsMock.commandCalls(SendMessageCommand);
    expect(sent).toHaveLength(1);
    const msg = JSON.parse(sent[0]!.args[0].input.MessageBody!);
    expect(msg).toMatchObject({ teamId, event: 'PATIENT_MODIFY', deliveryId: 'dlv-777', object: PATIENT });
  });

  it('answers 503 when SQS rejects the message', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    sqsMock.on(SendMessageCommand).rejects(new Error('ServiceUnavailable'));
    const res = await invoke(event(teamId));
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('ServiceUnavailable');
  });

  it('reads the team secret once across two warm invocations', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-778' } }))).statusCode).toBe(202);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('decodes a base64-encoded body before checking and queueing it', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId, { base64: true }));
    expect(res.statusCode).toBe(202);
    const msg = JSON.parse(sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!);
    expect(msg.object).toEqual(PATIENT);
  });

  it('answers 413 for an oversized body and queues nothing', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId, { body: JSON.stringify({ receiver: {}, object: { id: 1, pad: 'x'.repeat(200 * 1024) } }) }));
    expect(res.statusCode).toBe(413);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('measures a text body in UTF-8 bytes, not characters: 413 for 70,000 two-byte characters', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId, { body: JSON.stringify({ receiver: {}, object: { id: 1, pad: 'é'.repeat(70_000) } }) }));
    expect(res.statusCode).toBe(413);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('checks the HMAC form over the UTF-8 bytes of a text body with non-ASCII characters', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const body = JSON.stringify({ receiver: { id: 5 }, object: { id: 7, last_name: 'Zoë Ångström 🙂' } });
    const signature = createHmac('sha256', TOKEN).update(Buffer.from(body, 'utf8')).digest('hex');
    expect((await invoke(event(teamId, { body, headers: { 'X-Drchrono-Signature': signature } }))).statusCode).toBe(202);
  });

  it('answers 401 for a forged signature and queues nothing', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId, { headers: { 'X-Drchrono-Signature': 'forged' } }));
    expect(res.statusCode).toBe(401);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 404 for a team without a secret', async () => {
    const res = await invoke(event(newTeam()));
    expect(res.statusCode).toBe(404);
  });

  it('answers 404 for a team without a team item and makes no Secrets Manager call', async () => {
    ddbMock.on(GetCommand).resolves({});
    const res = await invoke(event(newTeam()));
    expect(res.statusCode).toBe(404);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the team item once across two warm invocations within the team-state TTL', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-778' } }))).statusCode).toBe(202);
    expect(ddbMock.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('answers 404 from a warm container once the team-state TTL has passed after a removal, though its secret is still cached', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    ddbMock.on(GetCommand).resolves({ Item: { status: 'removing' } });
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + WEBHOOK_TEAM_STATE_TTL_MS);
    const res = await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-779' } }));
    expect(res.statusCode).toBe(404);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it("serves a quiet team's delivery 30 minutes after its last from the cached secret: no second Secrets Manager call", async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + 30 * 60_000);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-780' } }))).statusCode).toBe(202);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    // Past the TTL the secret is read again.
    jest.spyOn(Date, 'now').mockReturnValue(now + WEBHOOK_SECRET_TTL_MS);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-781' } }))).statusCode).toBe(202);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses the old token within the team-state TTL after `rotate-webhook-secret --overlap 0`, though the secret TTL is an hour', async () => {
    const teamId = newTeam();
    const NEW_TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    secretsMock
      .on(GetSecretValueCommand, { SecretId: `drchrono-sync/test/teams/${teamId}` })
      .resolvesOnce({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: CLIENT_SECRET, webhookSecret: TOKEN, tokenVersion: 1 }) })
      .resolves({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: CLIENT_SECRET, webhookSecret: NEW_TOKEN, tokenVersion: 2 }) });
    ddbMock.on(GetCommand).resolves({ Item: { status: 'connected', tokenVersion: 1 } });
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    // The rotation claims version 2 on the team item, then writes the secret with no previous token kept.
    ddbMock.on(GetCommand).resolves({ Item: { status: 'connected', tokenVersion: 2 } });
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + WEBHOOK_TEAM_STATE_TTL_MS);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-782' } }))).statusCode).toBe(401);
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Delivery': 'dlv-783', 'X-Drchrono-Signature': NEW_TOKEN } }))).statusCode).toBe(202);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('a removed team costs no Secrets Manager call and, within the TTL, no further team read, even for forged requests', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    ddbMock.on(GetCommand).resolves({ Item: { status: 'removed' } });
    for (const signature of [TOKEN, 'forged', TOKEN]) {
      expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Signature': signature } }))).statusCode).toBe(404);
    }
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(ddbMock.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('answers 405 with an Allow header and a JSON body to a method the webhook does not serve', async () => {
    const res = await invoke(event(newTeam(), { method: 'DELETE' }));
    expect(res.statusCode).toBe(405);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', allow: 'GET, POST' });
    expect(JSON.parse(res.body!)).toEqual({ error: 'method not allowed' });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers the GET handshake', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    const res = await invoke(event(teamId, { method: 'GET', body: '', query: { msg: 'abc' } }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body!)).toHaveProperty('secret_token');
  });

  it('counts an unsynced event on the team item and answers 200', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    ddbMock.on(UpdateCommand).resolves({});
    const res = await invoke(event(teamId, { headers: { 'X-Drchrono-Event': 'TASK_MODIFY' } }));
    expect(res.statusCode).toBe(200);
    const update = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.Key).toEqual({ pk: teamId, sk: 'TEAM' });
    expect(update.ExpressionAttributeValues).toMatchObject({ ':ignored': 1 });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 503 without a stack trace when the secret store fails', async () => {
    const teamId = newTeam();
    secretsMock.on(GetSecretValueCommand, { SecretId: `drchrono-sync/test/teams/${teamId}` }).rejects(new Error('socket hang up'));
    const res = await invoke(event(teamId));
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toMatch(/at .*\.ts|socket hang up/);
  });

  it('prints nothing for an accepted delivery: no log line and no metric line', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    expect((await invoke(event(teamId))).statusCode).toBe(202);
    expect(output.join('')).toBe('');
  });

  it('logs one line with the delivery id for an ignored delivery: no integration log entry records it', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    ddbMock.on(UpdateCommand).resolves({});
    expect((await invoke(event(teamId, { headers: { 'X-Drchrono-Event': 'TASK_MODIFY' } }))).statusCode).toBe(200);
    const lines = output.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.message === 'webhook request')).toEqual([
      expect.objectContaining({ teamId, deliveryId: 'dlv-777', event: 'TASK_MODIFY', outcome: 'ignored', statusCode: 200 }),
    ]);
  });

  it('logs one line and one EMF metric for a refused delivery: team id, delivery id, event and outcome, never the body, headers or secrets', async () => {
    const teamId = newTeam();
    seedSecret(teamId);
    await invoke(event(teamId));
    await invoke(event(teamId, { headers: { 'X-Drchrono-Signature': 'forged-signature-value' } }));
    await invoke(event(teamId, { body: '{"receiver":{},"object":{"first_name":"Philomena"}}' }));
    const logs = output.join('');
    const lines = logs.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.message === 'webhook request').map((l) => l.outcome)).toEqual(['unauthorized', 'bad_request']);
    expect(lines.find((l) => l.outcome === 'bad_request')).toMatchObject({ teamId, deliveryId: 'dlv-777', event: 'PATIENT_MODIFY', statusCode: 400, function_request_id: 'req-1' });
    const emf = lines.filter((l) => l._aws !== undefined);
    expect(emf.map((l) => Object.keys(l).filter((k) => k.startsWith('webhook_')))).toEqual([['webhook_unauthorized'], ['webhook_bad_request']]);
    for (const value of [...Object.values(PATIENT).map(String), TOKEN, CLIENT_SECRET, 'forged-signature-value', 'application/json']) {
      expect(logs).not.toContain(value);
    }
  });
});
