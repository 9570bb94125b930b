import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { budgetCeiling, DEFAULT_API_BUDGET_PER_HOUR } from '../../shared/budget/api-budget';
import { LOCAL_CREDENTIALS, signRequest } from '../../shared/http/sigv4';
import { WRITE_BACK_QUEUE } from '../../shared/config/queue-settings';
import { listRecords } from '../../shared/store/records';
import { getChange } from '../../shared/write-back/change-store';
import { FUNCTION_SIZING, type FunctionName } from '../../lib/secure-defaults';
import { accessLogLineBytes, WEBHOOK_REQUEST, WRITE_API_REQUEST } from '../access-log';
import { EMPTY_RECEIVE, type OperationCount } from '../aws-request-counter';
import {
  billedMs,
  costLines,
  FLOOR_ACCESS_LOG_BYTES,
  fixedRateTraces,
  printedLogs,
  scaleUsage,
  totalUsd,
  unavoidableLogs,
  type AwsUsage,
  type CostLine,
  type LambdaUsage,
} from '../cost-model';
import type { LogSnapshot } from '../log-counter';
import type { BenchPlatform } from '../platform-process';
import { fixedMonthly, ingestedBytesPerEvent, tableWrites, type FixedMonthly, type TableWrites } from './cost';
import { connectTeam, httpJson, rateLimit, resetRateLimit, type BenchTeam } from '../sandbox';
import { summarizeBy, type Summary } from '../stats';

/**
 * Outbound changes (issue #13 §8): app changes through the signed write API, the FIFO queue and the write-back
 * function to the DrChrono sandbox. Counts every AWS request and DrChrono call per change and prices them per
 * million changes beside the floor: one HTTP request, one queue message, one DrChrono call and one record write
 * per change.
 */
export interface WriteBackOptions {
  changes: number;
  teams: number;
  runs: number;
  inFlight: number;
}

export interface WriteBackRun {
  changes: number;
  accepted: number;
  outcomes: Record<string, number>;
  usage: AwsUsage;
  awsOps: OperationCount[];
  usd: number;
  floorUsd: number;
  ratio: number;
  lines: CostLine[];
  floorLines: CostLine[];
  drchronoCalls: number;
  drchronoByPath: Record<string, number>;
  /** DrChrono's webhook attempts for the run's teams, by event and answer (the echoes of our writes). */
  echoes: Record<string, number>;
  logs: LogSnapshot;
}

export interface WriteBackSection {
  options: WriteBackOptions;
  usdPerMillion: Summary;
  floorUsdPerMillion: number;
  ratioToFloor: Summary;
  drchronoCallsPerChange: Summary;
  dynamoDbWriteUnitsPerChange: Summary;
  dynamoDbReadUnitsPerChange: Summary;
  sqsRequestsPerChange: Summary;
  requestsPerChange: Record<string, Summary>;
  linesPerMillion: { item: string; quantity: Summary; usd: Summary }[];
  floorLinesPerMillion: CostLine[];
  /** Changes one team can send per hour within its DrChrono budget's write-back share at the measured calls per change. */
  changesPerTeamHourWithinBudget: number | null;
  /** CloudWatch Logs bytes ingested per change by source. */
  logBytesPerChange: Record<string, Summary>;
  /** DynamoDB writes by table per change: records, the integration log and the teams table (change items, counters). */
  writesByTable: TableWrites[];
  fixedMonthly: FixedMonthly;
  runs: WriteBackRun[];
}

/**
 * The floor per change: one HTTP API request, one write-api invoke (50 ms), one SendMessage, receive and delete
 * per batch of the write-back queue, one write-back invoke per batch (250 ms), one DynamoDB write of at most
 * 1 KB, and (not priced: DrChrono's) one DrChrono call. 256 MB arm64, as the webhook floor assumes. Plus the
 * unavoidable log lines (one minimal access-log line per request).
 */
export function writeBackFloorUsage(changes: number): AwsUsage {
  const batches = changes / WRITE_BACK_QUEUE.batchSize;
  return {
    events: changes,
    httpApiRequests: changes,
    lambda: [
      { fn: 'write-api', invocations: changes, billedMs: changes * 50, memoryMb: 256 },
      { fn: 'write-back', invocations: batches, billedMs: batches * 250, memoryMb: 256 },
    ],
    sqsRequests: changes + 2 * batches,
    dynamoDbWriteUnits: changes,
    dynamoDbReadUnits: 0,
    secretsManagerCalls: 0,
    kmsRequests: 0,
    logs: unavoidableLogs(changes, FLOOR_ACCESS_LOG_BYTES),
    xrayTraces: 0,
    logDataProtection: false,
  };
}

