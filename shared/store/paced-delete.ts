import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Deletes every item of one partition, paced within DynamoDB's limits: BatchWriteItem of at most 25 keys, a
 * bounded item rate (all of a team's records of one entity share ONE partition, and a partition takes at most
 * 1,000 write units per second), and UnprocessedItems retried with capped exponential backoff and full jitter.
 * Reads are strongly consistent, so an item written before the query started is seen. It keeps no state of its
 * own: run it again after an interruption and it deletes what is left.
 */
export const BATCH_WRITE_MAX_ITEMS = 25;
/** Keys read per Query page: small pages keep the pacing smooth and a re-run cheap. */
export const DELETE_QUERY_PAGE = 100;
/** Default item deletes per second: well under one partition's 1,000 WCU/s, leaving room for the other tables' traffic. */
export const DEFAULT_DELETES_PER_SECOND = 400;
export const MAX_DELETES_PER_SECOND = 1_000;

export type ItemKey = { pk: string; sk: string };

export interface PacedDeleteOptions {
  pacer: RatePacer;
  /** Attempts per batch (the first write plus retries of UnprocessedItems) before giving up. Default 8. */
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Items of the partition to leave in place (the team item while the team is being removed). */
  keep?: (key: ItemKey) => boolean;
  /** After each fully written batch, with its size: the caller's resumable counter. */
  onDeleted?: (n: number) => Promise<void>;
}

/** A batch whose UnprocessedItems did not clear within maxAttempts; nothing is lost, a re-run continues. */
export class UnprocessedItemsError extends Error {
  override name = 'UnprocessedItemsError';
  constructor(
    readonly table: string,
    readonly remaining: number,
  ) {
    super(`${remaining} deletes still unprocessed by ${table} after retries; run again to continue`);
  }
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Spaces work out so that on average no more than `perSecond` units start per second, whatever the batch sizes.
 * Deterministic (clock and sleep injected), so the pacing is unit-testable.
 */
export class RatePacer {
  private nextAt: number | undefined;
  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = defaultSleep,
  ) {
    if (!(perSecond > 0)) throw new RangeError('perSecond must be positive');
  }

  /** Waits until `units` may start, then books the time they use. */
  async take(units: number): Promise<void> {
    const t = this.now();
    if (this.nextAt !== undefined && this.nextAt > t) await this.sleep(this.nextAt - t);
    this.nextAt = Math.max(this.now(), this.nextAt ?? 0) + (units * 1000) / this.perSecond;
  }
}

/** Backoff before retry `attempt` (1-based): full jitter over a capped exponential. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
}

/** Deletes one batch (≤ 25 keys), retrying UnprocessedItems. */
export async function deleteBatch(ddb: DynamoDBDocumentClient, table: string, keys: readonly ItemKey[], opts: PacedDeleteOptions): Promise<void> {
  if (keys.length > BATCH_WRITE_MAX_ITEMS) throw new RangeError(`at most ${BATCH_WRITE_MAX_ITEMS} keys per batch`);
  const maxAttempts = opts.maxAttempts ?? 8;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  let pending = keys.map((k) => ({ DeleteRequest: { Key: { pk: k.pk, sk: k.sk } } }));
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > maxAttempts) throw new UnprocessedItemsError(table, pending.length);
    if (attempt > 1) await sleep(backoffMs(attempt - 1, opts.baseBackoffMs ?? 50, opts.maxBackoffMs ?? 5_000, random));
    await opts.pacer.take(pending.length);
    const out = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
  }
}

/** The keys of partition `pk`, a page at a time (strongly consistent, keys only). */
async function* partitionKeyPages(ddb: DynamoDBDocumentClient, table: string, pk: string, limit?: number): AsyncGenerator<ItemKey[]> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#pk = :pk',
        ProjectionExpression: '#pk, #sk',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ...(limit !== undefined ? { Limit: limit } : {}),
        ExclusiveStartKey: start,
      }),
    );
    yield (out.Items ?? []).map((i) => ({ pk: String(i.pk), sk: String(i.sk) }));
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Deletes every item of partition `pk` (except `keep`), returning how many were deleted. */
export async function deletePartition(ddb: DynamoDBDocumentClient, table: string, pk: string, opts: PacedDeleteOptions): Promise<number> {
  let deleted = 0;
  for await (const page of partitionKeyPages(ddb, table, pk, DELETE_QUERY_PAGE)) {
    const keys = page.filter((k) => !opts.keep?.(k));
    for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX_ITEMS) {
      const batch = keys.slice(i, i + BATCH_WRITE_MAX_ITEMS);
      await deleteBatch(ddb, table, batch, opts);
      deleted += batch.length;
      await opts.onDeleted?.(batch.length);
    }
  }
  return deleted;
}

/** How many items partition `pk` holds (for the dry run), optionally not counting `keep`. */
export async function countPartition(ddb: DynamoDBDocumentClient, table: string, pk: string, keep?: (key: ItemKey) => boolean): Promise<number> {
  let n = 0;
  for await (const page of partitionKeyPages(ddb, table, pk)) n += page.filter((k) => !keep?.(k)).length;
  return n;
}
