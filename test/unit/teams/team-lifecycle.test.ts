import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BACKFILL_SK, newJob } from '../../../shared/backfill/backfill-job';
import { enableTeam } from '../../../shared/teams/team-lifecycle';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const sqs = new SQSClient({ region: 'us-east-1' });
const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const QUEUE = 'https://sqs/backfill';
const NOW = new Date('2026-11-30T07:00:00.000Z');
const team = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', connectedAt: '2026-11-30T06:00:00.000Z' };

/** A valid stored job item (getBackfillJob ignores one that does not parse). */
function job(status: 'completed' | 'failed') {
  return { ...newJob({ teamId: TEAM, jobId: 'connect-m1', reason: 'connect', now: NOW }), status, pk: TEAM, sk: BACKFILL_SK };
}

function sentItems(): Record<string, unknown>[] {
  return sqsMock.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!) as Record<string, unknown>);
}

function enable() {
  return enableTeam({ ddb, teamsTable: 'teams', sqs, backfillQueueUrl: QUEUE, now: () => NOW }, TEAM);
}

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: { ...team, disabledAt: '2026-11-30T06:01:00.000Z' } });
  ddbMock.on(UpdateCommand).resolves({ Attributes: team });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'q1' });
});

describe('enableTeam', () => {
  it('queues a connect backfill start for a connected team that has no backfill job (its start was dropped while disabled)', async () => {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: BACKFILL_SK } }).resolves({});
    const { catchUp } = await enable();
    expect(sentItems()).toContainEqual({ type: 'start', teamId: TEAM });
    expect(catchUp.backfillStarted).toBe(true);
  });

  it.each(['completed', 'failed'] as const)('does not start another backfill when the team already has a %s one', async (status) => {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: BACKFILL_SK } }).resolves({ Item: job(status) });
    const { catchUp } = await enable();
    expect(sentItems().map((i) => i.type)).toEqual(['reconcile', 'deletion-check']);
    expect(catchUp.backfillStarted).toBeUndefined();
  });
});
