import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { COUNTS_SETTLE_MS, webhookCounts } from '../../../shared/teams/webhook-counts';
import { writeIntegrationLog } from '../../../shared/store/integration-log';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const ddbMock = mockClient(DynamoDBDocumentClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const NOW = new Date('2026-11-30T12:00:00.000Z');
const deps = { ddb, teamsTable: 'teams', integrationLogTable: 'log', now: () => NOW };
const team = { teamId: TEAM, status: 'connected' as const, webhooksProcessed: 5, webhooksIgnored: 2, lastDeliveryAt: '2026-11-01T00:00:00.000Z' };
const old = (n: number, at: string, id = 'a') => ({ sk: `2026-11-29T00:00:00.000Z#${id}`, wn: n, wl: at });

afterEach(() => ddbMock.reset());

describe('webhook counts', () => {
  it('first rollup: counts every group carrying counts, and rolls up only while no other rollup has set a watermark', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [old(3, '2026-11-29T00:00:00.000Z')] });
    ddbMock.on(UpdateCommand).resolves({});
    expect(await webhookCounts(deps, team)).toEqual({ processed: 8, ignored: 2, lastDeliveryAt: '2026-11-29T00:00:00.000Z' });
    const query = ddbMock.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(query.KeyConditionExpression).toBe('pk = :pk');
    const update = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ConditionExpression).toContain('attribute_not_exists(webhookCountsThrough)');
    expect(update.ConditionExpression).toContain('#status <> :removingStatus');
  });

  it('follows query pages and ignores items whose counts are malformed', async () => {
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [old(3, '2026-11-29T00:00:00.000Z', 'a'), { sk: '2026-11-29T01:00:00.000Z#b', wn: 'x' }], LastEvaluatedKey: { pk: TEAM } })
      .resolvesOnce({ Items: [old(4, '2026-11-29T02:00:00.000Z', 'c'), { sk: '2026-11-29T03:00:00.000Z#d', wn: -1 }] });
    ddbMock.on(UpdateCommand).resolves({});
    expect((await webhookCounts(deps, team)).processed).toBe(12);
  });

  it('keeps the answer when another reader rolled up first (the conditional update fails)', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [old(3, '2026-11-29T00:00:00.000Z')] });
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    expect((await webhookCounts(deps, team)).processed).toBe(8);
  });

  it('does not roll up groups younger than the settle time, nor write a removed team\'s item', async () => {
    const young = { sk: `${new Date(NOW.getTime() - COUNTS_SETTLE_MS + 1000).toISOString()}#y`, wn: 2 };
    ddbMock.on(QueryCommand).resolves({ Items: [young] });
    expect((await webhookCounts(deps, team)).processed).toBe(7);
    ddbMock.on(QueryCommand).resolves({ Items: [old(3, '2026-11-29T00:00:00.000Z')] });
    expect((await webhookCounts(deps, { ...team, status: 'removed' })).processed).toBe(8);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('stores the counts on the first item of a log write only, and not at all for a write without webhook deliveries', async () => {
    ddbMock.on(PutCommand).resolves({});
    const entries = Array.from({ length: 150 }, (_, i) => ({ at: NOW.toISOString(), event: 'PATIENT_MODIFY', deliveryId: `d${i}`, outcome: 'updated' as const }));
    await writeIntegrationLog(ddb, 'log', TEAM, entries, { now: NOW, groupId: 'g', webhookCounts: { processed: 150, lastDeliveryAt: '2026-11-30T11:59:00.000Z' } });
    await writeIntegrationLog(ddb, 'log', TEAM, entries.slice(0, 1), { now: NOW, groupId: 'h', webhookCounts: { processed: 0 } });
    const items = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({ wn: 150, wl: '2026-11-30T11:59:00.000Z' });
    expect(items[1]).not.toHaveProperty('wn');
    expect(items[2]).not.toHaveProperty('wn');
  });
});
