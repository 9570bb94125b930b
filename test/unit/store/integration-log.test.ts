import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  integrationLogItem,
  MAX_ENTRIES_PER_ITEM,
  readIntegrationLog,
  writeIntegrationLog,
  type IntegrationLogEntry,
} from '../../../shared/store/integration-log';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';

/** A stored group as the writer puts it, at the given minute. */
const group = (at: string, entries: IntegrationLogEntry[]) => integrationLogItem(TEAM, entries, new Date(`${at}:00.000Z`), 'g');

function entry(at: string, outcome: IntegrationLogEntry['outcome'], id = '1'): IntegrationLogEntry {
  return { at, event: 'PATIENT_MODIFY', deliveryId: `d-${id}`, entity: 'patient', drchronoId: id, outcome };
}

beforeEach(() => mock.reset());

describe('writeIntegrationLog', () => {
  it('writes all entries of a batch as one item with a TTL from ttlDays', async () => {
    mock.on(PutCommand).resolves({});
    const now = new Date('2026-11-21T10:00:00.000Z');
    const n = await writeIntegrationLog(ddb, 'log', TEAM, [entry('a', 'created'), entry('b', 'updated')], { ttlDays: 7, now, groupId: 'req-1' });
    expect(n).toBe(1);
    const item = mock.commandCalls(PutCommand)[0]!.args[0].input.Item!;
    expect(item.pk).toBe(TEAM);
    expect(item.sk).toBe('2026-11-21T10:00:00.000Z#req-1');
    expect(item.e).toHaveLength(2);
    expect(item.expiresAt).toBe(Math.floor(now.getTime() / 1000) + 7 * 86_400);
  });

  it('writes nothing for an empty batch', async () => {
    expect(await writeIntegrationLog(ddb, 'log', TEAM, [])).toBe(0);
    expect(mock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('splits very large groups into several items with distinct sort keys', async () => {
    mock.on(PutCommand).resolves({});
    const many = Array.from({ length: MAX_ENTRIES_PER_ITEM + 1 }, (_, i) => entry(`t${i}`, 'created', String(i)));
    expect(await writeIntegrationLog(ddb, 'log', TEAM, many, { groupId: 'g' })).toBe(2);
    const sks = mock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!.sk);
    expect(new Set(sks).size).toBe(2);
  });

  it('rejects an entry with an unknown outcome', async () => {
    const bad = { ...entry('a', 'created'), outcome: 'exploded' } as unknown as IntegrationLogEntry;
    await expect(writeIntegrationLog(ddb, 'log', TEAM, [bad])).rejects.toThrow();
    expect(mock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('truncates long error messages', async () => {
    mock.on(PutCommand).resolves({});
    await writeIntegrationLog(ddb, 'log', TEAM, [{ ...entry('a', 'failed'), errorMessage: 'x'.repeat(5000) }]);
    mock.on(QueryCommand).resolves({ Items: mock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!) });
    const [saved] = await readIntegrationLog(ddb, 'log', TEAM);
    expect(saved!.errorMessage!.length).toBe(500);
  });
});

describe('readIntegrationLog', () => {
  it('flattens groups, sorts newest first and honours the limit', async () => {
    mock.on(QueryCommand).resolves({
      Items: [
        group('2026-11-21T10:05', [entry('2026-11-21T10:04', 'created', '1'), entry('2026-11-21T10:05', 'updated', '2')]),
        group('2026-11-21T10:01', [entry('2026-11-21T10:01', 'failed', '3')]),
      ],
    });
    const out = await readIntegrationLog(ddb, 'log', TEAM, { limit: 2 });
    expect(out.map((e) => e.drchronoId)).toEqual(['2', '1']);
    expect(mock.commandCalls(QueryCommand)[0]!.args[0].input.ScanIndexForward).toBe(false);
  });

  it('filters by outcome', async () => {
    mock.on(QueryCommand).resolves({
      Items: [group('2026-11-21T10:00', [entry('2', 'created', '1'), entry('1', 'failed', '2')])],
    });
    const out = await readIntegrationLog(ddb, 'log', TEAM, { outcome: 'failed' });
    expect(out.map((e) => e.drchronoId)).toEqual(['2']);
  });

  it('pages through groups until enough matching entries are found', async () => {
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [group('2026-11-21T10:02', [entry('3', 'created', '1')])], LastEvaluatedKey: { pk: TEAM, sk: 's2' } })
      .resolvesOnce({ Items: [group('2026-11-21T10:01', [entry('1', 'failed', '2')])] });
    const out = await readIntegrationLog(ddb, 'log', TEAM, { outcome: 'failed', limit: 5 });
    expect(out.map((e) => e.drchronoId)).toEqual(['2']);
    expect(mock.commandCalls(QueryCommand)).toHaveLength(2);
  });

  it('skips a malformed group instead of failing the whole read', async () => {
    mock.on(QueryCommand).resolves({
      Items: [
        { ...group('2026-11-21T10:02', [entry('1', 'created', '6')]), e: 'garbage' },
        group('2026-11-21T10:01', [entry('1', 'created', '7')]),
      ],
    });
    const out = await readIntegrationLog(ddb, 'log', TEAM);
    expect(out.map((e) => e.drchronoId)).toEqual(['7']);
  });
});
