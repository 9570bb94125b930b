import fc from 'fast-check';
import { ConvergenceHarness } from '../convergence/harness';
import { ALL_KINDS, OFF_BY_DEFAULT, parseKindSpec } from '../convergence/kinds';
import { describeOps, opsArbitrary } from '../convergence/operations';
import { platform } from './helpers/platform';

/**
 * "Nothing lost, proven": random DrChrono-side histories with interleaved faults, then the clock moves through
 * the schedules until nothing is pending, and the records table must equal the projection of the sandbox's
 * state; no queued message unaccounted for; every accepted delivery logged. Design: docs/convergence.md.
 *
 * CONVERGENCE_SEED (default fixed, so `npm test` is repeatable), CONVERGENCE_RUNS (default 5),
 * CONVERGENCE_MAX_OPS (default 12), CONVERGENCE_KINDS (e.g. "+patientDelete,-clockJump"; see kinds.ts).
 * A failure prints the seed, the fast-check path and the shrunk operation list.
 */
const seed = Number(process.env.CONVERGENCE_SEED ?? 20261130);
const numRuns = Number(process.env.CONVERGENCE_RUNS ?? 5);
const maxOps = Number(process.env.CONVERGENCE_MAX_OPS ?? 12);
const kinds = parseKindSpec(process.env.CONVERGENCE_KINDS);

let harness: ConvergenceHarness;

beforeAll(() => {
  harness = new ConvergenceHarness(platform());
});

afterAll(async () => {
  await harness.finish();
  harness.close();
  // Later suites share this platform and compute expiries from the real clock.
  await fetch(`${platform().apiBaseUrl}/_local/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reset: true }) });
});

test('after any history of operations and faults, once faults stop and a reconcile period passes, the records equal DrChrono', async () => {
  const off = ALL_KINDS.filter((k) => !kinds.has(k));
  console.log(`convergence: seed ${seed}, ${numRuns} runs of 1-${maxOps} ops; off: ${off.map((k) => `${k} (${OFF_BY_DEFAULT[k] ?? 'CONVERGENCE_KINDS'})`).join('; ') || 'none'}`);
  await fc.assert(
    fc.asyncProperty(opsArbitrary(kinds, maxOps), async (ops) => {
      const r = await harness.runSequence(ops);
      if (r.divergences.length > 0) {
        throw new Error(`${r.divergences.length} divergences:\n${r.divergences.slice(0, 20).map((d) => `  ${JSON.stringify(d)}`).join('\n')}\nops:\n${describeOps(ops)}`);
      }
    }),
    { seed, numRuns, endOnFailure: false, verbose: 1 },
  );
}, 600_000);
