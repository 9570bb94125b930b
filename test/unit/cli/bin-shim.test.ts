import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { USAGE } from '../../../cli/main';

/**
 * The bin shim (cli/drchrono-sync.mjs) runs the CLI built ahead by cli/build.mjs and must never run a stale build.
 * Each test works on a temp copy of the sources the CLI is built from (node_modules linked), so edits and mtimes
 * are the test's own; mtimes are set with utimesSync, never waited for.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const BUILD_DIR = join('.build', 'cli');

interface Manifest {
  entry: string;
  inputs: { path: string; mtimeMs: number; size: number }[];
}

/** Dev dependencies the CLI can start with: esbuild builds it, tsx runs its sources. */
const DEV_TOOLS = ['esbuild', '@esbuild', 'tsx', '.bin'];

/** `withoutDevTools`: node_modules as after `npm ci --omit=dev` as far as the shim can tell (no esbuild, no tsx). */
function copyOfProject(opts: { withoutDevTools?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-shim-'));
  for (const p of ['cli', 'shared']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(dir, f));
  if (opts.withoutDevTools) {
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (!DEV_TOOLS.includes(name)) symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
  } else {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  }
  return dir;
}

function spawnNode(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, extra: SpawnSyncOptions = {}) {
  const res = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DRCHRONO_SYNC_BUILD_LOG: '', ...env },
    ...extra,
  });
  if (res.error) throw res.error;
  return { code: res.status, stdout: String(res.stdout), stderr: String(res.stderr) };
}

function run(dir: string, argv: string[], env: NodeJS.ProcessEnv = {}, extra: SpawnSyncOptions = {}) {
  return spawnNode(dir, [join(dir, 'cli', 'drchrono-sync.mjs'), ...argv], env, extra);
}

