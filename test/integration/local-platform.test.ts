import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { BACKFILL_QUEUE, DLQ_RETENTION_SECONDS, INGEST_QUEUE } from '../../shared/config/queue-settings';
import { RECORDS_CHART_ID_INDEX, TEAMS_TOKEN_EXPIRY_INDEX } from '../../shared/config/resource-names';
import { TEST_CONSUMER_QUEUE } from '../../local/test-functions/settings';
import { httpJson, httpRequest } from './helpers/http';
import { apiUrl, pausePoller, platform, pollerStats, resumePoller } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

// Env-configured clients, exactly as the handlers build them.
const ddb = new DynamoDBClient({});
const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });

afterAll(() => {
  ddb.destroy();
  sqs.destroy();
});

async function queueAttributes(url: string): Promise<Record<string, string>> {
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
}

async function visibleCount(url: string): Promise<number> {
  return Number((await queueAttributes(url)).ApproximateNumberOfMessages);
}

/** Receives from a DLQ until a message with this body shows up; deletes it so tests stay independent. */
async function findInDlq(dlqUrl: string, body: string): Promise<{ receiveCount: number } | undefined> {
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
  );
  for (const m of out.Messages ?? []) {
    if (m.Body === body) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
      return { receiveCount: Number(m.Attributes?.ApproximateReceiveCount) };
    }
  }
  return undefined;
}

describe('local platform resources', () => {
  it('creates the three tables with their keys, GSIs and TTL', async () => {
    const { resources } = platform();
    const teams = (await ddb.send(new DescribeTableCommand({ TableName: resources.teamsTable }))).Table!;
    expect(teams.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(teams.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(teams.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual([TEAMS_TOKEN_EXPIRY_INDEX]);
    const records = (await ddb.send(new DescribeTableCommand({ TableName: resources.recordsTable }))).Table!;
    expect(records.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.Projection?.ProjectionType])).toEqual([
      [RECORDS_CHART_ID_INDEX, 'KEYS_ONLY'],
    ]);
    for (const table of [resources.teamsTable, resources.integrationLogTable]) {
      const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: table }));
      expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    }
    await expect(ddb.send(new DescribeTableCommand({ TableName: resources.integrationLogTable }))).resolves.toBeDefined();
  });

  it.each([
    ['ingest', 'ingest', 'ingestDlq', INGEST_QUEUE],
    ['backfill', 'backfill', 'backfillDlq', BACKFILL_QUEUE],
  ] as const)('creates the %s queue with its DLQ redrive and timeouts from queue-settings', async (_n, q, dlq, settings) => {
    const { queueUrls } = platform();
    const main = await queueAttributes(queueUrls[q]);
    const dead = await queueAttributes(queueUrls[dlq]);
    expect(JSON.parse(main.RedrivePolicy!)).toEqual({ deadLetterTargetArn: dead.QueueArn, maxReceiveCount: settings.maxReceiveCount });
    expect(Number(main.VisibilityTimeout)).toBe(settings.visibilityTimeoutSeconds);
    expect(Number(dead.MessageRetentionPeriod)).toBe(DLQ_RETENTION_SECONDS);
  });
});

describe('local API', () => {
  it('answers an unknown route with 404 JSON like API Gateway', async () => {
    const res = await httpJson('GET', apiUrl('/no/such/route'));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ message: 'Not Found' });
  });

  it('answers a payload over 10 MB with 413 before invoking any handler', async () => {
    const res = await httpRequest('POST', apiUrl('/drchronowebhook/some-team'), {
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toEqual({ message: 'Request Entity Too Large' });
  });

  it('serves the local-only health route', async () => {
    const res = await httpJson<{ status: string; functions: { name: string }[] }>('GET', apiUrl('/_local/health'), undefined, 200);
    expect(res.body.status).toBe('ok');
    expect(res.body.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['webhook', 'oauth', 'token-refresh', 'sync', 'backfill', 'reconcile']),
    );
  });

  it('answers 404 when asked to run a function that is not scheduled', async () => {
    expect((await httpJson('POST', apiUrl('/_local/run/no-such-function'))).status).toBe(404);
  });
});

describe('SQS poller (Lambda event-source semantics, via the local-only test-consumer)', () => {
  const urls = (): { queue: string; dlq: string } => {
    const t = platform().testQueueUrls;
    if (!t) throw new Error('platform started without LOCAL_TEST_FUNCTIONS=1');
    return t;
  };

  it('deletes the records a batch reports as succeeded and redrives the failed one to the DLQ after maxReceiveCount', async () => {
    const tag = `${Date.now()}`;
    const okBody = JSON.stringify({ outcome: 'ok', tag });
    const failBody = JSON.stringify({ outcome: 'fail', tag });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: urls().queue,
        Entries: [
          { Id: 'ok', MessageBody: okBody },
          { Id: 'fail', MessageBody: failBody },
        ],
      }),
    );
    const dead = await waitFor(() => findInDlq(urls().dlq, failBody), { timeoutMs: 20_000, description: 'failed message in DLQ' });
    expect(dead.receiveCount).toBeGreaterThanOrEqual(TEST_CONSUMER_QUEUE.maxReceiveCount);
    // The succeeded record was deleted, not redriven.
    expect(await findInDlq(urls().dlq, okBody)).toBeUndefined();
    await waitFor(async () => (await visibleCount(urls().queue)) === 0, { description: 'test queue drained' });
  });

  it('fails the whole batch when the handler throws, so the message is retried and ends in the DLQ', async () => {
    const body = JSON.stringify({ outcome: 'throw', tag: `${Date.now()}` });
    const before = await pollerStats('test-consumer');
    await sqs.send(new SendMessageCommand({ QueueUrl: urls().queue, MessageBody: body }));
    const dead = await waitFor(() => findInDlq(urls().dlq, body), { timeoutMs: 20_000, description: 'thrown message in DLQ' });
    expect(dead.receiveCount).toBeGreaterThanOrEqual(TEST_CONSUMER_QUEUE.maxReceiveCount);
    const after = await pollerStats('test-consumer');
    expect(after.wholeBatchFailures - before.wholeBatchFailures).toBeGreaterThanOrEqual(TEST_CONSUMER_QUEUE.maxReceiveCount);
  });

  it('leaves messages on the queue while the poller is paused and processes them after resume', async () => {
    const paused = await pausePoller('test-consumer');
    expect(paused.state).toBe('paused');
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: urls().queue, MessageBody: JSON.stringify({ outcome: 'ok' }) }));
      await new Promise((r) => setTimeout(r, 1500));
      expect(await visibleCount(urls().queue)).toBe(1);
    } finally {
      await resumePoller('test-consumer');
    }
    await waitFor(async () => (await visibleCount(urls().queue)) === 0, { timeoutMs: 10_000, description: 'queue drained after resume' });
  });
});
