/**
 * Sizing arithmetic for the deployed stack (docs/performance.md, "Scale and sizing"): how many webhook events per
 * second it sustains with its configured throttles, reserved concurrency and queue settings, computed from
 * measured per-invocation costs, and which limit binds first. Pure: the bench supplies the stage settings
 * (lib/secure-defaults.ts) and the measured figures (cost or scale section).
 */

import type { CostSection } from './sections/cost';
import type { ScaleSection } from './sections/scale';
import { median } from './stats';

/** What the stack configures for one stage. */
export interface StackLimits {
  stage: string;
  /** HTTP API stage throttling (one request per webhook delivery). */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Reserved concurrency of the webhook function. */
  webhookConcurrency: number;
  /** Reserved concurrency of the sync function (and so the ingest event source's maximum). */
  syncConcurrency: number;
  /** Ingest event source: records per sync invocation at most. */
  batchSize: number;
  /** DrChrono's per-app hourly call budget (one app per team). */
  drchronoBudgetPerTeamHour: number;
}

/** Per-invocation and per-event costs, as measured by the bench. */
export interface MeasuredCosts {
  source: string;
  /** Webhook invocation duration used for the bound (the bench passes a conservative figure, e.g. its p95). */
  webhookMs: number;
  /** Sync invocation duration for a batch of `eventsPerSyncInvocation` events. */
  syncBatchMs: number;
  eventsPerSyncInvocation: number;
  /** DynamoDB write units per event, per table. */
  writeUnitsPerEventByTable: Record<string, number>;
  secretsManagerCallsPerEvent: number;
  drchronoCallsPerEvent: number;
}

/** Default AWS quotas (per region and account unless said otherwise); each can be raised on request except where noted. */
export const ACCOUNT_QUOTAS = {
  /** API Gateway: throttle quota per account per Region across HTTP APIs (burst 5,000). */
  httpApiRequestsPerSecond: 10_000,
  /** DynamoDB: table-level throughput quota per table (on-demand and provisioned). */
  dynamoDbTableWriteUnitsPerSecond: 40_000,
  /** DynamoDB: what a new on-demand table serves at once, until it has seen a higher peak (or is pre-warmed). */
  dynamoDbNewOnDemandTableWriteUnitsPerSecond: 4_000,
  /** Secrets Manager: GetSecretValue and DescribeSecret combined (not adjustable). */
  secretsManagerGetSecretValuePerSecond: 10_000,
} as const;

export const QUOTA_SOURCES = {
  httpApiRequestsPerSecond: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html',
  dynamoDbTableWriteUnitsPerSecond: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html',
  dynamoDbNewOnDemandTableWriteUnitsPerSecond: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html',
  secretsManagerGetSecretValuePerSecond: 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html',
  sqsStandard: 'https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html',
} as const;

export interface SizingBound {
  limit: string;
  /** Events per second this limit allows; Infinity when it does not grow with events. */
  eventsPerSecond: number;
  arithmetic: string;
}

export interface Sizing {
  stage: string;
  source: string;
  bounds: SizingBound[];
  /** The lowest bound: what the stack sustains. */
  sustainedEventsPerSecond: number;
  binding: string;
  /** Per team, not per stack: the DrChrono budget at the measured calls per event. */
  eventsPerTeamHourWithinBudget: number;
  /** Sync batch duration above which sync, not the binding limit, would bind (ms); null when sync binds already. */
  syncBindsAboveBatchMs: number | null;
}

const n = (v: number, digits = 0): string => v.toLocaleString('en-US', { maximumFractionDigits: digits });

/** Write units per event per table, from the bench's per-operation figures keyed `dynamodb.Op[table]`. */
export function writeUnitsByTable(perOperation: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, units] of Object.entries(perOperation)) {
    const table = /^dynamodb\.[A-Za-z]+\[([^\]]+)\]$/.exec(key)?.[1];
    if (table && units > 0) out[table] = (out[table] ?? 0) + units;
  }
  return out;
}

/** A sync batch's duration scaled to a full batch in proportion to its events (an upper bound: part of it is per batch). */
export function fullBatchMs(m: Pick<MeasuredCosts, 'syncBatchMs' | 'eventsPerSyncInvocation'>, batchSize: number): number {
  const perBatch = m.eventsPerSyncInvocation > 0 ? Math.min(batchSize, m.eventsPerSyncInvocation) : batchSize;
  return (m.syncBatchMs * batchSize) / perBatch;
}

