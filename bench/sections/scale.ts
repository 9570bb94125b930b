import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from '../../shared/aws/clients';
import { DEFAULT_API_BUDGET_PER_HOUR } from '../../shared/budget/api-budget';
import type { PlatformInfo } from '../../local/platform-info';
import { EMPTY_RECEIVE } from '../aws-request-counter';
import type { BenchPlatform } from '../platform-process';
import { httpJson, rateLimit, resetRateLimit, type BenchTeam } from '../sandbox';
import { budgetShares, fairBaseline, planSkewedMix, teamFairness, type FairBaseline, type Fairness, type TeamLatency } from '../scale-mix';
import { writeUnitsByTable } from '../sizing';
import { median, percentile } from '../stats';
import { materialise } from '../workload';
import { waitForDrain } from './cost';
import { runGenerator, syncedAtOf } from './e2e-latency';
import { forEachLimit, seedConnectedTeamWithRetry } from './refresh-sweep';
import { readPracticeLists, seedBackfilledState } from './scale-seed';

/**
 * Issue 14 §3: many teams through the local pipeline at once, with a skewed mix (bench/scale-mix.ts: a few busy
 * clinics, many quiet ones). Teams are seeded directly (as the refresh sweep does), by default with what the
 * connect backfill stores for the sync path (scale-seed.ts: a connected clinic's steady state; `fresh` leaves
 * it out, as for a clinic whose backfill has not run yet), every delivery is a real
 * signed webhook POST sent open loop at a fixed rate by the load generator process, and every object exists in
 * the DrChrono sandbox. Reported: each team's p99 landing time (POST -> record's syncedAt) against the median
 * team's, each team's DrChrono calls as a share of its hourly budget, and the DLQs (which must stay empty).
 */
export interface ScaleOptions {
  teams: number;
  busyTeams: number;
  busyShare: number;
  seconds: number;
  eventsPerSecond: number;
  /**
   * 'backfilled': each team also holds what its connect backfill stores for the sync path (doctors, profile
   * names), as a connected clinic does; 'fresh': nothing, as right after connect before the backfill ran.
   */
  teamState: 'backfilled' | 'fresh';
}

export interface DurationFigures {
  median: number;
  p95: number;
  mean: number;
  count: number;
}

export interface EntityLatency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

export interface DlqCounts {
  ingest: number;
  backfill: number;
  writeBack: number;
}

export interface ScaleSection {
  options: ScaleOptions;
  distribution: string;
  events: number;
  statuses: Record<number, number>;
  landed: number;
  /** Accepted (202) deliveries whose record was not there once the ingest queue drained. */
  notLanded: number;
  drained: boolean;
  actualRate: number;
  fairness: Fairness;
  /** The worst ÷ median ratio the same landing times give when dealt out to the teams at random (scale-mix.ts). */
  fairBaseline: FairBaseline;
  /**
   * Landing throughput ÷ sending throughput: deliveries landed per second from the first send to the last landing,
   * over deliveries sent per second from the first send to the last. Close to 1 when the pipeline kept up with the
   * rate; well below when a backlog grew (the run then measured an overload, not a sustained load).
   */
  keptUpShare: number;
  /** Landing times pooled by group and entity: busy and quiet teams differ in their mix (a quiet team's first delivery is a patient). */
  byEntity: Record<'busy' | 'quiet', Record<'patient' | 'appointment', EntityLatency>>;
  /** The five teams with the highest p99. */
  slowestTeams: TeamLatency[];
  budget: {
    perTeamHour: number;
    medianCalls: number;
    maxCalls: number;
    medianShare: number;
    maxShare: number;
    /** Median calls of the busy teams and of the quiet ones (most calls fill per-team caches once, so they do not scale with time). */
    busyMedianCalls: number;
    quietMedianCalls: number;
  };
  drchronoCallsPerEvent: number;
  /** DrChrono calls by path over all teams, busy and quiet apart. */
  drchronoCallsByPath: { busy: Record<string, number>; quiet: Record<string, number> };
  /** Messages that reached each DLQ during the run (the queue's count after minus before). */
  dlq: DlqCounts;
  /** Ingest messages the sync worker failed (left for retry) during the run. */
  syncFailedMessages: number;
  webhookMs: DurationFigures;
  syncBatchMs: DurationFigures;
  syncInvocations: number;
  eventsPerSyncInvocation: number;
  dynamoDbWriteUnitsPerEvent: number;
  writeUnitsPerEventByTable: Record<string, number>;
  dynamoDbReadUnitsPerEvent: number;
  secretsManagerCallsPerEvent: number;
  setupSeconds: { seed: number; backfillState: number; materialise: number };
}

const SEED_CONCURRENCY = 48;
const COUNTER_CONCURRENCY = 16;
const DRAIN_TIMEOUT_MS = 120_000;
const BASELINE_SEED = 14_031;

function durations(ms: readonly number[] | undefined): DurationFigures {
  if (!ms || ms.length === 0) return { median: 0, p95: 0, mean: 0, count: 0 };
  return { median: median(ms), p95: percentile(ms, 95), mean: ms.reduce((s, v) => s + v, 0) / ms.length, count: ms.length };
}

