import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { FUNCTION_SIZING, type FunctionName } from '../../lib/secure-defaults';
import { sqsClient } from '../../shared/aws/clients';
import { DEFAULT_API_BUDGET_PER_HOUR } from '../../shared/budget/api-budget';
import { accessLogLineBytes, WEBHOOK_REQUEST } from '../access-log';
import { EMPTY_RECEIVE, type OperationCount } from '../aws-request-counter';
import {
  billedMs,
  costAgainstFloor,
  fixedMonthlyLines,
  fixedRateTraces,
  ingestedGb,
  printedLogs,
  totalUsd,
  unavoidableLogs,
  writeUnitsByTable,
  type AwsUsage,
  type CostLine,
  type LambdaUsage,
} from '../cost-model';
import type { LogSnapshot } from '../log-counter';
import type { BenchPlatform } from '../platform-process';
import { BYTES_PER_GB } from '../prices';
import { synthInventory, type StackInventory } from '../stack-inventory';
import { connectTeam, httpJson, rateLimit, resetRateLimit, type BenchTeam } from '../sandbox';
import { median, percentile, summarize, summarizeBy, type Summary } from '../stats';
import { materialise, planMix, postAll } from '../workload';

/**
 * Sections 1 and 2 of issue 8: drive the realistic mix through the local pipeline, count every AWS request, every
 * DrChrono call and every line the functions print, and price the counts per million events beside the floor
 * (issue 14 §1: the whole bill, with the monthly fixed costs apart).
 */
export interface CostOptions {
  events: number;
  teams: number;
  runs: number;
  inFlight: number;
}

export interface CostRun {
  events: number;
  statuses: Record<number, number>;
  drained: boolean;
  awsOps: OperationCount[];
  usage: AwsUsage;
  idleEmptyReceives: number;
  usd: number;
  floorUsd: number;
  ratio: number;
  lines: CostLine[];
  floorLines: CostLine[];
  webhookMs: { median: number; p95: number };
  syncBatchMs: { median: number; p95: number };
  syncInvocations: number;
  drchronoCalls: { teamId: string; calls: number; budget: number; byPath: Record<string, number> }[];
  /** What each function printed during the run (lines, bytes, EMF metrics). */
  logs: LogSnapshot;
}

/** DynamoDB writes of one table per event (or change) and per 1M, median across runs. */
export interface TableWrites {
  table: string;
  writeUnitsPerEvent: Summary;
  usdPerMillion: Summary;
}

/** Monthly costs that do not grow with events, shown apart from the per-event bill. */
export interface FixedMonthly {
  lines: CostLine[];
  usd: number;
  customMetrics: string[];
  inventory: StackInventory;
}

/** CloudWatch Logs bytes ingested per event (or change), by source, 26 bytes per event included. */
export function ingestedBytesPerEvent(runs: readonly { usage: AwsUsage }[]): Record<string, Summary> {
  const sources = [...new Set(runs.flatMap((r) => r.usage.logs.map((l) => l.source)))];
  const out: Record<string, Summary> = {};
  for (const source of sources) {
    out[source] = summarizeBy(runs, (r) => {
      const l = r.usage.logs.find((x) => x.source === source);
      return l ? (ingestedGb(l) * BYTES_PER_GB) / r.usage.events : 0;
    });
  }
  return out;
}

export function tableWrites(runs: readonly { usage: AwsUsage; awsOps: OperationCount[] }[]): TableWrites[] {
  const tables = [...new Set(runs.flatMap((r) => writeUnitsByTable(r.awsOps).map((t) => t.table)))].sort();
  const of = (r: { awsOps: OperationCount[] }, table: string) => writeUnitsByTable(r.awsOps).find((t) => t.table === table);
  return tables.map((table) => ({
    table,
    writeUnitsPerEvent: summarizeBy(runs, (r) => (of(r, table)?.writeUnits ?? 0) / r.usage.events),
    usdPerMillion: summarizeBy(runs, (r) => ((of(r, table)?.usd ?? 0) * 1_000_000) / r.usage.events),
  }));
}

/** The fixed monthly bill of the synthesized stack, with the metrics the runs' EMF lines declared. */
export async function fixedMonthly(runs: readonly { logs: LogSnapshot }[]): Promise<FixedMonthly> {
  const inventory = await synthInventory();
  const customMetrics = [...new Set(runs.flatMap((r) => r.logs.metrics))].sort();
  const lines = fixedMonthlyLines(inventory, customMetrics.length);
  return { lines, usd: totalUsd(lines), customMetrics, inventory };
}

