import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { handlerEnvironment } from '../local/platform-info';
import { PRICES } from './prices';
import { FLOOR_ASSUMPTIONS } from './cost-model';
import type { BenchPlatform } from './platform-process';
import { DRCHRONO_HOURLY_BUDGET, SYNC_CONCURRENCY, stageSettings } from '../lib/secure-defaults';
import { INGEST_QUEUE } from '../shared/config/queue-settings';
import { carryOverSections, markdown, sizingTable, type BenchResults, type PreviousResults, type SectionRun } from './report';
import { KEPT_UP_SHARE } from './scale-mix';
import { measuredFromCost, measuredFromScale, sizeStack, type MeasuredCosts, type StackLimits } from './sizing';

/**
 * `npm run bench` (not part of `npm test`): cost per million webhook events and DrChrono calls per event, webhook
 * CPU, cold start, end-to-end latency, the token refresh sweep, outbound changes (write-back) and many teams at scale,
 * each beside its floor, and a sizing table of the deployed stack from the measured figures. Prints Markdown tables
 * and writes bench/results/latest.json.
 *   npm run bench -- --only cost,coldstart     sections: cost, cpu, coldstart, cli, e2e, sweep, writeback, scale
 *   npm run bench -- --quick                   small sizes, for iterating (figures are not for the README)
 * BENCH_E2E_SECONDS (default 60) and BENCH_E2E_RATE (default 10 events/s) size the latency run.
 */