const BENCH_BUDGET = 10_000;
const ECHO_EVENTS = ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'];

const memoryOf = (fn: string): number => FUNCTION_SIZING[fn as FunctionName]?.memoryMb ?? 128;

interface Target {
  team: BenchTeam;
  method: 'PATCH';
  path: string;
  body: Record<string, unknown>;
}

async function signedJson(p: BenchPlatform, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = `${p.info.apiBaseUrl}${path}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers = await signRequest(
    { method, url, ...(text === undefined ? {} : { body: text, headers: { 'content-type': 'application/json' } }) },
    { credentials: LOCAL_CREDENTIALS, region: p.info.region },
  );
  delete headers.host;
  const res = await fetch(url, { method, headers, ...(text === undefined ? {} : { body: text }) });
  const raw = await res.text();
  return { status: res.status, body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>) };
}

/**
 * Teams with write-back on, connected, their connect backfill done (the write API needs the records). Each team is
 * its own clinic in production; the sandbox's apps share one practice, so every app's webhook would also get the
 * other teams' writes: the section runs one team.
 */
async function writeBackTeams(p: BenchPlatform, n: number): Promise<BenchTeam[]> {
  await httpJson('POST', `${p.info.apiBaseUrl}/_local/pollers/backfill/resume`, undefined);
  const teams: BenchTeam[] = [];
  for (let i = 0; i < n; i++) {
    const team = await connectTeam(p.info, { writeBack: true });
    // DrChrono's webhooks for our own writes (the echoes) reach the webhook, as they would in production.
    const hooks = `${p.info.sandboxUrl}/_sandbox/apps/${team.clientId}/webhook`;
    await httpJson('PUT', hooks, { callbackUrl: `${p.info.apiBaseUrl}/drchronowebhook/${team.teamId}`, secretToken: team.webhookSecret, events: ECHO_EVENTS, active: true, verboseObjects: true }, 200);
    const verified = await httpJson<{ ok: boolean }>('POST', `${hooks}/verify`, undefined, 200);
    if (!verified.ok) throw new Error('webhook verification failed for a bench team');
    // Measured volume, not the budget, is the subject: a roomy hourly budget on both sides, so no run waits for the next hour.
    await httpJson('PATCH', `${p.info.sandboxUrl}/_sandbox/apps/${team.clientId}`, { hourlyBudget: BENCH_BUDGET }, 200);
    await documentClient().send(
      new UpdateCommand({ TableName: p.info.resources.teamsTable, Key: { pk: team.teamId, sk: 'TEAM' }, UpdateExpression: 'SET apiBudgetPerHour = :b', ExpressionAttributeValues: { ':b': BENCH_BUDGET } }),
    );
    teams.push(team);
  }
  for (const t of teams) {
    const until = Date.now() + 300_000;
    for (;;) {
      const job = await getBackfillJob(documentClient(), p.info.resources.teamsTable, t.teamId);
      if (job?.status === 'completed') break;
      if (Date.now() > until) throw new Error(`backfill of a bench team not completed after 300 s (${job?.status ?? 'no job'})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return teams;
}

/** What each change edits: patients by Chart ID (4 in 5) and appointments by Claim ID, spread over the records. */
async function targets(p: BenchPlatform, teams: readonly BenchTeam[]): Promise<Target[]> {
  const out: Target[] = [];
  for (const team of teams) {
    const patients = (await listRecords(documentClient(), p.info.resources.recordsTable, team.teamId, 'patient', { limit: 200 })).records.filter(
      (r) => !r.deleted && typeof r.fields['Chart ID'] === 'string',
    );
    const appts = (await listRecords(documentClient(), p.info.resources.recordsTable, team.teamId, 'appointment', { limit: 200 })).records.filter((r) => !r.deleted);
    for (const r of patients) out.push({ team, method: 'PATCH', path: `/teams/${team.teamId}/patients/${encodeURIComponent(String(r.fields['Chart ID']))}`, body: {} });
    for (const r of appts.slice(0, Math.ceil(patients.length / 4))) out.push({ team, method: 'PATCH', path: `/teams/${team.teamId}/appointments/${encodeURIComponent(r.drchronoId)}`, body: {} });
  }
  if (out.length === 0) throw new Error('bench teams hold no records to change');
  return out;
}

