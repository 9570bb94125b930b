import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, freshBuild, MANIFEST_FILE, ROOT } from '../../cli/build.mjs';
import { summarize, type Summary } from '../stats';

/**
 * Section `cli`: how long `npx drchrono-sync` takes to start, as wall time of fresh processes beside `node -e 0`
 * (the floor: Node itself). Runs are interleaved (one of each case per round) so machine load hits every case alike.
 * No platform is needed: `--help` loads no command, and the command case builds the whole local context (AWS SDK
 * clients included) from a platform file and then stops at argument validation, before any request.
 */
export interface CliStartCase {
  name: string;
  argv: string[];
  exitCode: number;
  wallMs: Summary;
  /** Median over the floor's median. */
  ratioToFloor: number;
}

export interface CliStartSection {
  samples: number;
  nodeVersion: string;
  floorMs: Summary;
  cases: CliStartCase[];
  /** The shim's staleness check (stat every recorded input) as the shim runs it: once, in a fresh process. */
  checkWallMs: Summary;
  /** The same in CPU time (user + system), steadier than wall time on a loaded machine. */
  checkCpuMs: Summary;
  inputs: number;
  /** A full rebuild in this process, what the shim pays once after an edit. */
  rebuildMs: number;
}

const SHIM = join(ROOT, 'cli', 'drchrono-sync.mjs');

/** A complete local platform file whose endpoints nothing listens on: the command must fail before using them. */
function platformFile(dir: string): string {
  const none = 'http://127.0.0.1:9';
  const file = join(dir, 'platform.json');
  writeFileSync(
    file,
    JSON.stringify({
      stage: 'bench',
      region: 'us-east-1',
      apiBaseUrl: none,
      endpoints: { dynamodb: none, sqs: none, secretsManager: none },
      resources: { teamsTable: 't', recordsTable: 'r', integrationLogTable: 'l', teamSecretPrefix: 'p/' },
      queueUrls: { ingest: `${none}/ingest`, backfill: `${none}/backfill` },
    }),
  );
  return file;
}

function wall(argv: string[]): { ms: number; code: number | null } {
  const t0 = performance.now();
  const res = spawnSync(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (res.error) throw res.error;
  return { ms, code: res.status };
}

const CHECK_SCRIPT = `
const { pathToFileURL } = await import('node:url');
const m = await import(pathToFileURL(process.env.CLI_BUILD_MODULE).href);
const t = performance.now();
const c = process.cpuUsage();
if (!m.freshBuild()) throw new Error('the CLI build is stale');
const cpu = process.cpuUsage(c);
console.log(JSON.stringify({ wall: performance.now() - t, cpu: (cpu.user + cpu.system) / 1000 }));
`;

export async function runCliStartSection(opts: { samples: number }, log: (line: string) => void): Promise<CliStartSection> {
  const t0 = performance.now();
  await buildCli(ROOT);
  const rebuildMs = performance.now() - t0;
  if (!freshBuild(ROOT)) throw new Error('the CLI build is stale right after building it');
  const dir = mkdtempSync(join(tmpdir(), 'cli-start-'));
  try {
    const file = platformFile(dir);
    const cases: Omit<CliStartCase, 'wallMs' | 'ratioToFloor'>[] = [
      { name: '`drchrono-sync --help`', argv: [SHIM, '--help'], exitCode: 0 },
      { name: '`drchrono-sync team show <bad id>` (context and SDK clients built, no request)', argv: [SHIM, 'team', 'show', 'not-a-uuid', '--platform-file', file], exitCode: 2 },
      { name: '`tsx cli/main.ts --help` (before: TypeScript compiled at run time)', argv: [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'cli', 'main.ts'), '--help'], exitCode: 0 },
    ];
    const floor: number[] = [];
    const times = cases.map(() => [] as number[]);
    // One warm-up round (file cache), not counted.
    for (let round = -1; round < opts.samples; round++) {
      const f = wall(['-e', '0']);
      if (round >= 0) floor.push(f.ms);
      cases.forEach((c, i) => {
        const r = wall(c.argv);
        if (r.code !== c.exitCode) throw new Error(`${c.name} exited ${r.code}, expected ${c.exitCode}`);
        if (round >= 0) times[i]!.push(r.ms);
      });
    }
    const floorMs = summarize(floor);
    const checks = Array.from({ length: opts.samples }, () => {
      const res = spawnSync(process.execPath, ['--input-type=module', '-e', CHECK_SCRIPT], {
        cwd: ROOT,
        encoding: 'utf8',
        // Not as an argument: build.mjs builds when it is process.argv[1].
        env: { ...process.env, CLI_BUILD_MODULE: join(ROOT, 'cli', 'build.mjs') },
      });
      if (res.status !== 0) throw new Error(`staleness check failed: ${res.stderr}`);
      return JSON.parse(res.stdout) as { wall: number; cpu: number };
    });
    const section: CliStartSection = {
      samples: opts.samples,
      nodeVersion: process.version,
      floorMs,
      cases: cases.map((c, i) => {
        const wallMs = summarize(times[i]!);
        return { ...c, argv: c.argv.map((a) => (a.startsWith(ROOT) ? a.slice(ROOT.length + 1) : a === file ? '<platform file>' : a)), wallMs, ratioToFloor: wallMs.median / floorMs.median };
      }),
      checkWallMs: summarize(checks.map((c) => c.wall)),
      checkCpuMs: summarize(checks.map((c) => c.cpu)),
      inputs: (JSON.parse(readFileSync(join(ROOT, MANIFEST_FILE), 'utf8')) as { inputs: unknown[] }).inputs.length,
      rebuildMs,
    };
    for (const c of section.cases) log(`  ${c.name}: median ${c.wallMs.median.toFixed(0)} ms (node -e 0: ${floorMs.median.toFixed(0)} ms)`);
    return section;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
