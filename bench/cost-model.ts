import { TRACE_SAMPLING } from '../lib/trace-sampling';
import { MINIMAL_ACCESS_LOG_FIELDS, WEBHOOK_REQUEST, accessLogLineBytes } from './access-log';
import { CLOUDWATCH_EVENT_OVERHEAD_BYTES } from './log-counter';
import type { FunctionLogCount } from './log-counter';
import type { StackInventory } from './stack-inventory';
import { BYTES_PER_GB, PRICES, priceOf, type Price, type PriceTable } from './prices';

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

/** Log events written to CloudWatch Logs by one source (a function's own lines, the access log, Lambda's lines). */
export interface LogUsage {
  source: string;
  events: number;
  /** UTF-8 bytes of the events, without CloudWatch's per-event overhead. */
  bytes: number;
}

/** Lambda's own per-invocation lines (platform.start, platform.runtimeDone, platform.report) at INFO and below. */
export const LAMBDA_PLATFORM_LOG_SOURCE = 'Lambda platform lines (system log level WARN)';
export const ACCESS_LOG_SOURCE = 'HTTP API access log';

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
  /** Everything written to CloudWatch Logs, by source. */
  logs: LogUsage[];
  /** X-Ray traces recorded at the sampling rule's fixed rate (the reservoir is a monthly fixed cost). */
  xrayTraces: number;
  /** The log groups carry a data protection policy, which scans every event ingested (lib/log-data-protection.ts). */
  logDataProtection: boolean;
}

export interface CostLine {
  item: string;
  quantity: number;
  usd: number;
  /** What `quantity` counts, when it is not a count of requests (GB, GB-seconds, ...). */
  unit?: string;
  /** The price page. */
  source?: string;
}

export type LambdaArchitecture = 'arm64' | 'x86_64';

// In their own module so the platform process's request counter does not load the CDK (lib/) with this one.
export { billedMs, SQS_CHUNK_BYTES, sqsBilledRequests } from './billing-units';

export function gbSeconds(l: LambdaUsage): number {
  return (l.billedMs / 1000) * (l.memoryMb / 1024);
}

/** GB CloudWatch Logs ingests for a source: its bytes plus 26 bytes per event. */
export function ingestedGb(l: LogUsage): number {
  return (l.bytes + CLOUDWATCH_EVENT_OVERHEAD_BYTES * l.events) / BYTES_PER_GB;
}

const priced = (item: string, quantity: number, price: Price, unit?: string): CostLine => ({
  item,
  quantity,
  usd: priceOf(price, quantity),
  ...(unit ? { unit } : {}),
  source: price.source,
});

export function costLines(u: AwsUsage, prices: PriceTable = PRICES, arch: LambdaArchitecture = 'arm64'): CostLine[] {
  const gbPrice = arch === 'arm64' ? prices.lambdaGbSecondArm64 : prices.lambdaGbSecondX86;
  const lines: CostLine[] = [priced('HTTP API requests', u.httpApiRequests, prices.httpApiRequest)];
  for (const l of u.lambda) {
    lines.push(priced(`Lambda ${l.fn} requests`, l.invocations, prices.lambdaRequest));
    lines.push(priced(`Lambda ${l.fn} GB-seconds`, gbSeconds(l), gbPrice, 'GB-s'));
  }
  lines.push(
    priced('SQS requests (64 KB chunks)', u.sqsRequests, prices.sqsRequest),
    priced('DynamoDB write request units', u.dynamoDbWriteUnits, prices.dynamoDbWriteRequestUnit),
    priced('DynamoDB read request units', u.dynamoDbReadUnits, prices.dynamoDbReadRequestUnit),
    priced('Secrets Manager API calls', u.secretsManagerCalls, prices.secretsManagerApiCall),
    priced('KMS requests', u.kmsRequests, prices.kmsRequest),
  );
  for (const l of u.logs) lines.push(priced(`CloudWatch Logs ingestion: ${l.source}`, ingestedGb(l), prices.cloudWatchLogsIngestedGb, 'GB'));
  const scannedGb = u.logDataProtection ? u.logs.reduce((n, l) => n + l.bytes, 0) / BYTES_PER_GB : 0;
  lines.push(priced('CloudWatch Logs data protection (GB scanned)', scannedGb, prices.cloudWatchLogsDataProtectionGb, 'GB'));
  lines.push(priced('X-Ray traces recorded (fixed rate)', u.xrayTraces, prices.xrayTraceRecorded));
  return lines;
}

/**
 * Traces recorded beyond the reservoir: the fixed rate of every invocation. An upper bound: a sampled webhook's
 * message carries its trace header to the sync invocation, which then adds segments to that trace, not a new one.
 */
export function fixedRateTraces(invocations: number, fixedRate: number = TRACE_SAMPLING.fixedRate): number {
  return invocations * fixedRate;
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
    logs: u.logs.map((l) => ({ ...l, events: l.events * k, bytes: l.bytes * k })),
    xrayTraces: u.xrayTraces * k,
    logDataProtection: u.logDataProtection,
  };
}

/**
 * The log lines no design can avoid: one access-log line per HTTP request (`bytesPerLine`: the stack's format, or
 * the floor's minimal one) and Lambda's own lines. The stack sets the system log level to WARN
 * (lib/app-function.ts), and Lambda's per-invocation lines (platform.start, platform.runtimeDone, platform.report)
 * are INFO events, so none is written: the line is kept, at zero, so the table says so.
 */
