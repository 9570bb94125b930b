import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { buildAppointment, buildPatient } from '../local/drchrono-sandbox/seed';
import { serialize } from '../local/drchrono-sandbox/serializer';
import { lambdaContext } from '../local/lambda-context';

/**
 * Section 3, run in a fresh process (stdout discarded, result over IPC): CPU per webhook delivery of the real
 * handler, with the real SDK clients (serialise, sign, parse, MD5 check) but SQS, Secrets Manager and DynamoDB
 * answered in memory at the HTTP handler, so no socket is involved: SendMessage lands in an array. The team secret and
 * the team's state are cached after the warm-up, as in a warm container; the state's 1 s TTL expires during a run
 * (about 1 GetItem per second is measured, as in Lambda). The floor: checking the signature header and parsing the body,
 * nothing else.
 */
export interface WebhookCpuRun {
  events: number;
  handlerCpuUs: number;
  floorCpuUs: number;
  /** The floor plus the one SendMessage any design needs, through the same SDK client and in-memory sink. */
  floorWithSendCpuUs: number;
  /**
   * Where the handler's CPU above floor + send goes: the floor plus the product's own enqueue
   * (`enqueueIngestMessage`: header and id checks, the re-encoded body, two attributes, the size check) through
   * the same client; then `receiveWebhook` called directly with the handler's container deps (every check before
   * the enqueue); the handler adds middy, the logger's Lambda context and the header names.
   */
  floorWithEnqueueCpuUs: number;
  receiveCpuUs: number;
  /** The two rungs against floor + send, taken per run like ratioToFloorWithSend. */
  enqueueRatioToFloorWithSend: number;
  receiveRatioToFloorWithSend: number;
  ratio: number;
  ratioToFloorWithSend: number;
  handlerEventsPerSecond: number;
  /** Messages the handler queued (one per delivery). */
  queued: number;
}

const EVENTS = Number(process.env.BENCH_CPU_EVENTS ?? 5000);
const RUNS = Number(process.env.BENCH_CPU_RUNS ?? 5);
const WARMUP = 500;
const teamId = randomUUID();
const webhookSecret = 'a'.repeat(40);

Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TEAMS_TABLE: 'drchrono-sync-bench-teams',
  INGEST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/drchrono-sync-bench-ingest',
  TEAM_SECRET_PREFIX: 'drchrono-sync/bench/teams/',
});

/** Messages SendMessage accepted (counted, not kept: keeping every body would add collection work to whichever loop triggers it). */
let sent = 0;
const secretString = JSON.stringify({ clientId: 'bench', clientSecret: 'bench-secret', webhookSecret, accessToken: 'x', refreshToken: 'y', accessTokenExpiresAt: Date.now() + 3_600_000, tokenVersion: 1 });

function answer(target: string, body: string): unknown {
  if (target === 'AmazonSQS.SendMessage') {
    const msg = JSON.parse(body) as { MessageBody: string };
    sent++;
    return { MessageId: randomUUID(), MD5OfMessageBody: createHash('md5').update(msg.MessageBody).digest('hex') };
  }
  if (target === 'secretsmanager.GetSecretValue') return { Name: 'bench', SecretString: secretString, VersionId: 'v1' };
  // The team item: the webhook's team state (an item without status or disabledAt is an active team).
  if (target === 'DynamoDB_20120810.GetItem') return { Item: { pk: { S: teamId } } };
  throw new Error(`unexpected AWS call ${target}`);
}

{
  const require = createRequire(import.meta.url);
  const { NodeHttpHandler } = require('@smithy/node-http-handler') as { NodeHttpHandler: { prototype: { handle: unknown } } };
  NodeHttpHandler.prototype.handle = async (request: { headers: Record<string, string>; body?: unknown }) => {
    const raw = request.body;
    const text = typeof raw === 'string' ? raw : raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8') : '';
    const out = Buffer.from(JSON.stringify(answer(request.headers['x-amz-target'] ?? '', text)));
    return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(out.length) }, body: Readable.from([out]) } };
  };
}

const { SQSClient, SendMessageCommand } = await import('@aws-sdk/client-sqs');
const floorSqs = new SQSClient({ useQueueUrlAsEndpoint: false });
const webhookModule = await import('../functions/webhook/handler');
const { containerDeps } = await import('../functions/webhook/deps');
const handler = webhookModule.handler as unknown as (e: APIGatewayProxyEventV2, c: unknown) => Promise<{ statusCode: number }>;
const { receiveWebhook } = await import('../shared/webhook/receive-webhook');
const { enqueueIngestMessage } = await import('../shared/ingest/ingest-queue');

