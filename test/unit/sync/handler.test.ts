import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { message, TEAM, teamItem } from './helpers';
import { decodeIntegrationLogItem } from '../../../shared/store/integration-log';

const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SecretsManagerClient);

Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  TEAMS_TABLE: 'teams',
  RECORDS_TABLE: 'records',
  INTEGRATION_LOG_TABLE: 'log',
  TEAM_SECRET_PREFIX: 'p/',
  INGEST_QUEUE_URL: 'queue-url',
  DRCHRONO_BASE_URL: 'http://127.0.0.1:9',
});

function record(id: string, body: unknown): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn',
    awsRegion: 'us-east-1',
  };
}

const context = { awsRequestId: 'req-1', functionName: 'sync' } as Context;

it('reports only the poison message as a batch item failure and writes one log item for the team', async () => {
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams' }).resolves({ Item: teamItem() });
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(UpdateCommand).resolves({});
  secretsMock
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'a' }) });
  const { handler } = await import('../../../functions/sync/handler');
  const event: SQSEvent = {
    Records: [
      record('ok-delete', message('APPOINTMENT_DELETE', { id: '99' })),
      record('ok-ignored', message('TASK_CREATE', { id: 3 })),
      record('poison', '{"v":1,"teamId":"nope"}'),
    ],
  };
  const out = await handler(event, context);
  expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'poison' }] });
  const logs = ddbMock.commandCalls(PutCommand, { TableName: 'log' });
  expect(logs).toHaveLength(1);
  expect(logs[0]!.args[0].input.Item).toMatchObject({ pk: TEAM });
  expect((decodeIntegrationLogItem(logs[0]!.args[0].input.Item!) ?? []).map((e) => e.outcome).sort()).toEqual(['deleted', 'ignored']);
  expect(sqsMock.calls()).toHaveLength(0);
});

it('publishes the DeliveriesFailed metric for deliveries given up on, under the sync service dimension', async () => {
  ddbMock.on(PutCommand).resolves({});
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    const { handler } = await import('../../../functions/sync/handler');
    const poison = { ...record('poison', 'not json'), attributes: { ApproximateReceiveCount: '5' } as SQSRecord['attributes'] };
    await handler({ Records: [poison] }, context);
  } finally {
    spy.mockRestore();
  }
  const emf = written.flatMap((w) => w.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(emf).toEqual([expect.objectContaining({ DeliveriesFailed: 1, service: 'sync' })]);
});

it('redelivers the messages of a batch whose log write failed, and only those: the next batch reports nothing stale', async () => {
  ddbMock.reset();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams' }).resolves({ Item: teamItem() });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(PutCommand, { TableName: 'log' }).rejectsOnce(new Error('throttled')).resolves({});
  secretsMock
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'a' }) });
  const { handler } = await import('../../../functions/sync/handler');

  const first = await handler({ Records: [record('unlogged', message('TASK_CREATE', { id: 3 }))] }, context);
  expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'unlogged' }] });
  const second = await handler({ Records: [record('logged', message('TASK_CREATE', { id: 4 }))] }, context);
  expect(second).toEqual({ batchItemFailures: [] });
});

it('prints one line per invocation for a batch that syncs cleanly: the metrics line with the batch counts, no per-delivery line', async () => {
  ddbMock.reset();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams' }).resolves({ Item: teamItem() });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(PutCommand).resolves({});
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    written.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const { handler } = await import('../../../functions/sync/handler');
    await handler(
      { Records: [record('a', message('TASK_CREATE', { id: 5 })), record('b', message('APPOINTMENT_DELETE', { id: '98' })), record('c', message('TASK_CREATE', { id: 6 }))] },
      context,
    );
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const lines = written.flatMap((w) => w.split('\n')).filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ DeliveriesFailed: 0, service: 'sync', messages: 3, outcomes: { ignored: 2, deleted: 1 } });
});