export function unavoidableLogs(httpRequests: number, bytesPerLine: number): LogUsage[] {
  return [
    { source: ACCESS_LOG_SOURCE, events: httpRequests, bytes: httpRequests * bytesPerLine },
    { source: LAMBDA_PLATFORM_LOG_SOURCE, events: 0, bytes: 0 },
  ];
}

/** Bytes of the floor's access-log line: the request id and the status. */
export const FLOOR_ACCESS_LOG_BYTES = accessLogLineBytes(WEBHOOK_REQUEST, MINIMAL_ACCESS_LOG_FIELDS);

/**
 * The floor (issue 8): per event one HTTP API request, one webhook invoke, one SendMessage, receives and deletes
 * batched by 10, one sync invoke per 10 events and one DynamoDB write of at most 1 KB. Durations and memory are
 * the anchors' stated assumptions (§C3: 50 ms webhook, 250 ms per sync batch, both 256 MB arm64), which put the
 * floor at about $2.58 per million events; plus the log lines any deployment writes (`unavoidableLogs`: one minimal
 * access-log line per request), $0.03 more. The floor prints nothing itself, traces nothing and scans no log.
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
    logs: unavoidableLogs(events, FLOOR_ACCESS_LOG_BYTES),
    xrayTraces: 0,
    logDataProtection: false,
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

/** A 30-day month. */
export const SECONDS_PER_MONTH = 30 * 24 * 3600;
/**
 * DynamoDB with a customer-managed key caches each caller's table key and asks KMS again after 5 minutes
 * (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html); modelled like SQS's data-key reuse.
 */
export const TABLE_KEY_REUSE_SECONDS = 300;

/**
 * What the deployment pays per month whatever the traffic, apart from the per-event bill: custom metrics (each
 * distinct metric name x dimension values the functions emitted in EMF), alarms and dashboards of the stack, the
 * X-Ray reservoir (traced first, up to `reservoirPerSecond` traces each second there is traffic), and the KMS
 * requests the customer-managed key implies per principal per queue or table per reuse period, an upper bound
 * (every principal active in every period). Plus the key itself and the stack's own secrets; team secrets are per
 * team ($0.40 each), not counted here.
 */
export function fixedMonthlyLines(
  inv: StackInventory,
  customMetrics: number,
  prices: PriceTable = PRICES,
  sampling: { reservoirPerSecond: number } = TRACE_SAMPLING,
): CostLine[] {
  const queuePeriods = SECONDS_PER_MONTH / inv.queueDataKeyReuseSeconds;
  const tablePeriods = SECONDS_PER_MONTH / TABLE_KEY_REUSE_SECONDS;
  return [
    priced('CloudWatch custom metrics (EMF: distinct name x dimensions emitted)', customMetrics, prices.cloudWatchMetricMonth, 'metric-months'),
    priced('CloudWatch alarms (standard resolution)', inv.alarms, prices.cloudWatchAlarmMonth, 'alarm-months'),
    priced('CloudWatch dashboards', inv.dashboards, prices.cloudWatchDashboardMonth, 'dashboard-months'),
    priced(`X-Ray reservoir traces (up to ${sampling.reservoirPerSecond}/s all month)`, sampling.reservoirPerSecond * SECONDS_PER_MONTH, prices.xrayTraceRecorded),
    priced(
      `KMS requests for SQS data keys (${inv.queueKeyPrincipals.length} role x queue x send/receive, one per ${inv.queueDataKeyReuseSeconds} s at most)`,
      inv.queueKeyPrincipals.length * queuePeriods,
      prices.kmsRequest,
    ),
    priced(
      `KMS requests for DynamoDB table keys (${inv.tableKeyPrincipals.length} role x table, one per ${TABLE_KEY_REUSE_SECONDS} s at most)`,
      inv.tableKeyPrincipals.length * tablePeriods,
      prices.kmsRequest,
    ),
    priced('KMS customer-managed keys', inv.kmsKeys, prices.kmsKeyMonth, 'key-months'),
    priced('Secrets Manager secrets of the stack (team secrets are per team)', inv.secrets, prices.secretsManagerSecretMonth, 'secret-months'),
  ];
}

/** The measured lines each function printed, as log usage (one source per function). */
export function printedLogs(functions: readonly FunctionLogCount[]): LogUsage[] {
  return [...functions].sort((a, b) => a.fn.localeCompare(b.fn)).map((f) => ({ source: `${f.fn} lines (logs and EMF metrics)`, events: f.events, bytes: f.bytes }));
}

/** DynamoDB write units and their dollars, by table, from operation keys such as `UpdateItem[teams]`. */
export function writeUnitsByTable(ops: readonly { operation: string; writeUnits: number }[], prices: PriceTable = PRICES): { table: string; writeUnits: number; usd: number }[] {
  const by = new Map<string, number>();
  for (const o of ops) {
    if (o.writeUnits === 0) continue;
    const table = /\[(.+)\]$/.exec(o.operation)?.[1] ?? 'other';
    by.set(table, (by.get(table) ?? 0) + o.writeUnits);
  }
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([table, writeUnits]) => ({ table, writeUnits, usd: priceOf(prices.dynamoDbWriteRequestUnit, writeUnits) }));
}