/**
 * Root may write anywhere whatever the mode bits, so as root the read-only checkout is tested as `nobody`
 * (uid/gid 65534), for whom chmod does deny; any other user is denied as itself.
 */
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const UNPRIVILEGED: SpawnSyncOptions = IS_ROOT ? { uid: 65534, gid: 65534 } : {};
/** As root: whether `nobody` can be run here and can read this checkout's node_modules (a clone under /root cannot). */
const CAN_RUN_UNPRIVILEGED =
  !IS_ROOT ||
  spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(ROOT, 'node_modules', 'tsx', 'package.json'))})`], { ...UNPRIVILEGED, stdio: 'ignore' }).status === 0;
const READ_ONLY_HOW = !IS_ROOT ? 'as this user' : CAN_RUN_UNPRIVILEGED ? 'run as nobody: chmod does not deny root' : 'SKIPPED: root, where chmod cannot deny, and nobody cannot read this checkout';

/** Mark a build superseded at `when` (the marker cli/build.mjs writes), or age a build directory. */
function setMtime(path: string, when: Date): void {
  utimesSync(path, when, when);
}
const HOUR = 3600_000;

const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, BUILD_DIR, 'manifest.json'), 'utf8')) as Manifest;
const builds = (dir: string): string[] => readdirSync(join(dir, BUILD_DIR)).filter((n) => n.startsWith('b-')).sort();

/** Replace text in a copied source, keeping its size, and give it an mtime that is not the recorded one. */
function editSameSize(dir: string, file: string, from: string, to: string): void {
  expect(to).toHaveLength(from.length);
  const path = join(dir, file);
  const recorded = manifestOf(dir).inputs.find((i) => i.path === file);
  expect(recorded).toBeDefined();
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
  const later = new Date(recorded!.mtimeMs + 10_000);
  utimesSync(path, later, later);
}

describe('drchrono-sync bin shim', () => {
  let dir: string;

  beforeAll(() => {
    dir = copyOfProject();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds on demand when there is no build, and runs it', () => {
    expect(existsSync(join(dir, '.build'))).toBe(false);
    const res = run(dir, ['--help']);
    expect(res).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '' });
    const manifest = manifestOf(dir);
    expect(existsSync(join(dir, BUILD_DIR, manifest.entry))).toBe(true);
    expect(manifest.inputs.map((i) => i.path)).toEqual(expect.arrayContaining(['cli/main.ts', 'cli/context.ts', 'cli/commands/team.ts', 'shared/teams/team-id.ts', 'cli/build.mjs']));
  }, 120_000);

  it('passes the exit code through: 0 for help, 2 for usage, 1 for a failure', () => {
    expect(run(dir, ['help']).code).toBe(0);
    const usage = run(dir, []);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe(`${USAGE}\n`);
    const failed = run(dir, ['team', 'list', '--platform-file', join(dir, 'no-platform.json')]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the local platform is not running');
  }, 120_000);

  it('reuses a fresh build instead of rebuilding', () => {
    run(dir, ['--help']);
    const before = { manifest: readFileSync(join(dir, BUILD_DIR, 'manifest.json'), 'utf8'), builds: builds(dir) };
    expect(run(dir, ['--help']).code).toBe(0);
    expect({ manifest: readFileSync(join(dir, BUILD_DIR, 'manifest.json'), 'utf8'), builds: builds(dir) }).toEqual(before);
  }, 120_000);

  it('rebuilds when a source is newer than the build, even if its size did not change', () => {
    run(dir, ['--help']);
    editSameSize(dir, 'cli/main.ts', '\nCommands:\n', '\nCOMMANDS:\n');
    const res = run(dir, ['--help'], { DRCHRONO_SYNC_BUILD_LOG: '1' });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('\nCOMMANDS:\n');
    expect(res.stderr).toBe('drchrono-sync: rebuilding: cli/main.ts changed\n');
  }, 120_000);

  it('rebuilds when a shared/ source changed size, even with its recorded mtime restored', () => {
    const file = 'shared/teams/team-id.ts';
    const path = join(dir, file);
    // A whole-second mtime, recorded by a build, so that it can be restored exactly (a Date has no sub-ms part).
    const mtime = new Date('2026-01-01T00:00:00Z');
    utimesSync(path, mtime, mtime);
    run(dir, ['--help']);
    expect(manifestOf(dir).inputs.find((i) => i.path === file)!.mtimeMs).toBe(mtime.getTime());
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('team id must be a UUID');
    writeFileSync(path, text.replace('team id must be a UUID', 'team id must be a valid UUID'));
    utimesSync(path, mtime, mtime);
    expect(statSync(path).mtimeMs).toBe(mtime.getTime());
    const before = manifestOf(dir).entry;
    expect(run(dir, ['--help']).code).toBe(0);
    const after = manifestOf(dir);
    expect(after.entry).not.toBe(before);
    expect(after.inputs.find((i) => i.path === file)!.size).toBe(statSync(path).size);
  }, 120_000);

  it('keeps the build it supersedes, however old, and marks it superseded (a running command may still load its chunks)', () => {
    run(dir, ['--help']);
    const superseded = manifestOf(dir).entry.split('/')[0]!;
    const path = join(dir, BUILD_DIR, superseded);
    // Built two days ago and current until now: a `backfill --wait` started from it is still loading chunks.
    setMtime(path, new Date(Date.now() - 48 * HOUR));
    for (const f of readdirSync(path)) setMtime(join(path, f), new Date(Date.now() - 48 * HOUR));
    editSameSize(dir, 'cli/main.ts', 'Target: local by default', 'TARGET: local by default');
    expect(run(dir, ['--help']).code).toBe(0);
    expect(manifestOf(dir).entry.split('/')[0]).not.toBe(superseded);
    expect(existsSync(join(path, 'main.mjs'))).toBe(true);
    expect(Date.now() - statSync(join(path, '.superseded')).mtimeMs).toBeLessThan(HOUR);
  }, 120_000);

  it('removes builds superseded more than a day ago; an unmarked old one is marked, not removed; stale unfinished ones go', () => {
    run(dir, ['--help']);
    const long = join(dir, BUILD_DIR, 'b-superseded-long-ago');
    const recent = join(dir, BUILD_DIR, 'b-superseded-an-hour-ago');
    const unmarked = join(dir, BUILD_DIR, 'b-unmarked');
    const unfinished = join(dir, BUILD_DIR, 'tmp-crashed');
    const writing = join(dir, BUILD_DIR, 'tmp-writing');
    for (const p of [long, recent, unmarked, unfinished, writing]) mkdirSync(p);
    writeFileSync(join(long, '.superseded'), '');
    setMtime(join(long, '.superseded'), new Date(Date.now() - 25 * HOUR));
    writeFileSync(join(recent, '.superseded'), '');
    setMtime(join(recent, '.superseded'), new Date(Date.now() - HOUR));
    for (const p of [long, recent, unmarked, unfinished]) setMtime(p, new Date(Date.now() - 30 * 24 * HOUR));
    editSameSize(dir, 'cli/main.ts', 'TARGET: local by default', 'Target: local by default');
    expect(run(dir, ['--help']).code).toBe(0);
    expect(existsSync(long)).toBe(false);
    expect(existsSync(unfinished)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(writing)).toBe(true);
    expect(existsSync(unmarked)).toBe(true);
    expect(Date.now() - statSync(join(unmarked, '.superseded')).mtimeMs).toBeLessThan(HOUR);
  }, 120_000);

  it('a build that becomes current loses a superseded marker a racing pruner left on it, so no later prune deletes it', () => {
    // Pruner P saw b-x between its rename into b- and its manifest write, took it for superseded and marked it; a
    // day later builder C makes itself current and, before C marks b-x afresh, another pruner runs.
    const root = mkdtempSync(join(tmpdir(), 'cli-prune-'));
    const x = join(root, BUILD_DIR, 'b-x');
    mkdirSync(x, { recursive: true });
    mkdirSync(join(root, BUILD_DIR, 'b-c'));
    writeFileSync(join(x, '.superseded'), '');
    setMtime(join(x, '.superseded'), new Date(Date.now() - 25 * HOUR));
    const script = `
      import { makeCurrent, pruneBuilds } from ${JSON.stringify(join(ROOT, 'cli', 'build.mjs'))};
      const [root, step] = process.argv.slice(1);
      if (step === 'x') makeCurrent(root, 'b-x', []);
      else { makeCurrent(root, 'b-c', []); pruneBuilds(root, 'b-c'); }
    `;
    const node = (step: string) => spawnSync(process.execPath, ['--input-type=module', '-e', script, root, step], { encoding: 'utf8' });
    expect(node('x').status).toBe(0);
    expect(existsSync(join(x, '.superseded'))).toBe(false);
    expect(node('c').status).toBe(0);
    expect(existsSync(x)).toBe(true);
    rmSync(root, { recursive: true, force: true });
  });

  it('runs the sources through tsx when it cannot build', () => {
    const copy = copyOfProject();
    try {
      // A file where the build directory should be: the build cannot write.
      writeFileSync(join(copy, '.build'), '');
      const res = run(copy, ['--help']);
      expect(res).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '' });
      expect(statSync(join(copy, '.build')).isFile()).toBe(true);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);

  it('says in one line what to do when it cannot build and tsx is not installed (npm ci --omit=dev), exit 1', () => {
    const copy = copyOfProject({ withoutDevTools: true });
    try {
      const res = run(copy, ['--help']);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.split('\n')).toEqual([expect.stringMatching(/^drchrono-sync: cannot start: the CLI is not built \(esbuild is not installed.*\) and tsx is not installed to run its sources \(both are dev dependencies\): run `npm ci` without --omit=dev/), '']);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);

  it('prepare (node cli/build.mjs) exits 0 with one line when esbuild is not installed', () => {
    const copy = copyOfProject({ withoutDevTools: true });
    try {
      const res = spawnNode(copy, [join(copy, 'cli', 'build.mjs')]);
      expect(res).toEqual({ code: 0, stdout: '', stderr: expect.stringMatching(/^drchrono-sync CLI not built: esbuild is not installed[^\n]*\n$/) });
      expect(existsSync(join(copy, '.build'))).toBe(false);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);

  (CAN_RUN_UNPRIVILEGED ? it : it.skip)(`prepare does not fail on a read-only checkout, and the CLI then runs through tsx (${READ_ONLY_HOW})`, () => {
    const copy = copyOfProject();
    const home = mkdtempSync(join(tmpdir(), 'cli-shim-home-'));
    chmodSync(home, 0o777);
    // Readable and searchable by everyone (mkdtemp makes it 0700), writable by no one: a container image's checkout.
    chmodSync(copy, 0o555);
    try {
      const env = { HOME: home, TMPDIR: home };
      const prepare = spawnNode(copy, [join(copy, 'cli', 'build.mjs')], env, UNPRIVILEGED);
      expect(prepare.code).toBe(0);
      expect(prepare.stdout).toBe('');
      expect(prepare.stderr).toMatch(/^drchrono-sync CLI not built: [^\n]*(EACCES|permission denied)[^\n]*\n$/i);
      expect(existsSync(join(copy, '.build'))).toBe(false);
      const res = run(copy, ['--help'], env, UNPRIVILEGED);
      expect(res).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '' });
    } finally {
      chmodSync(copy, 0o755);
      rmSync(copy, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);
});
