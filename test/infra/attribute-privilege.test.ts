import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { scheduleReconcile } from '../../shared/reconcile/schedule-reconcile';
import { COUNTS_SETTLE_MS } from '../../shared/teams/webhook-counts';
import { allows, expressionAttributes, requestOf, type DynamoRequest } from './dynamodb-request-policy';
import { statementsOf, type LabelledStatement } from './role-grants';
import { synthStack } from './synth-stack';

/**
 * Reconcile's grants are narrowed to the attributes of the webhook counts roll-up (lib/app-function.ts
 * allowUpdateAttributes / allowQueryAttributes). IAM is not enforced locally, so this runs the hourly tick's code
 * against a mocked DynamoDB, records every request it makes, and evaluates each against the synthesized policy:
 * the roll-up must still be allowed, and what it never does must not be.
 */
const TABLES = { teams: 'table:teams', log: 'table:integrationLog', records: 'table:records' };
const TEAM_A = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const TEAM_B = '7a2d3c2f-1e66-4c54-8e3b-2a1c8b2d1f22';
const NOW = new Date('2026-11-21T12:20:00Z');

let statements: LabelledStatement[];
beforeAll(() => {
  statements = statementsOf(synthStack('prod'), 'reconcile');
});

/** Every DynamoDB request one hourly tick makes, for two teams whose log holds settled counts over two pages. */
async function requestsOfOneTick(): Promise<DynamoRequest[]> {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddbMock = mockClient(ddb);
  const sqsMock = mockClient(SQSClient);
  const team = (teamId: string, o: Record<string, unknown> = {}) => ({ pk: teamId, sk: 'TEAM', teamId, status: 'connected', createdAt: 'x', updatedAt: 'x', ...o });
  ddbMock.on(ScanCommand).resolves({ Items: [team(TEAM_A), team(TEAM_B, { status: 'registered', webhookCountsThrough: '2026-11-21T08:00:00.000Z' })] });
  ddbMock.on(GetCommand).resolves({});
  const settled = new Date(NOW.getTime() - COUNTS_SETTLE_MS - 60_000).toISOString();
  ddbMock
    .on(QueryCommand)
    .resolvesOnce({ Items: [{ sk: `${settled}#g1`, wn: 3, wl: settled }], LastEvaluatedKey: { pk: TEAM_A, sk: `${settled}#g1` } })
    .resolves({ Items: [{ sk: `${settled}#g2`, wn: 2 }] });
  ddbMock.on(UpdateCommand).resolves({});
  sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  sqsMock.on(SendMessageCommand).resolves({});
  const out = await scheduleReconcile({ ddb, sqs: new SQSClient({ region: 'us-east-1' }), teamsTable: 'teams', backfillQueueUrl: 'q', integrationLogTable: 'log', now: () => NOW });
  expect(out.webhookCounts).toMatchObject({ failed: 0 });
  const requests = ddbMock.calls().map((c) => {
    const command = c.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> };
    return requestOf(command.constructor.name, command.input, TABLES);
  });
  ddbMock.restore();
  sqsMock.restore();
  return requests;
}

describe('reconcile role against the requests of its hourly tick', () => {
  it('names every attribute a request touches, placeholders resolved and functions, values and keywords left out', () => {
    expect(
      expressionAttributes('SET webhookCountsThrough = :through, lastProcessedDeliveryAt = :last ADD webhooksProcessed :n', {}),
    ).toEqual(['webhookCountsThrough', 'lastProcessedDeliveryAt', 'webhooksProcessed']);
    expect(expressionAttributes('attribute_exists(pk) AND #status <> :r AND a.b[0] = :x', { '#status': 'status' })).toEqual(['pk', 'status', 'a']);
  });

  it('allows every DynamoDB request of the tick, the webhook counts roll-up (paged Query, watermark UpdateItem) included', async () => {
    const requests = await requestsOfOneTick();
    // Not vacuous: the tick listed teams, read a backfill job, read the log and committed the roll-up.
    expect(new Set(requests.map((r) => `${r.action} ${r.resource}`))).toEqual(
      new Set(['dynamodb:Scan table:teams', 'dynamodb:GetItem table:teams', 'dynamodb:Query table:integrationLog', 'dynamodb:UpdateItem table:teams']),
    );
    expect(requests.filter((r) => !allows(statements, r))).toEqual([]);
  });

  const update = (expression: string, o: Record<string, unknown> = {}) =>
    requestOf('UpdateCommand', { TableName: 'teams', Key: { pk: TEAM_A, sk: 'TEAM' }, UpdateExpression: expression, ...o }, TABLES);
  const query = (o: Record<string, unknown>) =>
    requestOf('QueryCommand', { TableName: 'log', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': TEAM_A }, ...o }, TABLES);

  it('denies an update of a team attribute the roll-up does not write (connection, lifecycle, settings)', () => {
    expect(allows(statements, update('ADD webhooksProcessed :n'))).toBe(true);
    for (const attr of ['disabledAt', 'drchronoUserId', 'tokenVersion', 'syncFields', 'writeBack']) {
      expect(allows(statements, update(`SET ${attr} = :v`))).toBe(false);
    }
  });

  it('denies an update that returns the old or new item', () => {
    for (const rv of ['ALL_OLD', 'ALL_NEW', 'UPDATED_OLD', 'UPDATED_NEW']) {
      expect(allows(statements, update('ADD webhooksProcessed :n', { ReturnValues: rv }))).toBe(false);
    }
  });

  it('denies a log Query that reads whole items or any attribute besides the counts', () => {
    expect(allows(statements, query({ Select: 'SPECIFIC_ATTRIBUTES', ProjectionExpression: 'sk, wn, wl' }))).toBe(true);
    expect(allows(statements, query({}))).toBe(false);
    expect(allows(statements, query({ ProjectionExpression: 'sk, wn, wl' }))).toBe(false);
    expect(allows(statements, query({ Select: 'SPECIFIC_ATTRIBUTES', ProjectionExpression: 'sk, e, ev' }))).toBe(false);
    expect(allows(statements, query({ Select: 'ALL_ATTRIBUTES' }))).toBe(false);
  });

  it('denies writes other than the roll-up update and any access to the records table', () => {
    expect(allows(statements, requestOf('PutCommand', { TableName: 'teams', Item: { pk: TEAM_A, sk: 'TEAM', webhooksProcessed: 1 } }, TABLES))).toBe(false);
    expect(allows(statements, requestOf('DeleteCommand', { TableName: 'teams', Key: { pk: TEAM_A, sk: 'TEAM' } }, TABLES))).toBe(false);
    expect(allows(statements, requestOf('GetCommand', { TableName: 'records', Key: { pk: `${TEAM_A}#patient`, sk: '1' } }, TABLES))).toBe(false);
    expect(allows(statements, requestOf('PutCommand', { TableName: 'log', Item: { pk: TEAM_A, sk: 'x', wn: 1 } }, TABLES))).toBe(false);
  });
});
