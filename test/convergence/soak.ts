import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import type { PlatformInfo } from '../../local/platform-info';
import { ConvergenceHarness, type SequenceResult } from './harness';
import { ALL_KINDS, OFF_BY_DEFAULT, parseKindSpec } from './kinds';
import { describeOps, opsArbitrary, type Op } from './operations';

/**
 * `npm run soak -- --sequences N --seed S [--max-ops M] [--kinds +a,-b] [--shrink]`
 *
 * Starts its own local platform (ephemeral, random ports), runs N generated sequences one after another (the
 * sandbox has one practice shared by every app, so sequences do not run concurrently), prints a table and
 * writes .local/soak/results-<seed>.json. Sequence i is generated from seed S+i alone, so any failing
 * sequence replays on its own: `CONVERGENCE_SEED=<S+i> CONVERGENCE_RUNS=1 npx jest --config
 * jest.integration.config.cjs convergence` (which also shrinks it), or `--shrink` here.
 */
const ROOT = join(import.meta.dirname, '..', '..');

async function startPlatform(logPath: string): Promise<{ info: PlatformInfo; stop(): void }> {
  const ready = join(ROOT, '.local', 'soak', `ready-${process.pid}.json`);
  rmSync(ready, { force: true });
  const fd = openSync(logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', '--ephemeral', '--ready-file', ready, '--exit-with-parent'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 120_000;
  while (!existsSync(ready)) {
    if (exited !== undefined || Date.now() > deadline) throw new Error(`the local platform did not start; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const info = JSON.parse(readFileSync(ready, 'utf8')) as PlatformInfo;
  rmSync(ready, { force: true });
  return {
    info,
    stop: () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    },
  };
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sequences: { type: 'string', default: '20' },
      seed: { type: 'string' },
      'max-ops': { type: 'string', default: '20' },
      kinds: { type: 'string' },
      shrink: { type: 'boolean', default: false },
    },
  });
  const sequences = Number(values.sequences);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const maxOps = Number(values['max-ops']);
  if (!Number.isInteger(sequences) || sequences < 1 || !Number.isInteger(seed) || !Number.isInteger(maxOps) || maxOps < 1) {
    throw new Error('usage: npm run soak -- --sequences N [--seed S] [--max-ops M] [--kinds +a,-b] [--shrink]');
  }
  const kinds = parseKindSpec(values.kinds ?? process.env.CONVERGENCE_KINDS);
  const arb = opsArbitrary(kinds, maxOps);
  const dir = join(ROOT, '.local', 'soak');
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, `platform-${process.pid}.log`);
  console.log(`soak: seed ${seed}, ${sequences} sequences of 1-${maxOps} ops; kinds off: ${ALL_KINDS.filter((k) => !kinds.has(k)).join(', ') || 'none'}`);
  const platform = await startPlatform(logPath);
  const harness = new ConvergenceHarness(platform.info);
  const started = Date.now();
  const results: (SequenceResult & { seed: number; opList: Op[]; error?: string })[] = [];
  try {
    for (let i = 0; i < sequences; i++) {
      const s = seed + i;
      const [ops] = fc.sample(arb, { seed: s, numRuns: 1 }) as [Op[]];
      try {
        const r = await harness.runSequence(ops);
        results.push({ ...r, seed: s, opList: ops });
        if (r.divergences.length > 0) {
          console.log(`sequence ${i + 1} (seed ${s}): ${r.divergences.length} divergences`);
          console.log(describeOps(ops));
          for (const d of r.divergences.slice(0, 10)) console.log(`    ${JSON.stringify(d)}`);
        }
      } catch (err) {
        const error = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
        results.push({ ops: ops.length, faults: {}, appRequests: {}, appChanges: 0, divergences: [], ms: 0, teamId: '', settledSeconds: 0, seed: s, opList: ops, error });
        console.log(`sequence ${i + 1} (seed ${s}): harness error ${error}`);
      }
      if ((i + 1) % 50 === 0) console.log(`  ... ${i + 1}/${sequences} sequences, ${((Date.now() - started) / (i + 1) / 1000).toFixed(2)} s each`);
    }
    const failing = results.filter((r) => r.divergences.length > 0);
    if (values.shrink && failing[0]) {
      const first = failing[0];
      console.log(`shrinking seed ${first.seed}...`);
      const out = await fc.check(
        fc.asyncProperty(arb, async (ops) => (await harness.runSequence(ops)).divergences.length === 0),
        { seed: first.seed, numRuns: 1 },
      );
      if (out.failed && out.counterexample) {
        console.log(`shrunk (${out.numShrinks} shrinks):\n${describeOps(out.counterexample[0])}`);
        Object.assign(first, { shrunk: out.counterexample[0] });
      }
    }
  } finally {
    await harness.finish().catch(() => undefined);
    harness.close();
    platform.stop();
  }

  const totalMs = Date.now() - started;
  const faults: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + n;
  const operationsByKind: Record<string, number> = {};
  for (const r of results) for (const op of r.opList) if (!(op.k in faults)) operationsByKind[op.k] = (operationsByKind[op.k] ?? 0) + 1;
  const appRequests: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.appRequests)) appRequests[k] = (appRequests[k] ?? 0) + n;
  const divergent = results.filter((r) => r.divergences.length > 0);
  const errors = results.filter((r) => r.error);
  const summary = {
    seed,
    sequences: results.length,
    operations: results.reduce((n, r) => n + r.ops, 0),
    operationsByKind,
    faultsByKind: faults,
    appRequests,
    appChangesAccepted: results.reduce((n, r) => n + r.appChanges, 0),
    divergentSequences: divergent.length,
    divergences: divergent.reduce((n, r) => n + r.divergences.length, 0),
    harnessErrors: errors.length,
    totalSeconds: totalMs / 1000,
    secondsPerSequence: totalMs / 1000 / Math.max(1, results.length),
    kindsOff: Object.fromEntries(ALL_KINDS.filter((k) => !kinds.has(k)).map((k) => [k, OFF_BY_DEFAULT[k] ?? 'switched off for this run'])),
  };
  console.log('');
  console.log('| measure | value |');
  console.log('| --- | ---: |');
  console.log(`| sequences | ${summary.sequences} |`);
  console.log(`| operations | ${summary.operations} |`);
  for (const [k, n] of Object.entries(operationsByKind).sort()) console.log(`| operations: ${k} | ${n} |`);
  for (const [k, n] of Object.entries(faults).sort()) console.log(`| faults: ${k} | ${n} |`);
  for (const [k, n] of Object.entries(appRequests).sort()) console.log(`| app requests: ${k} | ${n} |`);
  console.log(`| app changes accepted | ${summary.appChangesAccepted} |`);
  console.log(`| divergent sequences | ${summary.divergentSequences} |`);
  console.log(`| divergences | ${summary.divergences} |`);
  console.log(`| harness errors | ${summary.harnessErrors} |`);
  console.log(`| time | ${pad(summary.totalSeconds.toFixed(1), 1)} s (${summary.secondsPerSequence.toFixed(2)} s per sequence) |`);
  const file = join(dir, `results-${seed}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ summary, failures: divergent.concat(errors).map((r) => ({ seed: r.seed, ops: r.opList, shrunk: (r as { shrunk?: Op[] }).shrunk, divergences: r.divergences, error: r.error })) }, null, 2)}\n`,
  );
  console.log(`results: ${file}`);
  process.exitCode = divergent.length > 0 || errors.length > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
