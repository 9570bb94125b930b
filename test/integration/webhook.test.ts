import { createHmac, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { IngestMessageSchema } from '../../shared/ingest/ingest-message';
import { registerTeam } from '../../shared/teams/register-team';
import { getTeamItem } from '../../shared/teams/team-store';
import { MAX_WEBHOOK_BODY_BYTES } from '../../shared/webhook/receive-webhook';
import { httpRequest } from './helpers/http';
import { apiUrl, pausePoller, platform, resumePoller } from './helpers/platform';

/**
 * The webhook over HTTP through the local API: the real handler, real SDK clients, the emulators.
 * The sync poller is paused so queued deliveries stay on the ingest queue where the test can read them.
 */
const TEAM = randomUUID();
const TOKEN = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const OBJECT = { id: 770001, chart_id: 'WHIT0001', updated_at: '2026-11-21T10:00:00' };
const BODY = JSON.stringify({ receiver: { id: 31, url: 'https://example.test/hook' }, object: OBJECT });

const hookUrl = (teamId: string = TEAM) => apiUrl(`/drchronowebhook/${teamId}`);

function post(headers: Record<string, string>, body: string | Uint8Array = BODY, teamId: string = TEAM) {
  return httpRequest('POST', hookUrl(teamId), {
    body,
    headers: {
      'content-type': 'application/json',
      'x-drchrono-signature': TOKEN,
      'x-drchrono-event': 'PATIENT_MODIFY',
      ...headers,
    },
  });
}

/**
 * Take this team's messages off the ingest queue and give every other message straight back, so the
 * test never steals another suite's messages. No long polling: the handler answers only after SQS has
 * accepted the message, so anything it queued is already there.
 */
async function takeTeamMessages(teamId: string): Promise<Message[]> {
  const queueUrl = platform().queueUrls.ingest;
  const mine: Message[] = [];
  for (;;) {
    const out = await sqsClient().send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }),
    );
    const msgs = out.Messages ?? [];
    if (!msgs.length) return mine;
    const own = msgs.filter((m) => m.MessageAttributes?.teamId?.StringValue === teamId);
    const others = msgs.filter((m) => !own.includes(m));
    mine.push(...own);
    if (own.length) {
      await sqsClient().send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: own.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    if (others.length) {
      await sqsClient().send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: others.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
        }),
      );
      if (!own.length) return mine;
    }
  }
}

beforeAll(async () => {
  await pausePoller('sync');
  await registerTeam(
    { teamId: TEAM, clientId: 'it-client', clientSecret: 'it-client-secret', webhookSecret: TOKEN },
    { ddb: documentClient(), secrets: secretsClient(), teamsTable: platform().resources.teamsTable, teamSecretPrefix: platform().resources.teamSecretPrefix },
  );
});

afterAll(async () => {
  await resumePoller('sync');
});

afterEach(async () => {
  // Anything a test left behind must not leak into the next test's "nothing queued" check.
  await takeTeamMessages(TEAM);
});