export interface CostSection {
  options: CostOptions;
  usdPerMillion: Summary;
  floorUsdPerMillion: number;
  ratioToFloor: Summary;
  /** Requests per event by service.operation, median across runs (empty receives excluded). */
  requestsPerEvent: Record<string, Summary>;
  writeUnitsPerEvent: Record<string, Summary>;
  readUnitsPerEvent: Record<string, Summary>;
  linesPerMillion: { item: string; quantity: Summary; usd: Summary }[];
  floorLinesPerMillion: CostLine[];
  dynamoDbWriteUnitsPerEvent: Summary;
  dynamoDbReadUnitsPerEvent: Summary;
  sqsRequestsPerEvent: Summary;
  secretsManagerCallsPerEvent: Summary;
  eventsPerSyncInvocation: Summary;
  drchronoCallsPerEvent: Summary;
  /** Largest share of one team's hourly DrChrono budget used by one run. */
  maxTeamBudgetShare: Summary;
  /** Events per hour one team can sustain within its budget at the measured calls per event. */
  eventsPerTeamHourWithinBudget: number | null;
  idleEmptyReceivesPerRun: Summary;
  /** CloudWatch Logs bytes ingested per event by source (each function's lines, the access log, Lambda's lines). */
  logBytesPerEvent: Record<string, Summary>;
  /** DynamoDB writes by table: the records apart from the integration log and the team counters. */
  writesByTable: TableWrites[];
  fixedMonthly: FixedMonthly;
  runs: CostRun[];
  notes: string[];
}

function durationFigures(ms: number[] | undefined): { median: number; p95: number } {
  return ms && ms.length > 0 ? { median: median(ms), p95: percentile(ms, 95) } : { median: 0, p95: 0 };
}

const memoryOf = (fn: string): number => FUNCTION_SIZING[fn as FunctionName]?.memoryMb ?? 128;

async function ingestQueueEmpty(queueUrl: string): Promise<boolean> {
  const out = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0) === 0;
}

