// Builds the operator CLI ahead of time: cli/main.ts and everything it imports (AWS SDK included), bundled by esbuild
// into ES modules split per command, so `npx drchrono-sync` starts without compiling TypeScript (tsx took 1-2.6 s per
// command) and `--help` loads no command at all. Runs from the `prepare` script (npm install / npm ci) and, in-process,
// from the bin shim (cli/drchrono-sync.mjs) when the build is missing or stale.
//
// Layout: each build goes to its own directory .build/cli/<build id>/ (entry main.mjs plus chunks); the manifest
// .build/cli/manifest.json, replaced atomically last, names the current one and records every input (path, mtime,
// size). The shim stats those inputs before each run and rebuilds if any differs, so an edit to cli/ or shared/ is
// never run from a stale build. A CLI still running from an older build loads its command chunks lazily (a long
// `backfill --wait` or `dlq redrive` too), so a superseded build is kept SUPERSEDED_GRACE_MS after it stopped being
// current, whatever its age.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join('.build', 'cli');
export const MANIFEST_FILE = join(BUILD_DIR, 'manifest.json');
const MANIFEST_VERSION = 2;
/**
 * A build that is no longer current is removed by a later build only once this long has passed since it was
 * superseded (its `.superseded` marker's mtime): a command started from it may still be running and loading chunks.
 */
export const SUPERSEDED_GRACE_MS = 24 * 3600_000;
/** Marks a superseded build directory; its mtime is when the build stopped being current (as far as we know). */
export const SUPERSEDED_MARKER = '.superseded';
/** A build esbuild is writing lives in tmp-<id>/ until complete; one left by a crashed build goes after this. */
const UNFINISHED_GRACE_MS = 3600_000;

/**
 * Files that change the build without being bundled sources: the build itself, compiler settings, and the lockfile
 * npm rewrites on every install (it stands for the bundled packages in node_modules, which are not listed one by one:
 * a few hundred stats would cost more than the check is worth).
 */
const EXTRA_INPUTS = ['cli/build.mjs', 'package.json', 'tsconfig.json', 'node_modules/.package-lock.json'];

/** An input's identity for the staleness check; null when it cannot be trusted (changed while building). */
function stamp(root, path, notAfter) {
  try {
    const s = statSync(join(root, path));
    if (notAfter !== undefined && s.mtimeMs >= notAfter) return null;
    return { mtimeMs: s.mtimeMs, size: s.size };
  } catch {
    return { missing: true };
  }
}

function readManifest(root) {
  try {
    const m = JSON.parse(readFileSync(join(root, MANIFEST_FILE), 'utf8'));
    return m && m.version === MANIFEST_VERSION && Array.isArray(m.inputs) ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The built CLI's path if the build exists and every recorded input still has its recorded mtime and size (or is still
 * missing); undefined if it must be rebuilt. Equality, not "newer than": a checkout that moves a file back in time
 * also changes it.
 */
export function freshBuild(root = ROOT, why = () => {}) {
  const manifest = readManifest(root);
  if (!manifest || typeof manifest.entry !== 'string') return why('no build'), undefined;
  const entry = join(root, BUILD_DIR, manifest.entry);
  if (!existsSync(entry)) return why(`${manifest.entry} is missing`), undefined;
  for (const input of manifest.inputs) {
    const now = stamp(root, input.path);
    if (input.missing ? !now.missing : now.missing || now.mtimeMs !== input.mtimeMs || now.size !== input.size) {
      return why(`${input.path} changed`), undefined;
    }
  }
  return entry;
}

/** The build directory a manifest names (`b-<id>`), or undefined. */
function buildIdOf(manifest) {
  return typeof manifest?.entry === 'string' ? manifest.entry.split('/')[0] : undefined;
}

/** Record that a build stopped being current now (a newer mark wins: the grace period counts from the last one). */
function markSuperseded(root, id, now = Date.now()) {
  try {
    writeFileSync(join(root, BUILD_DIR, id, SUPERSEDED_MARKER), `${new Date(now).toISOString()}\n`);
  } catch {
    // Pruned meanwhile, or the directory is not writable: nothing to protect there.
  }
}

/**
 * Points the manifest at build `id` (a temp file renamed in place: another CLI process may build at the same moment)
 * and returns the build it replaced. A pruner that saw `id` between its rename into b- and this manifest write took
 * it for a superseded build and marked it: the marker goes, or a later pruner would delete the current build once
 * the marker is a day old.
 */
export function makeCurrent(root, id, inputs) {
  const manifest = join(root, MANIFEST_FILE);
  const tmp = `${manifest}.${id}.tmp`;
  const previous = buildIdOf(readManifest(root));
  writeFileSync(tmp, `${JSON.stringify({ version: MANIFEST_VERSION, entry: `${id}/main.mjs`, inputs }, null, 1)}\n`);
  renameSync(tmp, manifest);
  rmSync(join(root, BUILD_DIR, id, SUPERSEDED_MARKER), { force: true });
  return previous;
}

/**
 * Remove builds superseded more than SUPERSEDED_GRACE_MS ago and unfinished ones older than UNFINISHED_GRACE_MS.
 * The current build (the manifest's, read again here: another process may have replaced it) and `keep` stay. A
 * non-current build with no marker (it lost a race between two builders, or predates the markers) is marked now:
 * whoever runs from it has the whole grace period from the moment it was first seen superseded.
 */
export function pruneBuilds(root, keep, now = Date.now()) {
  const dir = join(root, BUILD_DIR);
  const current = buildIdOf(readManifest(root));
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (name.startsWith('tmp-')) {
        if (now - statSync(path).mtimeMs > UNFINISHED_GRACE_MS) rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (!name.startsWith('b-') || name === keep || name === current) continue;
      const marker = join(path, SUPERSEDED_MARKER);
      if (!existsSync(marker)) markSuperseded(root, name, now);
      else if (now - statSync(marker).mtimeMs > SUPERSEDED_GRACE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another build pruned it first.
    }
  }
}

/** Why a build failed, in one line (esbuild's first error; a missing esbuild said plainly). */
export function buildFailure(err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes("'esbuild'")) return 'esbuild is not installed (dev dependencies omitted)';
  const first = err?.errors?.[0]?.text ?? (err instanceof Error ? err.message : String(err));
  return String(first).split('\n')[0];
}

