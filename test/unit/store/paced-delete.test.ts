import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import {
  backoffMs,
  deleteBatch,
  deletePartition,
  RatePacer,
  UnprocessedItemsError,
  type ItemKey,
  type PacedDeleteOptions,
} from '../../../shared/store/paced-delete';

/**
 * An in-memory table that answers Query (by pk, sorted by sk, with Limit and ExclusiveStartKey) and BatchWriteItem
 * deletes, and can be told to leave some deletes unprocessed or to fail a call, like DynamoDB under throttling.
 */
class FakeTable {
  readonly items = new Map<string, Set<string>>();
  batchCalls: number[] = [];
  /** Per BatchWrite call: how many of its deletes to hand back as UnprocessedItems. */
  unprocessedPlan: number[] = [];
  /** Throw on this BatchWrite call number (1-based). */
  failOnBatchCall: number | undefined;

  constructor(
    readonly name: string,
    keys: ItemKey[],
  ) {
    for (const k of keys) this.put(k);
  }

  put(k: ItemKey): void {
    if (!this.items.has(k.pk)) this.items.set(k.pk, new Set());
    this.items.get(k.pk)!.add(k.sk);
  }

  count(pk: string): number {
    return this.items.get(pk)?.size ?? 0;
  }

  readonly client = {
    send: async (cmd: unknown): Promise<unknown> => {
      if (cmd instanceof QueryCommand) {
        const i = cmd.input;
        const pk = String(i.ExpressionAttributeValues![':pk']);
        const after = i.ExclusiveStartKey ? String(i.ExclusiveStartKey.sk) : undefined;
        const all = [...(this.items.get(pk) ?? [])].sort().filter((sk) => after === undefined || sk > after);
        const page = all.slice(0, i.Limit ?? all.length);
        const more = page.length < all.length;
        return { Items: page.map((sk) => ({ pk, sk })), ...(more ? { LastEvaluatedKey: { pk, sk: page.at(-1) } } : {}) };
      }
      if (cmd instanceof BatchWriteCommand) {
        const requests = cmd.input.RequestItems![this.name]!;
        this.batchCalls.push(requests.length);
        if (this.failOnBatchCall === this.batchCalls.length) throw new Error('ProvisionedThroughputExceededException');
        const hold = Math.min(this.unprocessedPlan.shift() ?? 0, requests.length);
        const done = requests.slice(0, requests.length - hold);
        for (const r of done) {
          const key = r.DeleteRequest!.Key as ItemKey;
          this.items.get(key.pk)?.delete(key.sk);
        }
        const left = requests.slice(requests.length - hold);
        return { UnprocessedItems: left.length ? { [this.name]: left } : {} };
      }
      throw new Error('unexpected command');
    },
  };

  get ddb(): DynamoDBDocumentClient {
    return this.client as unknown as DynamoDBDocumentClient;
  }
}

const keysOf = (pk: string, n: number): ItemKey[] => Array.from({ length: n }, (_, i) => ({ pk, sk: String(100000 + i) }));

/** A virtual clock: sleep advances it, so pacing is measured without waiting. */
function virtualClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

function options(clock: ReturnType<typeof virtualClock>, perSecond: number, extra: Partial<PacedDeleteOptions> = {}): PacedDeleteOptions {
  return { pacer: new RatePacer(perSecond, clock.now, clock.sleep), sleep: clock.sleep, random: () => 1, ...extra };
}

describe('RatePacer', () => {
  it('lets no more than the rate start per second, whatever the batch sizes (seeded property)', async () => {
    const seed = 20261130;
    console.log(`RatePacer property seed ${seed}`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 60 }), async (rate, sizes) => {
        const clock = virtualClock();
        const pacer = new RatePacer(rate, clock.now, clock.sleep);
        const starts: number[] = [];
        for (const n of sizes) {
          await pacer.take(n);
          starts.push(clock.now());
        }
        // Everything booked before the last start took at least its share of time.
        const before = sizes.slice(0, -1).reduce((a, b) => a + b, 0);
        expect(starts.at(-1)!).toBeGreaterThanOrEqual((before * 1000) / rate - 1e-6);
      }),
      { seed, numRuns: 200 },
    );
  });

  it('does not wait for the first batch', async () => {
    const clock = virtualClock();
    await new RatePacer(10, clock.now, clock.sleep).take(25);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('backoffMs', () => {
  it('grows exponentially, capped, with full jitter', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffMs(a, 50, 1000, () => 0.999999))).toEqual([49, 99, 199, 399, 999]);
    expect(backoffMs(3, 50, 1000, () => 0)).toBe(0);
  });
});