function entityLatency(ms: readonly number[]): EntityLatency {
  return ms.length === 0 ? { samples: 0, p50Ms: 0, p99Ms: 0 } : { samples: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99) };
}

async function queueDepth(queueUrl: string): Promise<number> {
  const out = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}

async function dlqDepths(info: PlatformInfo): Promise<DlqCounts> {
  return {
    ingest: await queueDepth(info.queueUrls.ingestDlq),
    backfill: await queueDepth(info.queueUrls.backfillDlq),
    writeBack: await queueDepth(info.queueUrls.writeBackDlq),
  };
}

async function syncFailures(info: PlatformInfo): Promise<number> {
  const { pollers } = await httpJson<{ pollers: { fn: string; failed: number }[] }>('GET', `${info.apiBaseUrl}/_local/pollers`, undefined, 200);
  return pollers.find((p) => p.fn === 'sync')?.failed ?? 0;
}

export async function runScaleSection(p: BenchPlatform, o: ScaleOptions, log: (l: string) => void): Promise<ScaleSection> {
  const info = p.info;
  // Direct seeding starts no backfill, and none may run: this section measures webhook deliveries only.
  await httpJson('POST', `${info.apiBaseUrl}/_local/pollers/backfill/pause`, undefined);

  const s0 = performance.now();
  const teams: BenchTeam[] = new Array<BenchTeam>(o.teams);
  await forEachLimit(
    Array.from({ length: o.teams }, (_, i) => i),
    SEED_CONCURRENCY,
    async (i) => void (teams[i] = await seedConnectedTeamWithRetry(info)),
  );
  const seedSeconds = (performance.now() - s0) / 1000;
  const b0 = performance.now();
  if (o.teamState === 'backfilled') {
    const lists = await readPracticeLists(info, teams[0]!);
    await forEachLimit(teams, SEED_CONCURRENCY, (t) => seedBackfilledState(info, t.teamId, lists));
  }
  const backfillSeconds = (performance.now() - b0) / 1000;

  const events = Math.round(o.seconds * o.eventsPerSecond);
  const plan = planSkewedMix({ teams: o.teams, busyTeams: o.busyTeams, busyShare: o.busyShare, events, seed: 14_003 });
  const m0 = performance.now();
  const deliveries = await materialise(info, teams, plan, `bench-scale-${Date.now()}`);
  const materialiseSeconds = (performance.now() - m0) / 1000;
  log(`  scale: ${o.teams} teams seeded in ${seedSeconds.toFixed(1)} s (${o.teamState}${o.teamState === 'backfilled' ? `, backfill state ${backfillSeconds.toFixed(1)} s` : ''}), ${events} objects created in ${materialiseSeconds.toFixed(1)} s`);
  // The seeding's token exchanges are not what is measured.
  await forEachLimit(teams, COUNTER_CONCURRENCY, (t) => resetRateLimit(info, t.clientId));

  const dir = mkdtempSync(join(tmpdir(), 'drchrono-bench-scale-'));
  try {
    const file = join(dir, 'deliveries.json');
    writeFileSync(file, JSON.stringify(deliveries), { mode: 0o600 });
    await waitForDrain(info.queueUrls.ingest, 30_000);
    const dlqBefore = await dlqDepths(info);
    const failedBefore = await syncFailures(info);
    await p.reset();

    const t0 = Date.now();
    const records = await runGenerator(file, info.apiBaseUrl, o.eventsPerSecond);
    const elapsed = (Math.max(...records.map((r) => r.sentAt)) - t0) / 1000;
    const drained = await waitForDrain(info.queueUrls.ingest, DRAIN_TIMEOUT_MS);
    const snap = await p.snapshot();
    const synced = await syncedAtOf(p, deliveries);
    const dlqAfter = await dlqDepths(info);
    const syncFailedMessages = (await syncFailures(info)) - failedBefore;

    const statuses: Record<number, number> = {};
    const samples = new Map<number, number[]>();
    const entitySamples = { busy: { patient: [] as number[], appointment: [] as number[] }, quiet: { patient: [] as number[], appointment: [] as number[] } };
    const landedAt: number[] = [];
    let notLanded = 0;
    for (const r of records) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status !== 202) continue;
      const d = deliveries[r.index]!;
      const at = synced.get(`${d.teamId}#${d.entity}/${d.objectId}`);
      if (at === undefined) {
        notLanded++;
        continue;
      }
      landedAt.push(at);
      const team = plan.mutations[r.index]!.team;
      const list = samples.get(team) ?? [];
      list.push(at - r.sentAt);
      samples.set(team, list);
      entitySamples[team < o.busyTeams ? 'busy' : 'quiet'][d.entity].push(at - r.sentAt);
    }
    const landed = [...samples.values()].reduce((s, l) => s + l.length, 0);
    const firstSent = Math.min(...records.map((r) => r.sentAt));
    const sendSpan = Math.max(1, Math.max(...records.map((r) => r.sentAt)) - firstSent);
    const landSpan = Math.max(1, ...landedAt.map((at) => at - firstSent));
    const keptUpShare = landed / landSpan / (records.length / sendSpan);
    const { fairness, teams: perTeam } = teamFairness(samples, (team) => team < o.busyTeams);
    const baseline = fairBaseline(samples, BASELINE_SEED);

    const calls: number[] = new Array<number>(o.teams).fill(0);
    const byPath = { busy: {} as Record<string, number>, quiet: {} as Record<string, number> };
    await forEachLimit(
      teams.map((t, i) => [t, i] as const),
      COUNTER_CONCURRENCY,
      async ([t, i]) => {
        const rl = await rateLimit(info, t.clientId);
        calls[i] = rl.total;
        const into = i < o.busyTeams ? byPath.busy : byPath.quiet;
        for (const [path, n] of Object.entries(rl.byPath)) into[path] = (into[path] ?? 0) + n;
      },
    );
    const shares = budgetShares(calls, DEFAULT_API_BUDGET_PER_HOUR);
    const runSeconds = Math.max(elapsed, 1e-3);

    const byFn = new Map(snap.invocations.map((i) => [i.fn, i.durationsMs]));
    const ops = snap.aws.filter((c) => c.operation !== EMPTY_RECEIVE);
    const syncInvocations = (byFn.get('sync') ?? []).length;
    return {
      options: o,
      distribution: `${o.busyTeams} busy teams share ${Math.round(o.busyShare * 100)} % of deliveries evenly; the other ${o.teams - o.busyTeams} share the rest evenly; creates only, posting order a seeded shuffle; ${
        o.teamState === 'backfilled'
          ? "teams hold what the connect backfill stores (doctors, appointment profile names): a connected clinic's steady state"
          : 'teams hold nothing the backfill stores (fresh: first deliveries fetch doctors and profiles)'
      }`,
      events: records.length,
      statuses,
      landed,
      notLanded,
      drained,
      actualRate: records.length / runSeconds,
      fairness,
      fairBaseline: baseline,
      byEntity: { busy: { patient: entityLatency(entitySamples.busy.patient), appointment: entityLatency(entitySamples.busy.appointment) }, quiet: { patient: entityLatency(entitySamples.quiet.patient), appointment: entityLatency(entitySamples.quiet.appointment) } },
      keptUpShare,
      slowestTeams: [...perTeam].sort((a, b) => b.p99Ms - a.p99Ms).slice(0, 5),
      budget: {
        perTeamHour: DEFAULT_API_BUDGET_PER_HOUR,
        medianCalls: median(calls),
        maxCalls: Math.max(...calls),
        medianShare: shares.median,
        maxShare: shares.max,
        busyMedianCalls: o.busyTeams > 0 ? median(calls.slice(0, o.busyTeams)) : 0,
        quietMedianCalls: median(calls.slice(o.busyTeams)),
      },
      drchronoCallsPerEvent: calls.reduce((s, c) => s + c, 0) / records.length,
      drchronoCallsByPath: byPath,
      dlq: { ingest: dlqAfter.ingest - dlqBefore.ingest, backfill: dlqAfter.backfill - dlqBefore.backfill, writeBack: dlqAfter.writeBack - dlqBefore.writeBack },
      syncFailedMessages,
      webhookMs: durations(byFn.get('webhook')),
      syncBatchMs: durations(byFn.get('sync')),
      syncInvocations,
      eventsPerSyncInvocation: syncInvocations > 0 ? landed / syncInvocations : 0,
      dynamoDbWriteUnitsPerEvent: ops.reduce((s, c) => s + c.writeUnits, 0) / records.length,
      writeUnitsPerEventByTable: writeUnitsByTable(Object.fromEntries(ops.map((c) => [`${c.service}.${c.operation}`, c.writeUnits / records.length]))),
      dynamoDbReadUnitsPerEvent: ops.reduce((s, c) => s + c.readUnits, 0) / records.length,
      secretsManagerCallsPerEvent: ops.filter((c) => c.service === 'secretsmanager').reduce((s, c) => s + c.requests, 0) / records.length,
      setupSeconds: { seed: seedSeconds, backfillState: backfillSeconds, materialise: materialiseSeconds },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What must hold for the run to count: every delivery accepted and landed, nothing dead-lettered. */
export function scaleFailures(s: ScaleSection): string[] {
  const out: string[] = [];
  const dlq = s.dlq.ingest + s.dlq.backfill + s.dlq.writeBack;
  if (dlq > 0) out.push(`${dlq} message(s) dead-lettered (ingest ${s.dlq.ingest}, backfill ${s.dlq.backfill}, write-back ${s.dlq.writeBack})`);
  const rejected = s.events - (s.statuses[202] ?? 0);
  if (rejected > 0) out.push(`${rejected} deliveries not accepted (statuses ${JSON.stringify(s.statuses)})`);
  if (s.notLanded > 0) out.push(`${s.notLanded} accepted deliveries never landed${s.drained ? '' : ' (the ingest queue did not drain)'}; sync failed ${s.syncFailedMessages} message(s)`);
  return out;
}