/** Build the CLI into a new build directory and make it current. Resolves with its entry and what went into it. */
export async function buildCli(root = ROOT) {
  const { build } = await import('esbuild');
  // Stat margin: an input modified after this instant may have been read by esbuild before or after the change.
  const started = Date.now() - 50;
  const suffix = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const id = `b-${suffix}`;
  // Written under tmp-<id>/ and renamed once complete: a b-<id>/ directory is always a whole build.
  const workdir = join(root, BUILD_DIR, `tmp-${suffix}`);
  const outdir = join(root, BUILD_DIR, id);
  mkdirSync(join(root, BUILD_DIR), { recursive: true });
  let result;
  try {
    result = await build({
      absWorkingDir: root,
      entryPoints: { main: join(root, 'cli', 'main.ts') },
      bundle: true,
      // One chunk per command module (and per shared dependency): `--help` loads main.mjs only, a command its own.
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: workdir,
      outExtension: { '.js': '.mjs' },
      chunkNames: '[name]-[hash]',
      metafile: true,
      legalComments: 'none',
      logLevel: 'silent',
      // Bundled CommonJS packages (the AWS SDK) call require(); an ES module has none of its own.
      banner: { js: "import { createRequire as __drchronoSyncRequire } from 'node:module'; const require = __drchronoSyncRequire(import.meta.url);" },
    });
  } catch (err) {
    rmSync(workdir, { recursive: true, force: true });
    throw err;
  }
  const sources = Object.keys(result.metafile.inputs)
    .map((p) => relative(root, join(root, p)).split('\\').join('/'))
    .filter((p) => !p.startsWith('node_modules/'));
  const inputs = [...new Set([...sources, ...EXTRA_INPUTS])].sort().map((path) => {
    const s = stamp(root, path, started);
    // Changed while building: record it as unknown, so the next start rebuilds.
    return s === null ? { path, mtimeMs: -1, size: -1 } : { path, ...s };
  });
  if (!existsSync(join(workdir, 'main.mjs'))) throw new Error(`esbuild wrote no ${relative(root, join(workdir, 'main.mjs'))}`);
  renameSync(workdir, outdir);
  const entry = join(outdir, 'main.mjs');
  // Another CLI process may be building at the same moment: each writes its own temp file and renames it in place.
  const previous = makeCurrent(root, id, inputs);
  // The build this one replaces may still be running a command: its grace period starts now.
  if (previous && previous !== id) markSuperseded(root, previous);
  pruneBuilds(root, id);
  const bytes = Object.keys(result.metafile.outputs).reduce((sum, p) => sum + result.metafile.outputs[p].bytes, 0);
  return { entry, inputs: inputs.length, bytes };
}

// `node cli/build.mjs` (the `prepare` script): build and say so in one line. It never fails the install: with
// `npm ci --omit=dev` esbuild (a devDependency) is absent, and a read-only checkout (a container image) cannot be
// written; either way the CLI is then not built, the shim tries again at its first run and, if it still cannot build,
// runs the sources through tsx (a devDependency too) or says what to do.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  try {
    const built = await buildCli();
    console.log(`drchrono-sync CLI built: ${relative(process.cwd(), built.entry)} (${Math.round(built.bytes / 1024)} KB, ${built.inputs} inputs, ${Date.now() - t0} ms)`);
  } catch (err) {
    console.error(`drchrono-sync CLI not built: ${buildFailure(err)}; \`npx drchrono-sync\` tries again at its first run (docs/cli.md)`);
  }
}
