import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

function copyOfProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-shim-'));
  for (const p of ['cli', 'shared']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(dir, f));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function run(dir: string, argv: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, [join(dir, 'cli', 'drchrono-sync.mjs'), ...argv], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DRCHRONO_SYNC_BUILD_LOG: '', ...env },
  });
  if (res.error) throw res.error;
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

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

  it('removes build directories older than ten minutes and keeps recent ones', () => {
    run(dir, ['--help']);
    const old = join(dir, BUILD_DIR, 'b-old');
    const recent = join(dir, BUILD_DIR, 'b-recent');
    mkdirSync(old);
    mkdirSync(recent);
    const elevenMinutesAgo = new Date(Date.now() - 11 * 60_000);
    utimesSync(old, elevenMinutesAgo, elevenMinutesAgo);
    editSameSize(dir, 'cli/main.ts', 'Target: local by default', 'TARGET: local by default');
    expect(run(dir, ['--help']).code).toBe(0);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  }, 120_000);

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
});