describe('deleteBatch', () => {
  it('retries UnprocessedItems with backoff until every delete is done', async () => {
    const table = new FakeTable('t', keysOf('team#patient', 25));
    table.unprocessedPlan = [10, 4, 0];
    const clock = virtualClock();
    await deleteBatch(table.ddb, 't', keysOf('team#patient', 25), options(clock, 1000));
    expect(table.batchCalls).toEqual([25, 10, 4]);
    expect(table.count('team#patient')).toBe(0);
    // Two backoffs (random() = 1 gives the cap of each step): 50 ms, then 100 ms, besides the pacing.
    expect(clock.sleeps).toEqual(expect.arrayContaining([50, 100]));
  });

  it('gives up after maxAttempts with UnprocessedItemsError, having deleted what DynamoDB processed', async () => {
    const table = new FakeTable('t', keysOf('p', 20));
    table.unprocessedPlan = [5, 5, 5];
    const clock = virtualClock();
    const err = await deleteBatch(table.ddb, 't', keysOf('p', 20), options(clock, 1000, { maxAttempts: 3 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessedItemsError);
    expect((err as UnprocessedItemsError).remaining).toBe(5);
    expect(table.count('p')).toBe(5);
  });

  it('refuses more than 25 keys (the BatchWriteItem limit)', async () => {
    const table = new FakeTable('t', []);
    await expect(deleteBatch(table.ddb, 't', keysOf('p', 26), options(virtualClock(), 100))).rejects.toThrow(RangeError);
  });
});

describe('deletePartition', () => {
  it('deletes thousands of items in batches of at most 25, paced at the given rate', async () => {
    const table = new FakeTable('records', [...keysOf('team#patient', 3000), ...keysOf('other#patient', 7)]);
    const clock = virtualClock();
    const counted: number[] = [];
    const n = await deletePartition(table.ddb, 'records', 'team#patient', options(clock, 400, { onDeleted: async (k) => void counted.push(k) }));
    expect(n).toBe(3000);
    expect(table.count('team#patient')).toBe(0);
    expect(table.count('other#patient')).toBe(7);
    expect(Math.max(...table.batchCalls)).toBeLessThanOrEqual(25);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(3000);
    // 3,000 deletes at 400/s: the last batch starts no earlier than (3000 - 25) / 400 s in.
    expect(clock.now()).toBeGreaterThanOrEqual(((3000 - 25) * 1000) / 400);
  });

  it('leaves the items `keep` names', async () => {
    const table = new FakeTable('teams', [{ pk: 'team', sk: 'TEAM' }, { pk: 'team', sk: 'BACKFILL' }, { pk: 'team', sk: 'BUDGET#2026-11-30T05' }]);
    const n = await deletePartition(table.ddb, 'teams', 'team', options(virtualClock(), 100, { keep: (k) => k.sk === 'TEAM' }));
    expect(n).toBe(2);
    expect([...table.items.get('team')!]).toEqual(['TEAM']);
  });

  it('resumes after an interruption: a second run deletes exactly what the first left, and the counts add up', async () => {
    const table = new FakeTable('records', keysOf('team#appointment', 1234));
    table.failOnBatchCall = 20; // dies mid-partition, after 19 batches
    let counted = 0;
    const opts = (clock: ReturnType<typeof virtualClock>) => options(clock, 1000, { onDeleted: async (k) => void (counted += k) });
    await expect(deletePartition(table.ddb, 'records', 'team#appointment', opts(virtualClock()))).rejects.toThrow('ProvisionedThroughput');
    expect(counted).toBe(19 * 25);
    expect(table.count('team#appointment')).toBe(1234 - 19 * 25);
    table.failOnBatchCall = undefined;
    const second = await deletePartition(table.ddb, 'records', 'team#appointment', opts(virtualClock()));
    expect(second).toBe(1234 - 19 * 25);
    expect(counted).toBe(1234);
    expect(table.count('team#appointment')).toBe(0);
  });

  it('deletes nothing from an empty partition', async () => {
    const table = new FakeTable('records', []);
    expect(await deletePartition(table.ddb, 'records', 'none#patient', options(virtualClock(), 100))).toBe(0);
    expect(table.batchCalls).toEqual([]);
  });
});
