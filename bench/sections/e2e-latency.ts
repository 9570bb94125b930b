import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import type { SendRecord } from '../load-generator';
import type { BenchPlatform } from '../platform-process';
import type { BenchTeam } from '../sandbox';
import { percentile, summarizeBy, type Summary } from '../stats';
import { materialise, planMix, type Delivery } from '../workload';
import { waitForDrain } from './cost';

/**
 * Section 5: webhook POST → record visible in DynamoDB, at a sustained rate, with the load generator in its own
 * process. Every delivery creates a new patient or appointment, so each has exactly one record; its `syncedAt`
 * (set by the sync worker as it writes the record) minus the send time is the latency.
 */
export interface E2eRun {
  sent: number;
  accepted: number;
  visible: number;
  actualRate: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  webhookP50: number;
  webhookP99: number;
}

export interface E2eSection {
  seconds: number;
  eventsPerSecond: number;
  p50Ms: Summary;
  p95Ms: Summary;
  p99Ms: Summary;
  webhookResponseP50Ms: Summary;
  webhookResponseP99Ms: Summary;
  visibleShare: Summary;
  runs: E2eRun[];
}

export function runGenerator(file: string, apiBaseUrl: string, rate: number): Promise<SendRecord[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-generator.ts', file, apiBaseUrl, String(rate)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { records: SendRecord[] }) => resolve(m.records));
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code} before reporting`)));
  });
}

export async function syncedAtOf(p: BenchPlatform, deliveries: readonly Delivery[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const table = p.info.resources.recordsTable;
  for (let i = 0; i < deliveries.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = deliveries.slice(i, i + 100).map((d) => ({ pk: `${d.teamId}#${d.entity}`, sk: d.objectId }));
    while (keys && keys.length > 0) {
      const res = await documentClient().send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ProjectionExpression: 'pk, sk, syncedAt' } } }),
      );
      for (const item of res.Responses?.[table] ?? []) {
        // Epoch ms on the records table; an ISO string on items written before its compact layout.
        if (typeof item.syncedAt === 'number') out.set(`${item.pk}/${item.sk}`, item.syncedAt);
        else if (typeof item.syncedAt === 'string') out.set(`${item.pk}/${item.sk}`, Date.parse(item.syncedAt));
      }
      keys = res.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return out;
}

async function runOnce(p: BenchPlatform, teams: readonly BenchTeam[], seconds: number, rate: number, run: number): Promise<E2eRun> {
  const events = Math.round(seconds * rate);
  // Creates only: one new record per delivery.
  const plan = planMix({ events, teams: teams.length, seed: 5000 + run, createShare: 1, duplicateShare: 0, outOfOrderShare: 0 });
  const deliveries = await materialise(p.info, teams, plan, `bench-e2e-${Date.now()}-${run}`);
  const dir = mkdtempSync(join(tmpdir(), 'drchrono-bench-e2e-'));
  try {
    const file = join(dir, 'deliveries.json');
    writeFileSync(file, JSON.stringify(deliveries), { mode: 0o600 });
    await waitForDrain(p.info.queueUrls.ingest, 30_000);
    const t0 = Date.now();
    const records = await runGenerator(file, p.info.apiBaseUrl, rate);
    const elapsed = (Math.max(...records.map((r) => r.sentAt)) - t0) / 1000;
    await waitForDrain(p.info.queueUrls.ingest, 120_000);
    const synced = await syncedAtOf(p, deliveries);
    const latencies: number[] = [];
    for (const r of records) {
      const d = deliveries[r.index]!;
      const at = synced.get(`${d.teamId}#${d.entity}/${d.objectId}`);
      if (at !== undefined && r.status === 202) latencies.push(at - r.sentAt);
    }
    const webhook = records.map((r) => r.answeredAt - r.sentAt);
    return {
      sent: records.length,
      accepted: records.filter((r) => r.status === 202).length,
      visible: latencies.length,
      actualRate: records.length / Math.max(elapsed, 1e-3),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
      webhookP50: percentile(webhook, 50),
      webhookP99: percentile(webhook, 99),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runE2eSection(
  p: BenchPlatform,
  teams: readonly BenchTeam[],
  o: { seconds: number; eventsPerSecond: number; runs: number },
  log: (l: string) => void,
): Promise<E2eSection> {
  const runs: E2eRun[] = [];
  for (let r = 0; r < o.runs; r++) {
    const run = await runOnce(p, teams, o.seconds, o.eventsPerSecond, r);
    log(`  e2e run ${r + 1}/${o.runs}: ${run.visible}/${run.sent} visible, p50 ${run.p50.toFixed(0)} ms, p95 ${run.p95.toFixed(0)} ms, p99 ${run.p99.toFixed(0)} ms`);
    runs.push(run);
  }
  return {
    seconds: o.seconds,
    eventsPerSecond: o.eventsPerSecond,
    p50Ms: summarizeBy(runs, (r) => r.p50),
    p95Ms: summarizeBy(runs, (r) => r.p95),
    p99Ms: summarizeBy(runs, (r) => r.p99),
    webhookResponseP50Ms: summarizeBy(runs, (r) => r.webhookP50),
    webhookResponseP99Ms: summarizeBy(runs, (r) => r.webhookP99),
    visibleShare: summarizeBy(runs, (r) => r.visible / r.sent),
    runs,
  };
}
