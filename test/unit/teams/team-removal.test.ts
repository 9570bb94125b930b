import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { removeTeam } from '../../../shared/teams/team-removal';

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);
const sqsMock = mockClient(SQSClient);

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest';
const DLQ = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest-dlq';
const team = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: '2026-11-01T00:00:00.000Z', updatedAt: 'x' };

beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  sqsMock.reset();
  ddbMock.on(GetCommand).resolves({ Item: team });
  ddbMock.on(UpdateCommand).resolves({ Attributes: { ...team, status: 'removing', removalStartedAt: '2026-11-30T07:00:00.000Z' } });
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  sqsMock.on(GetQueueAttributesCommand).resolves({
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:1:drchrono-sync-dev-ingest-dlq', maxReceiveCount: 5 }), ApproximateNumberOfMessages: '1' },
  });
  sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: DLQ });
  sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

describe('removeTeam', () => {
  it('stops before the secret and the audit item when a DLQ could not be read to its end, keeping the count of what it erased', async () => {
    // A DLQ that still hands out one of the team's letters on every receive, past the scan's cap.
    let n = 0;
    sqsMock.on(ReceiveMessageCommand).callsFake(() => {
      n++;
      return { Messages: [{ MessageId: `m-${n}`, ReceiptHandle: `rh-${n}`, MessageAttributes: { teamId: { DataType: 'String', StringValue: TEAM } } }] };
    });
    const deps = {
      ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      secrets: new SecretsManagerClient({ region: 'us-east-1' }),
      sqs: new SQSClient({ region: 'us-east-1' }),
      teamsTable: 'teams',
      recordsTable: 'records',
      integrationLogTable: 'log',
      teamSecretPrefix: 'drchrono-sync/dev/teams/',
      workQueueUrls: [QUEUE],
      itemsPerSecond: 1000,
      drainMs: 0,
      sleep: () => Promise.resolve(),
    };
    await expect(removeTeam(deps, TEAM)).rejects.toThrow(/run the removal again/);
    expect(secretsMock.commandCalls(DeleteSecretCommand)).toEqual([]);
    expect(ddbMock.commandCalls(PutCommand)).toEqual([]);
    const deadLetterCounts = ddbMock
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.ExpressionAttributeNames?.['#kind'] === 'deadLetters')
      .map((i) => i.ExpressionAttributeValues?.[':n'] as number);
    expect(deadLetterCounts).toEqual([n]);
  });
});