export function sizeStack(l: StackLimits, m: MeasuredCosts): Sizing {
  if (!(m.webhookMs > 0 && m.syncBatchMs > 0)) throw new RangeError('measured durations must be positive');
  const batchMs = fullBatchMs(m, l.batchSize);
  const [hotTable, hotWru] = Object.entries(m.writeUnitsPerEventByTable).reduce<[string, number]>((best, e) => (e[1] > best[1] ? e : best), ['none', 0]);
  const bounds: SizingBound[] = [
    { limit: `HTTP API stage rate limit (burst ${n(l.apiBurstLimit)})`, eventsPerSecond: l.apiRateLimit, arithmetic: `${n(l.apiRateLimit)} requests/s, one per delivery` },
    {
      limit: 'Webhook reserved concurrency',
      eventsPerSecond: (l.webhookConcurrency * 1000) / m.webhookMs,
      arithmetic: `${l.webhookConcurrency} × 1000 ÷ ${n(m.webhookMs, 1)} ms`,
    },
    {
      limit: 'Sync reserved concurrency × batch',
      eventsPerSecond: (l.syncConcurrency * l.batchSize * 1000) / batchMs,
      arithmetic: `${l.syncConcurrency} × ${l.batchSize} × 1000 ÷ ${n(batchMs, 1)} ms per full batch`,
    },
    {
      limit: `DynamoDB table write quota (busiest table: ${hotTable})`,
      eventsPerSecond: hotWru > 0 ? ACCOUNT_QUOTAS.dynamoDbTableWriteUnitsPerSecond / hotWru : Number.POSITIVE_INFINITY,
      arithmetic: `${n(ACCOUNT_QUOTAS.dynamoDbTableWriteUnitsPerSecond)} WRU/s ÷ ${n(hotWru, 2)} WRU per event`,
    },
    {
      limit: 'DynamoDB new on-demand table (until a higher peak)',
      eventsPerSecond: hotWru > 0 ? ACCOUNT_QUOTAS.dynamoDbNewOnDemandTableWriteUnitsPerSecond / hotWru : Number.POSITIVE_INFINITY,
      arithmetic: `${n(ACCOUNT_QUOTAS.dynamoDbNewOnDemandTableWriteUnitsPerSecond)} WRU/s ÷ ${n(hotWru, 2)} WRU per event`,
    },
    {
      limit: 'Secrets Manager GetSecretValue quota',
      eventsPerSecond: m.secretsManagerCallsPerEvent > 0 ? ACCOUNT_QUOTAS.secretsManagerGetSecretValuePerSecond / m.secretsManagerCallsPerEvent : Number.POSITIVE_INFINITY,
      arithmetic:
        m.secretsManagerCallsPerEvent > 0
          ? `${n(ACCOUNT_QUOTAS.secretsManagerGetSecretValuePerSecond)}/s ÷ ${n(m.secretsManagerCallsPerEvent, 4)} calls per event`
          : `${n(ACCOUNT_QUOTAS.secretsManagerGetSecretValuePerSecond)}/s; no call per event measured (secrets cached)`,
    },
    { limit: 'HTTP API account quota', eventsPerSecond: ACCOUNT_QUOTAS.httpApiRequestsPerSecond, arithmetic: `${n(ACCOUNT_QUOTAS.httpApiRequestsPerSecond)} requests/s per Region` },
    { limit: 'SQS standard queue', eventsPerSecond: Number.POSITIVE_INFINITY, arithmetic: 'nearly unlimited requests/s' },
  ];
  const binding = bounds.reduce((b, x) => (x.eventsPerSecond < b.eventsPerSecond ? x : b));
  const sync = bounds[2]!;
  return {
    stage: l.stage,
    source: m.source,
    bounds,
    sustainedEventsPerSecond: binding.eventsPerSecond,
    binding: binding.limit,
    eventsPerTeamHourWithinBudget: m.drchronoCallsPerEvent > 0 ? l.drchronoBudgetPerTeamHour / m.drchronoCallsPerEvent : Number.POSITIVE_INFINITY,
    syncBindsAboveBatchMs: binding === sync ? null : (l.syncConcurrency * l.batchSize * 1000) / binding.eventsPerSecond,
  };
}

/**
 * The cost section's figures as sizing inputs. Durations: the median over runs of each run's p95, a conservative
 * stand-in for the mean invocation time (throughput is concurrency ÷ mean duration; the section keeps no mean).
 */
export function measuredFromCost(c: CostSection): MeasuredCosts {
  return {
    source: `cost section (${c.runs.length} runs of ${c.options.events} events over ${c.options.teams} teams)`,
    webhookMs: median(c.runs.map((r) => r.webhookMs.p95)),
    syncBatchMs: median(c.runs.map((r) => r.syncBatchMs.p95)),
    eventsPerSyncInvocation: c.eventsPerSyncInvocation.median,
    writeUnitsPerEventByTable: writeUnitsByTable(Object.fromEntries(Object.entries(c.writeUnitsPerEvent).map(([k, s]) => [k, s.median]))),
    secretsManagerCallsPerEvent: c.secretsManagerCallsPerEvent.median,
    drchronoCallsPerEvent: c.drchronoCallsPerEvent.median,
  };
}

/** The scale section's figures as sizing inputs (p95 durations, as for the cost section). */
export function measuredFromScale(s: ScaleSection): MeasuredCosts {
  return {
    source: `scale section (${s.events} events over ${s.options.teams} teams)`,
    webhookMs: s.webhookMs.p95,
    syncBatchMs: s.syncBatchMs.p95,
    eventsPerSyncInvocation: s.eventsPerSyncInvocation,
    writeUnitsPerEventByTable: s.writeUnitsPerEventByTable,
    secretsManagerCallsPerEvent: s.secretsManagerCallsPerEvent,
    drchronoCallsPerEvent: s.drchronoCallsPerEvent,
  };
}