/** DrChrono's webhook attempts so far for the teams' apps, by event and answer. */
async function webhookAttempts(p: BenchPlatform, teams: readonly BenchTeam[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of teams) {
    const deliveries = await httpJson<{ event: string; attempts: { ok: boolean; status?: number }[] }[]>('GET', `${p.info.sandboxUrl}/_sandbox/deliveries?clientId=${t.clientId}`, undefined, 200);
    for (const d of deliveries) for (const a of d.attempts) out[`${d.event} ${a.status ?? (a.ok ? 'ok' : 'failed')}`] = (out[`${d.event} ${a.status ?? (a.ok ? 'ok' : 'failed')}`] ?? 0) + 1;
  }
  return out;
}

async function runOnce(p: BenchPlatform, teams: readonly BenchTeam[], all: readonly Target[], o: WriteBackOptions, run: number): Promise<WriteBackRun> {
  const attemptsBefore = await webhookAttempts(p, teams);
  for (const t of teams) await resetRateLimit(p.info, t.clientId);
  await p.reset();
  const changeIds: { teamId: string; changeId: string }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < o.changes; i = next++) {
      const t = all[i % all.length]!;
      const body = t.path.includes('/patients/') ? { 'Cell Phone': `(555) 01${run}-${String(i).padStart(4, '0')}` } : { Reason: `bench ${run}.${i}` };
      const res = await signedJson(p, t.method, t.path, body);
      if (res.status === 202 && typeof res.body.changeId === 'string') changeIds.push({ teamId: t.team.teamId, changeId: res.body.changeId });
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  const outcomes: Record<string, number> = {};
  const until = Date.now() + 300_000;
  for (const c of changeIds) {
    for (;;) {
      const item = await getChange(documentClient(), p.info.resources.teamsTable, c.teamId, c.changeId);
      if (item && item.status !== 'pending') {
        outcomes[item.status] = (outcomes[item.status] ?? 0) + 1;
        break;
      }
      if (Date.now() > until) throw new Error('outbound changes still pending after 300 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // The echoes: DrChrono's webhooks for our own writes are part of what a change costs.
  const { waitForDrain } = await import('./cost');
  await waitForDrain(p.info.queueUrls.ingest, 120_000);
  const snap = await p.snapshot();
  const lambda: LambdaUsage[] = snap.invocations
    .filter((i) => i.durationsMs.length > 0)
    .map((i) => ({ fn: i.fn, invocations: i.durationsMs.length, billedMs: i.durationsMs.reduce((s, ms) => s + billedMs(ms), 0), memoryMb: memoryOf(i.fn) }));
  const ops = snap.aws;
  const sum = (pick: (c: OperationCount) => number, where: (c: OperationCount) => boolean = () => true): number => ops.filter(where).reduce((s, c) => s + pick(c), 0);
  const echoDeliveries = lambda.find((l) => l.fn === 'webhook')?.invocations ?? 0;
  const accessLogBytes = o.changes * accessLogLineBytes(WRITE_API_REQUEST) + echoDeliveries * accessLogLineBytes(WEBHOOK_REQUEST);
  const usage: AwsUsage = {
    events: changeIds.length,
    // The app's write requests, and the webhook deliveries of the echoes.
    httpApiRequests: o.changes + echoDeliveries,
    lambda,
    sqsRequests: sum((c) => c.sqsBilledRequests, (c) => c.service === 'sqs' && c.operation !== EMPTY_RECEIVE),
    dynamoDbWriteUnits: sum((c) => c.writeUnits),
    dynamoDbReadUnits: sum((c) => c.readUnits),
    secretsManagerCalls: sum((c) => c.requests, (c) => c.service === 'secretsmanager'),
    kmsRequests: sum((c) => c.requests, (c) => c.service === 'secretsmanager' && c.operation === 'GetSecretValue'),
    // What the handlers printed (the echoes' webhook and sync lines included) and an access-log line per request.
    logs: [...printedLogs(snap.logs.functions), ...unavoidableLogs(o.changes + echoDeliveries, accessLogBytes / Math.max(1, o.changes + echoDeliveries))],
    xrayTraces: fixedRateTraces(lambda.reduce((n, l) => n + l.invocations, 0)),
    logDataProtection: true,
  };
  const lines = costLines(scaleUsage(usage, 1_000_000));
  const floorLines = costLines(writeBackFloorUsage(1_000_000));
  const echoes: Record<string, number> = {};
  for (const [k, n] of Object.entries(await webhookAttempts(p, teams))) if (n - (attemptsBefore[k] ?? 0) > 0) echoes[k] = n - (attemptsBefore[k] ?? 0);
  let drchronoCalls = 0;
  const drchronoByPath: Record<string, number> = {};
  for (const t of teams) {
    const rl = await rateLimit(p.info, t.clientId);
    drchronoCalls += rl.total;
    for (const [path, n] of Object.entries(rl.byPath)) drchronoByPath[path] = (drchronoByPath[path] ?? 0) + n;
  }
  return {
    changes: o.changes,
    accepted: changeIds.length,
    outcomes,
    usage,
    awsOps: ops,
    usd: totalUsd(lines),
    floorUsd: totalUsd(floorLines),
    ratio: totalUsd(lines) / totalUsd(floorLines),
    lines,
    floorLines,
    drchronoCalls,
    drchronoByPath,
    echoes,
    logs: snap.logs,
  };
}

export async function runWriteBackSection(p: BenchPlatform, o: WriteBackOptions, log: (l: string) => void): Promise<WriteBackSection> {
  const teams = await writeBackTeams(p, o.teams);
  const all = await targets(p, teams);
  const runs: WriteBackRun[] = [];
  for (let r = 0; r < o.runs; r++) {
    const run = await runOnce(p, teams, all, o, r);
    log(`  write-back run ${r + 1}/${o.runs}: ${run.accepted}/${run.changes} accepted, ${JSON.stringify(run.outcomes)}, $${run.usd.toFixed(3)}/M vs floor $${run.floorUsd.toFixed(3)}/M, ${(run.drchronoCalls / Math.max(1, run.accepted)).toFixed(2)} DrChrono calls per change; echo attempts ${JSON.stringify(run.echoes)}`);
    runs.push(run);
  }
  const per = (r: WriteBackRun, n: number): number => n / Math.max(1, r.accepted);
  const opKeys = [...new Set(runs.flatMap((r) => r.awsOps.filter((c) => c.operation !== EMPTY_RECEIVE).map((c) => `${c.service}.${c.operation}`)))].sort();
  const requestsPerChange: Record<string, Summary> = {};
  for (const k of opKeys) requestsPerChange[k] = summarizeBy(runs, (r) => per(r, r.awsOps.find((c) => `${c.service}.${c.operation}` === k)?.requests ?? 0));
  const calls = summarizeBy(runs, (r) => per(r, r.drchronoCalls));
  const share = budgetCeiling(DEFAULT_API_BUDGET_PER_HOUR, 'write-back');
  return {
    options: o,
    usdPerMillion: summarizeBy(runs, (r) => r.usd),
    floorUsdPerMillion: runs[0]!.floorUsd,
    ratioToFloor: summarizeBy(runs, (r) => r.ratio),
    drchronoCallsPerChange: calls,
    dynamoDbWriteUnitsPerChange: summarizeBy(runs, (r) => per(r, r.usage.dynamoDbWriteUnits)),
    dynamoDbReadUnitsPerChange: summarizeBy(runs, (r) => per(r, r.usage.dynamoDbReadUnits)),
    sqsRequestsPerChange: summarizeBy(runs, (r) => per(r, r.usage.sqsRequests)),
    requestsPerChange,
    linesPerMillion: runs[0]!.lines.map((l) => ({
      item: l.item,
      quantity: summarizeBy(runs, (r) => r.lines.find((x) => x.item === l.item)?.quantity ?? 0),
      usd: summarizeBy(runs, (r) => r.lines.find((x) => x.item === l.item)?.usd ?? 0),
    })),
    floorLinesPerMillion: runs[0]!.floorLines,
    changesPerTeamHourWithinBudget: calls.median > 0 ? Math.floor(share / calls.median) : null,
    logBytesPerChange: ingestedBytesPerEvent(runs),
    writesByTable: tableWrites(runs),
    fixedMonthly: await fixedMonthly(runs),
    runs,
  };
}
