import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { logger } from '../../../shared/logging/logger';
import { COUNTS_SETTLE_MS, rollUpWebhookCounts, webhookCounts } from '../../../shared/teams/webhook-counts';
import { writeIntegrationLog } from '../../../shared/store/integration-log';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const ddbMock = mockClient(DynamoDBDocumentClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const NOW = new Date('2026-11-30T12:00:00.000Z');
const deps = { ddb, teamsTable: 'teams', integrationLogTable: 'log', now: () => NOW };
const team = { teamId: TEAM, status: 'connected' as const, webhooksProcessed: 5, webhooksIgnored: 2, lastDeliveryAt: '2026-11-01T00:00:00.000Z' };
const old = (n: number, at: string, id = 'a') => ({ sk: `2026-11-29T00:00:00.000Z#${id}`, wn: n, wl: at });

afterEach(() => ddbMock.reset());

/** A team's integration log in memory: each query gets the items its sort-key condition selects. */
function fakeLog(items: Record<string, unknown>[]): void {
  ddbMock.on(QueryCommand).callsFake((input: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, string> }) => {
    const { ':after': after, ':through': through } = input.ExpressionAttributeValues;
    const inclusive = input.KeyConditionExpression.includes('BETWEEN');
    return {
      Items: items.filter((i) => {
        const sk = i.sk as string;
        return (after === undefined || sk > after || (inclusive && sk === after)) && (through === undefined || sk <= through);
      }),
    };
  });
}