const SECTIONS = ['cpu', 'coldstart', 'cli', 'cost', 'e2e', 'sweep', 'writeback', 'scale'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((s) => !(SECTIONS as readonly string[]).includes(s)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown section(s): ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const wanted = (s: Section): boolean => !only || only.includes(s);
const quick = values.quick;

const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const settings = {
  // BENCH_COST_TEAMS spreads the mix over more teams: per-team-per-batch writes (the integration log) grow with it.
  cost: quick
    ? { events: 300, teams: envNumber('BENCH_COST_TEAMS', 2), runs: 2, inFlight: 2 }
    : { events: 1500, teams: envNumber('BENCH_COST_TEAMS', 4), runs: 3, inFlight: 2 },
  cpu: quick ? { events: 1000, runs: 3 } : { events: 5000, runs: 5 },
  coldstart: { samples: quick ? 5 : 20 },
  cli: { samples: quick ? 5 : 15 },
  e2e: {
    seconds: envNumber('BENCH_E2E_SECONDS', quick ? 10 : 60),
    eventsPerSecond: envNumber('BENCH_E2E_RATE', 10),
    runs: quick ? 1 : 3,
    teams: 4,
  },
  sweep: quick ? [{ teams: 200, runs: 1 }] : [{ teams: 1000, runs: 3 }, { teams: 10_000, runs: 3 }],
  // One team: the sandbox's apps share a practice, so a second team would receive the first one's echoes as changes.
  writeback: quick ? { changes: 40, teams: 1, runs: 1, inFlight: 2 } : { changes: 200, teams: 1, runs: 3, inFlight: 4 },
  // 10 busy clinics take half the deliveries, the other 990 share the rest (one or two each in the full run).
  // Teams hold what their connect backfill stores; BENCH_SCALE_FRESH=1 measures clinics whose backfill has not run.
  scale: {
    ...(quick ? { teams: 100, busyTeams: 5, busyShare: 0.5, seconds: 20, eventsPerSecond: 10 } : { teams: 1000, busyTeams: 10, busyShare: 0.5, seconds: 90, eventsPerSecond: 25 }),
    teamState: process.env.BENCH_SCALE_FRESH === '1' ? ('fresh' as const) : ('backfilled' as const),
  },
};

// This process's own logs (team set-up, the sweep run in-process) are not what is measured.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const log = (line: string): void => console.log(line);
const results: BenchResults = {};
const errors: Record<string, string> = {};
const started = Date.now();

/** One failing section is reported and the others still run; the exit code says something failed. */
async function section(name: Section, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    errors[name] = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log(`  section ${name} failed: ${errors[name]}`);
  }
}

if (wanted('cpu')) {
  await section('cpu', async () => {
    log('webhook CPU per event (fresh process, AWS answered in memory at the HTTP handler)...');
    const { runWebhookCpuSection } = await import('./sections/webhook-cpu');
    results.webhookCpu = await runWebhookCpuSection(settings.cpu);
  });
}
if (wanted('coldstart')) {
  await section('coldstart', async () => {
    log('cold start: bundles as the stack builds them, module init in fresh processes...');
    const { runColdStartSection } = await import('./sections/cold-start');
    results.coldStart = await runColdStartSection(settings.coldstart);
  });
}
if (wanted('cli')) {
  await section('cli', async () => {
    log('operator CLI start: built CLI vs node -e 0, fresh processes...');
    const { runCliStartSection } = await import('./sections/cli-start');
    results.cliStart = await runCliStartSection(settings.cli, log);
  });
}

let platform: BenchPlatform | undefined;
const stop = async (): Promise<void> => {
  await platform?.stop();
  platform = undefined;
};
process.on('SIGINT', () => void stop().then(() => process.exit(130)));
try {
  if (wanted('cost') || wanted('e2e') || wanted('sweep') || wanted('writeback') || wanted('scale')) {
    log('starting the local platform (ephemeral, AWS requests counted)...');
    const { startBenchPlatform } = await import('./platform-process');
    platform = await startBenchPlatform();
    Object.assign(process.env, handlerEnvironment(platform.info), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    log(`  platform log: ${platform.logFile}`);
  }
  const p = platform;
  if (p && wanted('cost')) {
    await section('cost', async () => {
      log('cost per 1M events and DrChrono calls per event...');
      const { runCostSection } = await import('./sections/cost');
      results.cost = await runCostSection(p, settings.cost, log);
    });
  }
  if (p && wanted('e2e')) {
    await section('e2e', async () => {
      log(`end-to-end latency, ${settings.e2e.eventsPerSecond}/s for ${settings.e2e.seconds} s...`);
      const { connectTeams } = await import('./sections/cost');
      const { runE2eSection } = await import('./sections/e2e-latency');
      const { httpJson } = await import('./sandbox');
      await httpJson('POST', `${p.info.apiBaseUrl}/_local/pollers/backfill/pause`, undefined);
      const teams = await connectTeams(p, settings.e2e.teams);
      results.e2e = await runE2eSection(p, teams, settings.e2e, log);
    });
  }
  if (p && wanted('sweep')) {
    await section('sweep', async () => {
      log('token refresh sweep (300 ms token endpoint)...');
      const { runRefreshSweepSection } = await import('./sections/refresh-sweep');
      results.refreshSweep = await runRefreshSweepSection(p.info, settings.sweep, log);
    });
  }
  if (p && wanted('writeback')) {
    await section('writeback', async () => {
      log('outbound changes: cost per 1M changes and DrChrono calls per change...');
      const { runWriteBackSection } = await import('./sections/write-back');
      results.writeBack = await runWriteBackSection(p, settings.writeback, log);
    });
  }
  if (p && wanted('scale')) {
    await section('scale', async () => {
      const o = settings.scale;
      log(`scale: ${o.teams} teams, ${o.busyTeams} of them with ${o.busyShare * 100} % of deliveries, ${o.eventsPerSecond}/s for ${o.seconds} s...`);
      const { runScaleSection, scaleFailures } = await import('./sections/scale');
      const s = await runScaleSection(p, o, log);
      results.scale = s;
      const f = s.fairness;
      log(`  scale: median team p99 ${f.medianTeamP99Ms.toFixed(0)} ms, worst ${f.worstTeamP99Ms.toFixed(0)} ms (×${f.worstToMedianRatio.toFixed(2)}); DLQs ${s.dlq.ingest}/${s.dlq.backfill}/${s.dlq.writeBack}`);
      // The figures stay in the report; the section still fails.
      const failures = scaleFailures(s);
      if (failures.length > 0) throw new Error(failures.join('; '));
    });
  }
} finally {
  await stop();
}

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
const RESULTS_FILE = 'bench/results/latest.json';
const generatedAt = new Date().toISOString();
const thisRun: SectionRun = { generatedAt, commit, mode: quick ? 'quick' : 'full' };
// A `--only` run keeps the other sections' figures from the previous results file, each stamped with its own run.
const previous = only && existsSync(RESULTS_FILE) ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as PreviousResults) : undefined;
const RESULT_KEYS: Record<Section, keyof BenchResults> = { cpu: 'webhookCpu', coldstart: 'coldStart', cli: 'cliStart', cost: 'cost', e2e: 'e2e', sweep: 'refreshSweep', writeback: 'writeBack', scale: 'scale' };
const sectionRuns = carryOverSections(results, SECTIONS.filter(wanted).map((s) => RESULT_KEYS[s]), thisRun, previous);
// The deployed stack's limits, per stage, against whichever measured figures this report holds.
const stackLimits = (['prod', 'dev'] as const).map((stage): StackLimits => {
  const st = stageSettings(stage);
  return { stage, apiRateLimit: st.apiRateLimit, apiBurstLimit: st.apiBurstLimit, webhookConcurrency: st.webhookConcurrency, syncConcurrency: SYNC_CONCURRENCY, batchSize: INGEST_QUEUE.batchSize, drchronoBudgetPerTeamHour: DRCHRONO_HOURLY_BUDGET };
});
// An overloaded scale run's durations are the machine's backlog, not per-invocation costs: no sizing from them.
const scaleKeptUp = results.scale !== undefined && results.scale.keptUpShare >= KEPT_UP_SHARE;
const measured = [results.cost && measuredFromCost(results.cost), scaleKeptUp && results.scale && measuredFromScale(results.scale)].filter((m): m is MeasuredCosts => !!m);
const sizing = measured.flatMap((m) => stackLimits.map((l) => sizeStack(l, m)));
const md = [markdown(results, sectionRuns), ...(sizing.length > 0 ? [sizingTable(sizing)] : [])].join('\n\n');
const output = {
  generatedAt,
  commit,
  mode: quick ? 'quick' : 'full',
  sections: only ?? [...SECTIONS],
  sectionRuns,
  machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
  durationSeconds: Math.round((Date.now() - started) / 1000),
  settings,
  floorAssumptions: FLOOR_ASSUMPTIONS,
  prices: PRICES,
  results,
  sizing,
  errors,
  markdown: md,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(RESULTS_FILE, `${JSON.stringify(output, null, 2)}\n`);
log(`\n${md}\n`);
log(`wrote bench/results/latest.json (${output.durationSeconds} s)`);
if (Object.keys(errors).length > 0) {
  log(`failed sections: ${Object.keys(errors).join(', ')}`);
  process.exitCode = 1;
}