/** Waits until the ingest queue has stayed empty for a couple of seconds, or the timeout passes. */
export async function waitForDrain(queueUrl: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  let emptySince: number | undefined;
  while (Date.now() < until) {
    if (await ingestQueueEmpty(queueUrl)) {
      emptySince ??= Date.now();
      if (Date.now() - emptySince >= 2500) return true;
    } else emptySince = undefined;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export async function connectTeams(p: BenchPlatform, n: number): Promise<BenchTeam[]> {
  const teams: BenchTeam[] = [];
  for (let i = 0; i < n; i++) teams.push(await connectTeam(p.info));
  return teams;
}

async function runOnce(p: BenchPlatform, teams: readonly BenchTeam[], o: CostOptions, run: number): Promise<CostRun> {
  const plan = planMix({ events: o.events, teams: teams.length, seed: 1000 + run });
  const deliveries = await materialise(p.info, teams, plan, `bench-cost-${Date.now()}-${run}`);
  for (const t of teams) await resetRateLimit(p.info, t.clientId);
  await waitForDrain(p.info.queueUrls.ingest, 30_000);
  await p.reset();

  const statuses = await postAll(p.info.apiBaseUrl, deliveries, plan.posts, o.inFlight);
  const drained = await waitForDrain(p.info.queueUrls.ingest, 180_000);
  const snap = await p.snapshot();

  const byFn = new Map(snap.invocations.map((i) => [i.fn, i.durationsMs]));
  const lambda: LambdaUsage[] = [...byFn]
    .filter(([, d]) => d.length > 0)
    .map(([fn, d]) => ({ fn, invocations: d.length, billedMs: d.reduce((s, ms) => s + billedMs(ms), 0), memoryMb: memoryOf(fn) }));
  const ops = snap.aws;
  const sum = (pick: (c: OperationCount) => number, where: (c: OperationCount) => boolean = () => true): number =>
    ops.filter(where).reduce((s, c) => s + pick(c), 0);
  const secretsCalls = sum((c) => c.requests, (c) => c.service === 'secretsmanager');
  const usage: AwsUsage = {
    events: plan.posts.length,
    httpApiRequests: plan.posts.length,
    lambda,
    sqsRequests: sum((c) => c.sqsBilledRequests, (c) => c.service === 'sqs' && c.operation !== EMPTY_RECEIVE),
    dynamoDbWriteUnits: sum((c) => c.writeUnits),
    dynamoDbReadUnits: sum((c) => c.readUnits),
    secretsManagerCalls: secretsCalls,
    // Modelled: no KMS locally. Each GetSecretValue decrypts with the stack's CMK (one Decrypt).
    kmsRequests: sum((c) => c.requests, (c) => c.service === 'secretsmanager' && c.operation === 'GetSecretValue'),
    // What the handlers printed, the access-log line of each delivery, and Lambda's own lines (none at WARN).
    logs: [...printedLogs(snap.logs.functions), ...unavoidableLogs(plan.posts.length, accessLogLineBytes(WEBHOOK_REQUEST))],
    xrayTraces: fixedRateTraces(lambda.reduce((n, l) => n + l.invocations, 0)),
    logDataProtection: true,
  };
  const priced = costAgainstFloor(usage);
  const drchronoCalls = [];
  for (const t of teams) {
    const rl = await rateLimit(p.info, t.clientId);
    drchronoCalls.push({ teamId: t.teamId, calls: rl.total, budget: DEFAULT_API_BUDGET_PER_HOUR, byPath: rl.byPath });
  }
  return {
    events: plan.posts.length,
    statuses,
    drained,
    awsOps: ops,
    usage,
    idleEmptyReceives: sum((c) => c.requests, (c) => c.operation === EMPTY_RECEIVE),
    usd: priced.usd,
    floorUsd: priced.floorUsd,
    ratio: priced.ratio,
    lines: priced.lines,
    floorLines: priced.floorLines,
    webhookMs: durationFigures(byFn.get('webhook')),
    syncBatchMs: durationFigures(byFn.get('sync')),
    syncInvocations: (byFn.get('sync') ?? []).length,
    drchronoCalls,
    logs: snap.logs,
  };
}

export async function runCostSection(p: BenchPlatform, o: CostOptions, log: (l: string) => void): Promise<CostSection> {
  // Backfill after connect would add its own traffic; this section measures webhook events only.
  await httpJson('POST', `${p.info.apiBaseUrl}/_local/pollers/backfill/pause`, undefined);
  const teams = await connectTeams(p, o.teams);
  const runs: CostRun[] = [];
  for (let r = 0; r < o.runs; r++) {
    const run = await runOnce(p, teams, o, r);
    log(`  cost run ${r + 1}/${o.runs}: ${run.events} events, $${run.usd.toFixed(3)}/M vs floor $${run.floorUsd.toFixed(3)}/M (x${run.ratio.toFixed(2)})${run.drained ? '' : ' NOT DRAINED'}`);
    runs.push(run);
  }
  const opKeys = [...new Set(runs.flatMap((r) => r.awsOps.filter((c) => c.operation !== EMPTY_RECEIVE).map((c) => `${c.service}.${c.operation}`)))].sort();
  const requestsPerEvent: Record<string, Summary> = {};
  const writeUnitsPerEvent: Record<string, Summary> = {};
  const readUnitsPerEvent: Record<string, Summary> = {};
  const op = (r: CostRun, k: string): OperationCount | undefined => r.awsOps.find((c) => `${c.service}.${c.operation}` === k);
  for (const k of opKeys) {
    requestsPerEvent[k] = summarizeBy(runs, (r) => (op(r, k)?.requests ?? 0) / r.events);
    writeUnitsPerEvent[k] = summarizeBy(runs, (r) => (op(r, k)?.writeUnits ?? 0) / r.events);
    readUnitsPerEvent[k] = summarizeBy(runs, (r) => (op(r, k)?.readUnits ?? 0) / r.events);
  }
  const lineItems = runs[0]!.lines.map((l) => l.item);
  const drchronoPerEvent = (r: CostRun): number => r.drchronoCalls.reduce((s, t) => s + t.calls, 0) / r.events;
  const dcpe = summarizeBy(runs, drchronoPerEvent);
  return {
    options: o,
    usdPerMillion: summarizeBy(runs, (r) => r.usd),
    floorUsdPerMillion: runs[0]!.floorUsd,
    ratioToFloor: summarizeBy(runs, (r) => r.ratio),
    requestsPerEvent,
    writeUnitsPerEvent,
    readUnitsPerEvent,
    linesPerMillion: lineItems.map((item) => ({
      item,
      quantity: summarizeBy(runs, (r) => r.lines.find((l) => l.item === item)?.quantity ?? 0),
      usd: summarizeBy(runs, (r) => r.lines.find((l) => l.item === item)?.usd ?? 0),
    })),
    floorLinesPerMillion: runs[0]!.floorLines,
    dynamoDbWriteUnitsPerEvent: summarizeBy(runs, (r) => r.usage.dynamoDbWriteUnits / r.events),
    dynamoDbReadUnitsPerEvent: summarizeBy(runs, (r) => r.usage.dynamoDbReadUnits / r.events),
    sqsRequestsPerEvent: summarizeBy(runs, (r) => r.usage.sqsRequests / r.events),
    secretsManagerCallsPerEvent: summarizeBy(runs, (r) => r.usage.secretsManagerCalls / r.events),
    eventsPerSyncInvocation: summarizeBy(runs, (r) => (r.syncInvocations > 0 ? r.events / r.syncInvocations : 0)),
    drchronoCallsPerEvent: dcpe,
    maxTeamBudgetShare: summarizeBy(runs, (r) => Math.max(...r.drchronoCalls.map((t) => t.calls / t.budget))),
    eventsPerTeamHourWithinBudget: dcpe.median > 0 ? Math.floor(DEFAULT_API_BUDGET_PER_HOUR / dcpe.median) : null,
    idleEmptyReceivesPerRun: summarize(runs.map((r) => r.idleEmptyReceives)),
    logBytesPerEvent: ingestedBytesPerEvent(runs),
    writesByTable: tableWrites(runs),
    fixedMonthly: await fixedMonthly(runs),
    runs,
    notes: [],
  };
}
