// Builds the operator CLI ahead of time: cli/main.ts and everything it imports (AWS SDK included), bundled by esbuild
// into ES modules split per command, so `npx drchrono-sync` starts without compiling TypeScript (tsx took 1-2.6 s per
// command) and `--help` loads no command at all. Runs from the `prepare` script (npm install / npm ci) and, in-process,
// from the bin shim (cli/drchrono-sync.mjs) when the build is missing or stale.
//
// Layout: each build goes to its own directory .build/cli/<build id>/ (entry main.mjs plus chunks); the manifest
// .build/cli/manifest.json, replaced atomically last, names the current one and records every input (path, mtime,
// size). The shim stats those inputs before each run and rebuilds if any differs, so an edit to cli/ or shared/ is
// never run from a stale build. A CLI still running from an older build keeps its directory for BUILD_RETENTION_MS.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join('.build', 'cli');
export const MANIFEST_FILE = join(BUILD_DIR, 'manifest.json');
const MANIFEST_VERSION = 2;
/** Older build directories are removed by a later build once they are this old (commands load their chunks at start). */
const BUILD_RETENTION_MS = 10 * 60_000;

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

/** Remove build directories other than `keep` that are older than BUILD_RETENTION_MS. */
function pruneBuilds(root, keep) {
  const dir = join(root, BUILD_DIR);
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('b-') || name === keep) continue;
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs > BUILD_RETENTION_MS) rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // Another build pruned it first.
    }
  }
}

/** Build the CLI into a new build directory and make it current. Resolves with its entry and what went into it. */
export async function buildCli(root = ROOT) {
  const { build } = await import('esbuild');
  // Stat margin: an input modified after this instant may have been read by esbuild before or after the change.
  const started = Date.now() - 50;
  const id = `b-${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const outdir = join(root, BUILD_DIR, id);
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: join(root, 'cli', 'main.ts') },
    bundle: true,
    // One chunk per command module (and per shared dependency): `--help` loads main.mjs only, a command its own.
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // Bundled CommonJS packages (the AWS SDK) call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __drchronoSyncRequire } from 'node:module'; const require = __drchronoSyncRequire(import.meta.url);" },
  });
  const sources = Object.keys(result.metafile.inputs)
    .map((p) => relative(root, join(root, p)).split('\\').join('/'))
    .filter((p) => !p.startsWith('node_modules/'));
  const inputs = [...new Set([...sources, ...EXTRA_INPUTS])].sort().map((path) => {
    const s = stamp(root, path, started);
    // Changed while building: record it as unknown, so the next start rebuilds.
    return s === null ? { path, mtimeMs: -1, size: -1 } : { path, ...s };
  });
  const entry = join(outdir, 'main.mjs');
  if (!existsSync(entry)) throw new Error(`esbuild wrote no ${relative(root, entry)}`);
  // Another CLI process may be building at the same moment: each writes its own temp file and renames it in place.
  const manifest = join(root, MANIFEST_FILE);
  const tmp = `${manifest}.${id}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: MANIFEST_VERSION, entry: `${id}/main.mjs`, inputs }, null, 1)}\n`);
  renameSync(tmp, manifest);
  pruneBuilds(root, id);
  const bytes = Object.keys(result.metafile.outputs).reduce((sum, p) => sum + result.metafile.outputs[p].bytes, 0);
  return { entry, inputs: inputs.length, bytes };
}

// `node cli/build.mjs` (the `prepare` script): build and say so in one line. npm runs `prepare` even with
// --omit=dev, where esbuild (a devDependency) is absent: that install still succeeds, and the shim falls back to tsx.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  try {
    const built = await buildCli();
    console.log(`drchrono-sync CLI built: ${relative(process.cwd(), built.entry)} (${Math.round(built.bytes / 1024)} KB, ${built.inputs} inputs, ${Date.now() - t0} ms)`);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes("'esbuild'")) throw err;
    console.log('drchrono-sync CLI not built: esbuild is not installed (dev dependencies omitted)');
  }
}