describe('GET /drchronowebhook/{teamId} (verification handshake)', () => {
  it('answers 200 with the hex HMAC-SHA256 of msg keyed by the team token', async () => {
    const res = await httpRequest('GET', `${hookUrl()}?msg=${encodeURIComponent('verify me')}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(JSON.parse(res.text)).toEqual({ secret_token: createHmac('sha256', TOKEN).update('verify me').digest('hex') });
  });

  it('answers 400 without msg', async () => {
    expect((await httpRequest('GET', hookUrl())).status).toBe(400);
  });

  it('answers 404 for an unregistered team', async () => {
    expect((await httpRequest('GET', `${hookUrl(randomUUID())}?msg=x`)).status).toBe(404);
  });

  it('answers 404 for a team id that is not a UUID', async () => {
    expect((await httpRequest('GET', `${hookUrl('not-a-team')}?msg=x`)).status).toBe(404);
  });
});

describe('POST /drchronowebhook/{teamId} (deliveries)', () => {
  it('queues an authenticated delivery with team, event, delivery id, received-at and the object', async () => {
    const before = Date.now();
    const res = await post({ 'x-drchrono-delivery': 'it-dlv-1' });
    expect(res.status).toBe(202);
    const [msg, ...rest] = await takeTeamMessages(TEAM);
    expect(rest).toHaveLength(0);
    expect(msg!.MessageAttributes?.event?.StringValue).toBe('PATIENT_MODIFY');
    const body = IngestMessageSchema.parse(JSON.parse(msg!.Body!));
    expect(body).toMatchObject({ v: 1, teamId: TEAM, event: 'PATIENT_MODIFY', deliveryId: 'it-dlv-1', source: 'webhook', object: OBJECT });
    expect(Date.parse(body.receivedAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('accepts a hex HMAC-SHA256 of the raw body as the signature', async () => {
    const sig = createHmac('sha256', TOKEN).update(BODY).digest('hex');
    const res = await post({ 'x-drchrono-signature': sig, 'x-drchrono-delivery': 'it-dlv-2' });
    expect(res.status).toBe(202);
    expect(await takeTeamMessages(TEAM)).toHaveLength(1);
  });

  it('decodes a body that API Gateway base64-encodes (non-text content type)', async () => {
    const res = await post({ 'content-type': 'application/octet-stream', 'x-drchrono-delivery': 'it-dlv-3' });
    expect(res.status).toBe(202);
    const [msg] = await takeTeamMessages(TEAM);
    expect(JSON.parse(msg!.Body!).object).toEqual(OBJECT);
  });

  it('answers 401 to a forged signature and queues nothing', async () => {
    const res = await post({ 'x-drchrono-signature': 'forged', 'x-drchrono-delivery': 'it-dlv-4' });
    expect(res.status).toBe(401);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 401 without a signature header and queues nothing', async () => {
    const res = await httpRequest('POST', hookUrl(), {
      body: BODY,
      headers: { 'content-type': 'application/json', 'x-drchrono-event': 'PATIENT_MODIFY', 'x-drchrono-delivery': 'it-dlv-5' },
    });
    expect(res.status).toBe(401);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 400 to malformed JSON and queues nothing', async () => {
    const res = await post({ 'x-drchrono-delivery': 'it-dlv-6' }, '{"receiver": {}, "object": ');
    expect(res.status).toBe(400);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 400 to an envelope without object.id and queues nothing', async () => {
    const res = await post({ 'x-drchrono-delivery': 'it-dlv-7' }, JSON.stringify({ receiver: {}, object: { chart_id: 'X' } }));
    expect(res.status).toBe(400);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 400 without a delivery id', async () => {
    expect((await post({})).status).toBe(400);
  });

  it('answers 404 for an unregistered team', async () => {
    expect((await post({ 'x-drchrono-delivery': 'it-dlv-8' }, BODY, randomUUID())).status).toBe(404);
  });

  it('answers 413 to a body over the limit and queues nothing', async () => {
    const big = JSON.stringify({ receiver: {}, object: { id: 1, pad: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES) } });
    const res = await post({ 'x-drchrono-delivery': 'it-dlv-9' }, big);
    expect(res.status).toBe(413);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 200 to PING and queues nothing', async () => {
    const res = await post({ 'x-drchrono-event': 'PING' }, '');
    expect(res.status).toBe(200);
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('acknowledges an event the product does not sync, counts it on the team and queues nothing', async () => {
    const before = (await getTeamItem(documentClient(), platform().resources.teamsTable, TEAM, true))?.webhooksIgnored ?? 0;
    const res = await post({ 'x-drchrono-event': 'TASK_CREATE', 'x-drchrono-delivery': 'it-dlv-10' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ ok: true, queued: false });
    const team = await getTeamItem(documentClient(), platform().resources.teamsTable, TEAM, true);
    expect(team?.webhooksIgnored).toBe(before + 1);
    expect(team?.lastDeliveryAt).toBeDefined();
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'OPTIONS'])('answers 405 with Allow: GET, POST to %s and queues nothing', async (method) => {
    const r = await httpRequest(method, hookUrl(), {
      body: BODY,
      headers: { 'content-type': 'application/json', 'x-drchrono-signature': TOKEN, 'x-drchrono-event': 'PATIENT_MODIFY', 'x-drchrono-delivery': `it-dlv-${method}` },
    });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, POST');
    expect(JSON.parse(r.text)).toEqual({ error: 'method not allowed' });
    expect(await takeTeamMessages(TEAM)).toHaveLength(0);
  });

  it('answers 405 with Allow: GET, POST and no body to HEAD', async () => {
    const r = await httpRequest('HEAD', hookUrl());
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, POST');
    expect(r.text).toBe('');
  });

  it('never answers bad input with a stack trace', async () => {
    const responses = await Promise.all([
      post({ 'x-drchrono-delivery': 'it-dlv-11' }, '\u0000\u0001garbage'),
      post({ 'x-drchrono-delivery': 'it-dlv-12', 'x-drchrono-event': 'not an event' }),
      httpRequest('GET', `${hookUrl('%E0%A4%A')}?msg=x`),
    ]);
    for (const r of responses) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.text).not.toMatch(/\bat .+:\d+:\d+/);
    }
  });
});
