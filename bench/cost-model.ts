import { PRICES, priceOf, type PriceTable } from './prices';

/**
 * Converts counted AWS usage into dollars, and builds the floor the pipeline is compared with. Pure arithmetic:
 * the benchmark sections supply the counts.
 */
export interface LambdaUsage {
  fn: string;
  invocations: number;
  /** Sum over invocations of the billed duration (each rounded up to 1 ms). */
  billedMs: number;
  memoryMb: number;
}

export interface AwsUsage {
  events: number;
  httpApiRequests: number;
  lambda: LambdaUsage[];
  /** Billed SQS requests: one per call and per started 64 KB chunk of its payload. */
  sqsRequests: number;
  dynamoDbWriteUnits: number;
  dynamoDbReadUnits: number;
  secretsManagerCalls: number;
  kmsRequests: number;
}

export interface CostLine {
  item: string;
  quantity: number;
  usd: number;
}

export type LambdaArchitecture = 'arm64' | 'x86_64';

export const SQS_CHUNK_BYTES = 64 * 1024;

/** Lambda bills duration per started millisecond. */
export function billedMs(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs));
}

/** One SQS request per started 64 KB chunk of the larger of request and response payload. */
export function sqsBilledRequests(payloadBytes: number): number {
  return Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
}

export function gbSeconds(l: LambdaUsage): number {
  return (l.billedMs / 1000) * (l.memoryMb / 1024);
}

export function costLines(u: AwsUsage, prices: PriceTable = PRICES, arch: LambdaArchitecture = 'arm64'): CostLine[] {
  const gbPrice = arch === 'arm64' ? prices.lambdaGbSecondArm64 : prices.lambdaGbSecondX86;
  const lines: CostLine[] = [{ item: 'HTTP API requests', quantity: u.httpApiRequests, usd: priceOf(prices.httpApiRequest, u.httpApiRequests) }];
  for (const l of u.lambda) {
    lines.push({ item: `Lambda ${l.fn} requests`, quantity: l.invocations, usd: priceOf(prices.lambdaRequest, l.invocations) });
    const gbs = gbSeconds(l);
    lines.push({ item: `Lambda ${l.fn} GB-seconds`, quantity: gbs, usd: priceOf(gbPrice, gbs) });
  }
  lines.push(
    { item: 'SQS requests (64 KB chunks)', quantity: u.sqsRequests, usd: priceOf(prices.sqsRequest, u.sqsRequests) },
    { item: 'DynamoDB write request units', quantity: u.dynamoDbWriteUnits, usd: priceOf(prices.dynamoDbWriteRequestUnit, u.dynamoDbWriteUnits) },
    { item: 'DynamoDB read request units', quantity: u.dynamoDbReadUnits, usd: priceOf(prices.dynamoDbReadRequestUnit, u.dynamoDbReadUnits) },
    { item: 'Secrets Manager API calls', quantity: u.secretsManagerCalls, usd: priceOf(prices.secretsManagerApiCall, u.secretsManagerCalls) },
    { item: 'KMS requests', quantity: u.kmsRequests, usd: priceOf(prices.kmsRequest, u.kmsRequests) },
  );
  return lines;
}

export function totalUsd(lines: readonly CostLine[]): number {
  return lines.reduce((sum, l) => sum + l.usd, 0);
}

/** The same usage scaled linearly to `events` events (e.g. 1,000,000). */
export function scaleUsage(u: AwsUsage, events: number): AwsUsage {
  if (u.events <= 0) throw new RangeError('usage covers no events');
  const k = events / u.events;
  return {
    events,
    httpApiRequests: u.httpApiRequests * k,
    lambda: u.lambda.map((l) => ({ ...l, invocations: l.invocations * k, billedMs: l.billedMs * k })),
    sqsRequests: u.sqsRequests * k,
    dynamoDbWriteUnits: u.dynamoDbWriteUnits * k,
    dynamoDbReadUnits: u.dynamoDbReadUnits * k,
    secretsManagerCalls: u.secretsManagerCalls * k,
    kmsRequests: u.kmsRequests * k,
  };
}

/**
 * The floor (issue 8): per event one HTTP API request, one webhook invoke, one SendMessage, receives and deletes
 * batched by 10, one sync invoke per 10 events and one DynamoDB write of at most 1 KB. Durations and memory are
 * the anchors' stated assumptions (§C3: 50 ms webhook, 250 ms per sync batch, both 256 MB arm64), which put the
 * floor at about $2.58 per million events.
 */
export interface FloorAssumptions {
  batchSize: number;
  webhookMs: number;
  webhookMemoryMb: number;
  syncBatchMs: number;
  syncMemoryMb: number;
}

export const FLOOR_ASSUMPTIONS: FloorAssumptions = { batchSize: 10, webhookMs: 50, webhookMemoryMb: 256, syncBatchMs: 250, syncMemoryMb: 256 };

export function floorUsage(events: number, a: FloorAssumptions = FLOOR_ASSUMPTIONS): AwsUsage {
  const batches = events / a.batchSize;
  return {
    events,
    httpApiRequests: events,
    lambda: [
      { fn: 'webhook', invocations: events, billedMs: events * a.webhookMs, memoryMb: a.webhookMemoryMb },
      { fn: 'sync', invocations: batches, billedMs: batches * a.syncBatchMs, memoryMb: a.syncMemoryMb },
    ],
    // SendMessage per event, ReceiveMessage and DeleteMessageBatch per batch.
    sqsRequests: events + 2 * batches,
    dynamoDbWriteUnits: events,
    dynamoDbReadUnits: 0,
    secretsManagerCalls: 0,
    kmsRequests: 0,
  };
}

/** Dollars per `per` events for a usage, and for the floor of the same event count; ratio taken within the run. */
export function costAgainstFloor(
  u: AwsUsage,
  per = 1_000_000,
  prices: PriceTable = PRICES,
): { lines: CostLine[]; usd: number; floorLines: CostLine[]; floorUsd: number; ratio: number } {
  const lines = costLines(scaleUsage(u, per), prices);
  const floorLines = costLines(floorUsage(per), prices);
  const usd = totalUsd(lines);
  const floorUsd = totalUsd(floorLines);
  return { lines, usd, floorLines, floorUsd, ratio: usd / floorUsd };
}
