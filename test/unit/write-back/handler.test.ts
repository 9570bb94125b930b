import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { change, changeItem, TEAM, writingTeam } from './helpers';

const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SecretsManagerClient);

Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  TEAMS_TABLE: 'teams',
  RECORDS_TABLE: 'records',
  INTEGRATION_LOG_TABLE: 'log',
  TEAM_SECRET_PREFIX: 'p/',
  WRITE_BACK_QUEUE_URL: 'queue-url.fifo',
  DRCHRONO_BASE_URL: 'http://127.0.0.1:9',
});

function record(id: string, group: string, body: unknown): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', MessageGroupId: group } as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn',
    awsRegion: 'us-east-1',
  };
}

const context = { awsRequestId: 'req-1', functionName: 'write-back' } as Context;

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  secretsMock.reset();
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'a' }) });
});

it('ends a disabled team’s change as rejected and logs it; a poison body alone is reported as a failure', async () => {
  const m = change();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: writingTeam({ disabledAt: '2026-01-01T00:00:00.000Z' }) });
  ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: `CHANGE#${m.changeId}` } }).resolves({ Item: changeItem(m) });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(PutCommand).resolves({});
  const { handler } = await import('../../../functions/write-back/handler');
  const event: SQSEvent = { Records: [record('ok', 'g1', m), record('poison', 'g2', '{"not":"a change"}')] };
  const res = await handler(event, context);
  expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'poison' }]);
  expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'log')).toHaveLength(1);
});

it('reports a final change whose log entry cannot be written, so it is redelivered', async () => {
  const m = change();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: writingTeam({ writeBack: false }) });
  ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: `CHANGE#${m.changeId}` } }).resolves({ Item: changeItem(m) });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(PutCommand).rejects(new Error('log table unavailable'));
  const { handler } = await import('../../../functions/write-back/handler');
  const res = await handler({ Records: [record('m1', 'g1', m)] }, context);
  expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
});