describe('webhook counts', () => {
  it('first rollup: counts every group carrying counts, and rolls up only while no other rollup has set a watermark', async () => {
    fakeLog([old(3, '2026-11-29T00:00:00.000Z')]);
    ddbMock.on(UpdateCommand).resolves({});
    expect(await webhookCounts(deps, team)).toEqual({ processed: 8, ignored: 2, lastDeliveryAt: '2026-11-29T00:00:00.000Z' });
    const query = ddbMock.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(query.KeyConditionExpression).toBe('pk = :pk AND sk <= :through');
    expect(query.FilterExpression).toBeUndefined();
    const update = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ConditionExpression).toContain('attribute_not_exists(webhookCountsThrough)');
    expect(update.ConditionExpression).toContain('#status <> :removingStatus');
  });

  it('follows query pages and ignores items whose counts are malformed', async () => {
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [old(3, '2026-11-29T00:00:00.000Z', 'a'), { sk: '2026-11-29T01:00:00.000Z#b', wn: 'x' }], LastEvaluatedKey: { pk: TEAM } })
      .resolvesOnce({ Items: [old(4, '2026-11-29T02:00:00.000Z', 'c'), { sk: '2026-11-29T03:00:00.000Z#d', wn: -1 }] })
      .resolves({ Items: [] });
    ddbMock.on(UpdateCommand).resolves({});
    expect((await webhookCounts(deps, team)).processed).toBe(12);
  });

  it('keeps the answer when another reader rolled up first (the conditional update fails)', async () => {
    fakeLog([old(3, '2026-11-29T00:00:00.000Z')]);
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    expect((await webhookCounts(deps, team)).processed).toBe(8);
  });

  it('does not roll up groups younger than the settle time, nor write a removed team\'s item', async () => {
    const young = { sk: `${new Date(NOW.getTime() - COUNTS_SETTLE_MS + 1000).toISOString()}#y`, wn: 2 };
    fakeLog([young]);
    expect((await webhookCounts(deps, team)).processed).toBe(7);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':n': 0 });
    ddbMock.reset();
    fakeLog([old(3, '2026-11-29T00:00:00.000Z')]);
    expect((await webhookCounts(deps, { ...team, status: 'removed' })).processed).toBe(8);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('stores the counts on the last item of a log write only, and not at all for a write without webhook deliveries', async () => {
    ddbMock.on(PutCommand).resolves({});
    const entries = Array.from({ length: 150 }, (_, i) => ({ at: NOW.toISOString(), event: 'PATIENT_MODIFY', deliveryId: `d${i}`, outcome: 'updated' as const }));
    await writeIntegrationLog(ddb, 'log', TEAM, entries, { now: NOW, groupId: 'g', webhookCounts: { processed: 150, lastDeliveryAt: '2026-11-30T11:59:00.000Z' } });
    await writeIntegrationLog(ddb, 'log', TEAM, entries.slice(0, 1), { now: NOW, groupId: 'h', webhookCounts: { processed: 0 } });
    const items = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(items).toHaveLength(3);
    expect(items[0]).not.toHaveProperty('wn');
    expect(items[1]).toMatchObject({ wn: 150, wl: '2026-11-30T11:59:00.000Z' });
    expect(items[2]).not.toHaveProperty('wn');
  });

  it('counts nothing for a log group cut short by a failed write (its redelivered messages are counted once)', async () => {
    ddbMock.on(PutCommand).resolvesOnce({}).rejects(new Error('throttled'));
    const entries = Array.from({ length: 150 }, (_, i) => ({ at: NOW.toISOString(), event: 'PATIENT_MODIFY', deliveryId: `d${i}`, outcome: 'updated' as const }));
    await expect(writeIntegrationLog(ddb, 'log', TEAM, entries, { now: NOW, groupId: 'g', webhookCounts: { processed: 150 } })).rejects.toThrow('throttled');
    const written = ddbMock.commandCalls(PutCommand).slice(0, 1).map((c) => c.args[0].input.Item!);
    expect(written[0]).not.toHaveProperty('wn');
  });

  it('still answers team show / team list when the roll-up write is denied or throttled, and warns with the team id and error class only', async () => {
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    try {
      fakeLog([old(3, '2026-11-29T00:00:00.000Z')]);
      const denied = Object.assign(new Error('User: arn:aws:sts::1:assumed-role/ops is not authorized'), { name: 'AccessDeniedException' });
      ddbMock.on(UpdateCommand).rejects(denied);
      expect(await webhookCounts(deps, team)).toEqual({ processed: 8, ignored: 2, lastDeliveryAt: '2026-11-29T00:00:00.000Z' });
      expect(warn).toHaveBeenCalledWith(expect.any(String), { teamId: TEAM, errorClass: 'AccessDeniedException' });
    } finally {
      warn.mockRestore();
    }
  });

  it('moves the watermark to the settle cutoff even when no settled item carried counts, and reads only after it next time', async () => {
    const cutoff = new Date(NOW.getTime() - COUNTS_SETTLE_MS).toISOString();
    fakeLog([{ sk: '2026-11-01T00:00:00.000Z#backfill' }, { sk: '2026-11-29T00:00:00.000Z#reconcile' }]);
    ddbMock.on(UpdateCommand).resolves({});
    const watermarked = { ...team, webhookCountsThrough: '2026-10-01T00:00:00.000Z#x' };
    expect((await webhookCounts(deps, watermarked)).processed).toBe(5);
    const settledQuery = ddbMock.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(settledQuery.KeyConditionExpression).toBe('pk = :pk AND sk BETWEEN :after AND :through');
    expect(settledQuery.ExpressionAttributeValues).toMatchObject({ ':after': '2026-10-01T00:00:00.000Z#x', ':through': cutoff });
    const update = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ExpressionAttributeValues).toMatchObject({ ':through': cutoff, ':prev': '2026-10-01T00:00:00.000Z#x', ':n': 0 });
    // Read again an hour later with that watermark: the settled query starts at the cutoff.
    ddbMock.resetHistory();
    await webhookCounts({ ...deps, now: () => new Date(NOW.getTime() + 3_600_000) }, { ...team, webhookCountsThrough: cutoff });
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':after': cutoff });
  });

  it('commits the watermark per page, each conditional on the previous one, so a roll-up cut short keeps its progress', async () => {
    const cutoff = new Date(NOW.getTime() - COUNTS_SETTLE_MS).toISOString();
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [old(3, '2026-11-29T00:00:00.000Z', 'a')], LastEvaluatedKey: { pk: TEAM, sk: '2026-11-29T00:00:00.000Z#a' } })
      .resolvesOnce({ Items: [old(4, '2026-11-29T00:00:00.000Z', 'b')] })
      .resolves({ Items: [] });
    ddbMock.on(UpdateCommand).resolves({});
    expect((await webhookCounts(deps, team)).processed).toBe(12);
    const updates = ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates).toHaveLength(2);
    expect(updates[0]!.ExpressionAttributeValues).toMatchObject({ ':through': '2026-11-29T00:00:00.000Z#a', ':n': 3 });
    expect(updates[0]!.ConditionExpression).toContain('attribute_not_exists(webhookCountsThrough)');
    expect(updates[1]!.ExpressionAttributeValues).toMatchObject({ ':prev': '2026-11-29T00:00:00.000Z#a', ':through': cutoff, ':n': 4 });
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input.Limit).toBeGreaterThan(0);
  });
});