function events(n: number): APIGatewayProxyEventV2[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const patient = i % 2 === 0;
    const object = patient ? serialize('patient', buildPatient(10_000 + i, i % 997, now), true) : serialize('appointment', buildAppointment(String(20_000 + i), i % 97, now, 10_000 + i - 1), true);
    const body = JSON.stringify({ receiver: { id: 123456, callback_url: 'https://example.invalid/hook', events: [], active: true }, object });
    const path = `/drchronowebhook/${teamId}`;
    return {
      version: '2.0',
      routeKey: 'POST /drchronowebhook/{teamId}',
      rawPath: path,
      rawQueryString: '',
      headers: {
        'content-type': 'application/json',
        'x-drchrono-event': patient ? 'PATIENT_MODIFY' : 'APPOINTMENT_MODIFY',
        'x-drchrono-signature': webhookSecret,
        'x-drchrono-delivery': `cpu-${i}`,
      },
      pathParameters: { teamId },
      requestContext: {
        accountId: '000000000000',
        apiId: 'bench',
        domainName: 'bench.invalid',
        domainPrefix: 'bench',
        http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
        requestId: `r${i}`,
        routeKey: 'POST /drchronowebhook/{teamId}',
        stage: '$default',
        time: new Date(now).toISOString(),
        timeEpoch: now,
      },
      body,
      isBase64Encoded: false,
    };
  });
}

/** The floor: a constant-time check of the signature header and a JSON parse of the body, nothing else. */
function floor(e: APIGatewayProxyEventV2, expected: Buffer): { object: { id: number | string } } {
  const given = Buffer.from(e.headers['x-drchrono-signature'] ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('bad signature');
  return JSON.parse(e.body ?? '') as { object: { id: number | string } };
}

const cpuUs = (u: NodeJS.CpuUsage): number => u.user + u.system;

/**
 * Handler, floor and floor + send are measured in alternating chunks of CHUNK deliveries, not one after the other:
 * on a machine other work shares, CPU time per operation drifts with the load (caches, frequency, GC), and
 * alternating makes the three see the same load, so their ratios hold even when the absolute figures do not.
 */
const CHUNK = 50;

type Variant = (e: APIGatewayProxyEventV2, expected: Buffer) => unknown;

const context = lambdaContext({ functionName: 'drchrono-sync-bench-webhook', timeoutSeconds: 10 });

/** What is timed, in this order within each chunk: the handler and the rungs from the floor up to it. */
const VARIANTS: Record<'handler' | 'floor' | 'floorWithSend' | 'floorWithEnqueue' | 'receive', Variant> = {
  handler: async (e) => {
    const res = await handler(e, context);
    if (res.statusCode !== 202) throw new Error(`handler answered ${res.statusCode}`);
  },
  floor: (e, expected) => floor(e, expected),
  floorWithSend: async (e, expected) => {
    floor(e, expected);
    await floorSqs.send(new SendMessageCommand({ QueueUrl: process.env.INGEST_QUEUE_URL, MessageBody: e.body ?? '' }));
  },
  floorWithEnqueue: async (e, expected) => {
    const { object } = floor(e, expected);
    await enqueueIngestMessage(floorSqs, process.env.INGEST_QUEUE_URL ?? '', {
      v: 1,
      teamId,
      event: e.headers['x-drchrono-event'] ?? '',
      deliveryId: e.headers['x-drchrono-delivery'] ?? '',
      receivedAt: new Date().toISOString(),
      source: 'webhook',
      object,
    });
  },
  receive: async (e) => {
    // The bench's header names are lower-case already, as the handler passes them.
    const res = await receiveWebhook({ teamId, method: 'POST', query: {}, headers: e.headers, rawBody: e.body ?? '' }, containerDeps());
    if (res.statusCode !== 202) throw new Error(`receiveWebhook answered ${res.statusCode}`);
  },
};

async function measure(): Promise<WebhookCpuRun> {
  const list = events(EVENTS);
  const expected = Buffer.from(webhookSecret);
  const us = { handler: 0, floor: 0, floorWithSend: 0, floorWithEnqueue: 0, receive: 0 };
  let wallMs = 0;
  let queued = 0;
  for (let i = 0; i < list.length; i += CHUNK) {
    const chunk = list.slice(i, i + CHUNK);
    for (const [name, variant] of Object.entries(VARIANTS) as [keyof typeof us, Variant][]) {
      const sentBefore = sent;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const e of chunk) await variant(e, expected);
      us[name] += cpuUs(process.cpuUsage(c0));
      if (name === 'handler') {
        wallMs += performance.now() - t0;
        queued += sent - sentBefore;
      }
    }
  }
  const per = (total: number): number => total / list.length;
  return {
    events: list.length,
    handlerCpuUs: per(us.handler),
    floorCpuUs: per(us.floor),
    floorWithSendCpuUs: per(us.floorWithSend),
    floorWithEnqueueCpuUs: per(us.floorWithEnqueue),
    receiveCpuUs: per(us.receive),
    ratio: us.handler / us.floor,
    ratioToFloorWithSend: us.handler / us.floorWithSend,
    enqueueRatioToFloorWithSend: us.floorWithEnqueue / us.floorWithSend,
    receiveRatioToFloorWithSend: us.receive / us.floorWithSend,
    handlerEventsPerSecond: list.length / (wallMs / 1000),
    queued,
  };
}

// Every variant warmed, not only the handler: each has code of its own to compile and caches to fill.
{
  const expected = Buffer.from(webhookSecret);
  for (const e of events(WARMUP)) for (const variant of Object.values(VARIANTS)) await variant(e, expected);
}
const runs: WebhookCpuRun[] = [];
for (let r = 0; r < RUNS; r++) runs.push(await measure());
process.send?.({ runs }, () => process.exit(0));