describe('rollUpWebhookCounts (the hourly reconcile tick)', () => {
  const T2 = '4a2d3c5f-9b8e-4d2f-8c3b-6e7f8a9b0c1d';
  const T3 = '5b3e4d6a-0c9f-4e3a-9d4c-7f8a9b0c1d2e';
  const T4 = '6c4f5e7b-1d0a-4f4b-8e5d-8a9b0c1d2e3f';

  /** A teams table and integration log in memory: the query honours `sk > :after`, the update its watermark condition. */
  function fakeTables(groupsByTeam: Record<string, { sk: string; wn: number; wl?: string }[]>) {
    const items = new Map<string, Record<string, unknown>>();
    ddbMock.on(QueryCommand).callsFake((input: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, string> }) => {
      const { ':pk': pk, ':after': after, ':through': through } = input.ExpressionAttributeValues;
      const inclusive = input.KeyConditionExpression.includes('BETWEEN');
      const items = (groupsByTeam[pk!] ?? []).filter(
        (g) => (after === undefined || g.sk > after || (inclusive && g.sk === after)) && (through === undefined || g.sk <= through),
      );
      return { Items: items };
    });
    ddbMock.on(UpdateCommand).callsFake((input: { Key: { pk: string }; ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> }) => {
      const cur = items.get(input.Key.pk) ?? {};
      const v = input.ExpressionAttributeValues;
      const ok = input.ConditionExpression.includes('attribute_not_exists(webhookCountsThrough)') ? cur.webhookCountsThrough === undefined : cur.webhookCountsThrough === v[':prev'];
      if (!ok) throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
      items.set(input.Key.pk, { ...cur, webhookCountsThrough: v[':through'], webhooksProcessed: ((cur.webhooksProcessed as number | undefined) ?? 0) + (v[':n'] as number) });
      return {};
    });
    /** The team as a reader would read it now. */
    const teamOf = (teamId: string, status: 'connected' | 'registered' | 'reauthorization_required' | 'removing' | 'removed' = 'connected') => ({ teamId, status, ...items.get(teamId) });
    return { items, teamOf };
  }

  it('rolls up the settled counts of every live team, connected or not, and leaves a team being removed alone', async () => {
    const { items, teamOf } = fakeTables({
      [TEAM]: [old(3, '2026-11-29T00:00:00.000Z', 'a'), old(4, '2026-11-29T00:00:01.000Z', 'b')],
      [T2]: [old(2, '2026-11-29T00:00:00.000Z')],
      [T3]: [old(5, '2026-11-29T00:00:00.000Z')],
      [T4]: [old(7, '2026-11-29T00:00:00.000Z')],
    });
    const summary = await rollUpWebhookCounts(deps, [teamOf(TEAM), teamOf(T2, 'reauthorization_required'), teamOf(T3, 'registered'), teamOf(T4, 'removing')]);
    expect(summary).toEqual({ teams: 3, groups: 4, lost: 0, failed: 0, skipped: 0, stopped: 0 });
    expect(items.get(TEAM)).toMatchObject({ webhooksProcessed: 7 });
    expect(items.get(T2)).toMatchObject({ webhooksProcessed: 2 });
    expect(items.get(T3)).toMatchObject({ webhooksProcessed: 5 });
    expect(items.has(T4)).toBe(false);
  });

  it('adds nothing when run again, late, or while `team list` rolls the same team up', async () => {
    const { items, teamOf } = fakeTables({ [TEAM]: [old(3, '2026-11-29T00:00:00.000Z', 'a'), old(4, '2026-11-29T00:00:01.000Z', 'b')] });
    const stale = teamOf(TEAM);
    // The CLI and the tick read the same team item (no watermark yet) and race: one update wins, the other is dropped.
    const [cli, tick] = await Promise.all([webhookCounts(deps, stale), rollUpWebhookCounts(deps, [stale])]);
    expect(cli.processed).toBe(7);
    expect(tick.teams).toBe(1);
    expect(items.get(TEAM)).toMatchObject({ webhooksProcessed: 7 });
    // A late retry of the tick with the item it read before the race: its condition no longer holds.
    expect(await rollUpWebhookCounts(deps, [stale])).toMatchObject({ lost: 1, groups: 0 });
    // The next tick reads the item with the watermark: nothing new is settled.
    expect(await rollUpWebhookCounts(deps, [teamOf(TEAM)])).toMatchObject({ teams: 1, groups: 0, lost: 0 });
    expect(items.get(TEAM)).toMatchObject({ webhooksProcessed: 7 });
  });

  it('stops a long roll-up between pages when the deadline nears, keeping the watermark of the pages it committed', async () => {
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [old(3, '2026-11-29T00:00:00.000Z', 'a')], LastEvaluatedKey: { pk: TEAM, sk: '2026-11-29T00:00:00.000Z#a' } })
      .rejects(new Error('must not read a second page'));
    ddbMock.on(UpdateCommand).resolves({});
    let budget = 1;
    const summary = await rollUpWebhookCounts(deps, [{ teamId: TEAM, status: 'connected' }], { keepGoing: () => budget-- > 0 });
    expect(summary).toMatchObject({ teams: 1, groups: 1, failed: 0, stopped: 1 });
    const updates = ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.ExpressionAttributeValues).toMatchObject({ ':through': '2026-11-29T00:00:00.000Z#a', ':n': 3 });
  });

  it('goes on with the other teams when one team fails, and stops starting teams when told to', async () => {
    const { items, teamOf } = fakeTables({ [T2]: [old(2, '2026-11-29T00:00:00.000Z')] });
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':pk': TEAM } }).rejects(new Error('throttled'));
    expect(await rollUpWebhookCounts(deps, [teamOf(TEAM), teamOf(T2)], { concurrency: 1 })).toEqual({ teams: 1, groups: 1, lost: 0, failed: 1, skipped: 0, stopped: 0 });
    expect(items.get(T2)).toMatchObject({ webhooksProcessed: 2 });
    let budget = 1;
    const summary = await rollUpWebhookCounts(deps, [teamOf(T3), teamOf(T4)], { concurrency: 1, keepGoing: () => budget-- > 0 });
    expect(summary).toMatchObject({ teams: 1, skipped: 1 });
  });
});
