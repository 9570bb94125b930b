import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_ALIASES, BUNDLING } from '../../lib/secure-defaults';
import { summarize, type Summary } from '../stats';

/**
 * Section 4: each function's bundle as the stack builds it (NodejsFunction's esbuild arguments with lib/'s
 * BUNDLING options), its size, and module init time in fresh processes, beside a floor bundle that imports only
 * the AWS SDK clients the function's bundle contains.
 */
export interface BundleFigures {
  bytes: number;
  deflatedBytes: number;
  initMs: Summary;
}

export interface ColdStartFunction {
  fn: string;
  sdkPackages: string[];
  bundle: BundleFigures;
  floor: BundleFigures;
  sizeRatio: number;
  initRatio: number;
  /** Largest contributors to the bundle, by package, in bytes of output. */
  topPackages: { pkg: string; bytes: number }[];
  /** Issue #14's targets for this function: bundle size and module init, as ratios to the floor. */
  target?: { size: number; init: number };
  /**
   * What the bundle carries beyond the floor, by package (bundle bytes minus the floor's bytes of the same
   * package), largest first; `(project)` is our own code.
   */
  overFloor?: { pkg: string; bytes: number }[];
  /** Code in the bundle that module init leaves unevaluated: what its first use costs a container, in ms. */
  deferred?: { label: string; ms: Summary }[];
  /** INIT_BREAKDOWN functions: parts of the bundle, each added alone to the floor, and the init ratio it gives. */
  initParts?: InitPart[];
}

/** One part of a function's bundle, bundled with the floor's SDK clients and nothing else. */
export interface InitPart {
  label: string;
  /** Project modules in the part. */
  modules: string[];
  /** Bytes the part adds to the floor's bundle. */
  bytesOverFloor: number;
  /**
   * The same modules' bytes in the function's own bundle. A part exports every module whole, so it can carry (and
   * evaluate) more of them than the function, whose bundle drops what it does not use: its ratio is an upper bound.
   */
  bytesInFunction?: number;
  bytesInPart?: number;
  initMs: Summary;
  /** The floor's init, sampled alternately with the part's (its own samples, not the function's). */
  floorInitMs: Summary;
  initRatio: number;
}

/**
 * Functions whose init the section takes apart (issue #14 gives the hot ones ×1.2): what the validation the
 * first message needs costs alone, and what code carried but evaluated only on first use costs alone.
 */
export const INIT_BREAKDOWN = ['sync'];

/**
 * Code a function's bundle carries but evaluates on first use (a dynamic `import()` behind a load-once loader)
 * rather than at module init. Timed on its own, so that the init figure does not hide the cost it moved.
 */
export interface DeferredLoad {
  label: string;
  /** The module that exports the loader, from the repo root. */
  module: string;
  /** The loader: `() => Promise<unknown>`, run once per container. */
  loader: string;
}

export const DEFERRED_LOADS: Record<string, DeferredLoad[]> = {
  sync: [{ label: 'DrChrono client + axios (first DrChrono call in a container)', module: 'shared/drchrono/deferred-client.ts', loader: 'loadDrChronoClientModule' }],
};

/** Hot paths (every webhook event) get the tight targets; the rest run rarely or in the background. */
export const COLD_START_TARGETS: Record<string, { size: number; init: number }> = {
  webhook: { size: 1.3, init: 1.2 },
  sync: { size: 1.3, init: 1.2 },
};
export const DEFAULT_COLD_START_TARGET = { size: 1.6, init: 1.6 };

export interface ColdStartSection {
  samples: number;
  nodeVersion: string;
  functions: ColdStartFunction[];
}

const FUNCTIONS_DIR = 'functions';
/** Packages whose clients a floor bundle imports, with the class to import. */
const SDK_CLIENTS: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/lib-dynamodb': 'DynamoDBDocumentClient',
  '@aws-sdk/client-sqs': 'SQSClient',
  '@aws-sdk/client-secrets-manager': 'SecretsManagerClient',
};

/**
 * Same arguments NodejsFunction passes to esbuild (aws-cdk-lib/aws-lambda-nodejs bundling.js) for our BUNDLING.
 * `plugins` is for tests that mark modules to see when they are evaluated; the stack passes none.
 */
export async function bundle(entry: string, outfile: string, plugins: Plugin[] = []): Promise<Metafile> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: BUNDLING.target ?? 'node22',
    format: BUNDLING.format === 'esm' ? 'esm' : 'cjs',
    minify: BUNDLING.minify ?? false,
    sourcemap: BUNDLING.sourceMap ?? false,
    // bundleAwsSDK: true → no externals at all.
    external: BUNDLING.bundleAwsSDK ? [] : ['@aws-sdk/*'],
    // BUNDLING.esbuildArgs['--alias'], as NodejsFunction passes it.
    alias: { ...BUNDLE_ALIASES },
    // Only a fallback: lets an entry written outside the repo (the bench's parts) import packages by name.
    nodePaths: [join(process.cwd(), 'node_modules')],
    outfile,
    metafile: true,
    logLevel: 'silent',
    plugins,
  });
  return out.metafile;
}

function packageOf(input: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m?.[1];
}

/** Bytes each package contributes to the output; tree-shaken inputs contribute 0. */
function outputBytesByPackage(meta: Metafile, outfile: string): Map<string, number> {
  const key = Object.keys(meta.outputs).find((k) => resolve(k) === resolve(outfile));
  const inputs = key ? meta.outputs[key]!.inputs : {};
  const byPkg = new Map<string, number>();
  for (const [file, info] of Object.entries(inputs)) {
    const pkg = packageOf(file) ?? '(project)';
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + info.bytesInOutput);
  }
  return byPkg;
}

function topPackages(meta: Metafile, outfile: string, n: number): { pkg: string; bytes: number }[] {
  return [...outputBytesByPackage(meta, outfile)]
    .map(([pkg, bytes]) => ({ pkg, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

/** Per package, what the bundle has beyond the floor's bytes of the same package (packages at or under it left out). */
export function bytesOverFloor(bundle: Map<string, number>, floor: Map<string, number>, n: number): { pkg: string; bytes: number }[] {
  return [...bundle]
    .map(([pkg, bytes]) => ({ pkg, bytes: bytes - (floor.get(pkg) ?? 0) }))
    .filter((p) => p.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

/** The environment a function's module init sees (names only; nothing is called). */
function benchEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    STAGE: 'bench',
    TEAMS_TABLE: 't',
    RECORDS_TABLE: 'r',
    INTEGRATION_LOG_TABLE: 'l',
    INGEST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/q',
    BACKFILL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/b',
    TEAM_SECRET_PREFIX: 'p/',
    POWERTOOLS_SERVICE_NAME: 'bench',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

const INIT_WARMUP_PAIRS = 2;

/** Module init: require() of the bundle in a fresh node process, in ms. */
function initTime(file: string): number {
  const script = `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;
  return Number(execFileSync(process.execPath, ['-e', script], { env: benchEnv(), encoding: 'utf8' }));
}

/**
 * The bundle's and the floor's init samples, taken alternately: on a shared, busy machine the load drifts over a
 * run, and two back-to-back series would put that drift into the ratio.
 */
function interleavedInitTimes(bundleFile: string, floorFile: string, samples: number): { bundle: number[]; floor: number[] } {
  // Two untimed pairs first: the first fresh processes of a series read the files and node itself cold.
  for (let i = 0; i < INIT_WARMUP_PAIRS; i++) {
    initTime(bundleFile);
    initTime(floorFile);
  }
  const out = { bundle: [] as number[], floor: [] as number[] };
  for (let i = 0; i < samples; i++) {
    out.bundle.push(initTime(bundleFile));
    out.floor.push(initTime(floorFile));
  }
  return out;
}

/**
 * Each deferred load's time in fresh processes: the bundle (the handler and its loaders, one module graph) is
 * required, then each loader awaited in turn, as a container's first uses would.
 */
async function deferredLoadTimes(fn: string, loads: DeferredLoad[], dir: string, samples: number): Promise<{ label: string; ms: Summary }[]> {
  const entry = join(dir, `${fn}-deferred.ts`);
  writeFileSync(
    entry,
    [
      `export { handler } from ${JSON.stringify(resolve(FUNCTIONS_DIR, fn, 'handler.ts'))};`,
      ...loads.map((l, i) => `export { ${l.loader} as load${i} } from ${JSON.stringify(resolve(l.module))};`),
    ].join('\n') + '\n',
  );
  const outfile = join(dir, `${fn}-deferred`, 'index.js');
  await bundle(entry, outfile);
  const script =
    `(async()=>{const m=require(${JSON.stringify(outfile)});const out=[];` +
    `for(let i=0;i<${loads.length};i++){const t=performance.now();await m['load'+i]();out.push(performance.now()-t)}` +
    `process.stdout.write(JSON.stringify(out))})()`;
  const times: number[][] = loads.map(() => []);
  for (let i = 0; i < samples; i++) {
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: benchEnv(), encoding: 'utf8' })) as number[];
    out.forEach((ms, j) => times[j]!.push(ms));
  }
  return loads.map((l, j) => ({ label: l.label, ms: summarize(times[j]!) }));
}

function figures(file: string, initMs: number[]): BundleFigures {
  const code = readFileSync(file);
  return { bytes: code.length, deflatedBytes: deflateRawSync(code, { level: 9 }).length, initMs: summarize(initMs) };
}

/** A module that imports zod's runtime (not only its types): it builds schemas when it is evaluated. */
const BUILDS_SCHEMAS = /^import (?!type\b)[^;]*from 'zod\/mini';/m;

/**
 * From the bundle's metafile: the project modules evaluated at init (reached from the handler without a dynamic
 * `import()`) that build zod schemas, and the modules reached only through `import()` (carried, evaluated on
 * first use).
 */
export function initPartModules(meta: Metafile, handler: string): { schemas: string[]; dynamicTargets: string[] } {
  const atInit = new Set<string>([handler]);
  const dynamicTargets = new Set<string>();
  const queue = [handler];
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const imp of meta.inputs[file]?.imports ?? []) {
      if (imp.external || !meta.inputs[imp.path]) continue;
      if (imp.kind === 'dynamic-import') dynamicTargets.add(imp.path);
      else if (!atInit.has(imp.path)) {
        atInit.add(imp.path);
        queue.push(imp.path);
      }
    }
  }
  const schemas = [...atInit].filter((f) => f !== handler && !f.includes('node_modules/') && BUILDS_SCHEMAS.test(readFileSync(f, 'utf8'))).sort();
  // The SDK's own lazy imports (event streams, the user-agent parser) are in the floor too: only ours count.
  return { schemas, dynamicTargets: [...dynamicTargets].filter((f) => !atInit.has(f) && !f.includes('node_modules/')).sort() };
}

/** Output bytes of `files` in a bundle (tree-shaken code contributes 0). */
function bytesOfModules(meta: Metafile, outfile: string, files: string[]): number {
  const key = Object.keys(meta.outputs).find((k) => resolve(k) === resolve(outfile));
  const inputs = key ? meta.outputs[key]!.inputs : {};
  return files.reduce((n, f) => n + (inputs[f]?.bytesInOutput ?? 0), 0);
}

async function initParts(fn: string, meta: Metafile, outfile: string, floorLines: string, floorOut: string, dir: string, samples: number): Promise<InitPart[]> {
  const { schemas, dynamicTargets } = initPartModules(meta, join(FUNCTIONS_DIR, fn, 'handler.ts'));
  const parts = [
    { label: 'the schemas and mapping its first message needs (project modules evaluated at init that build zod schemas)', modules: schemas, lines: schemas.map((m, i) => `export * as p${i} from ${JSON.stringify(resolve(m))};`) },
    { label: 'code carried but evaluated only on first use (behind `import()`), never evaluated here', modules: dynamicTargets, lines: [`export const later = [${dynamicTargets.map((m) => `() => import(${JSON.stringify(resolve(m))})`).join(', ')}];`] },
  ].filter((p) => p.modules.length > 0);
  const floorBytes = readFileSync(floorOut).length;
  const out: InitPart[] = [];
  for (const [i, part] of parts.entries()) {
    const entry = join(dir, `${fn}-part${i}.ts`);
    writeFileSync(entry, `${floorLines}\n${part.lines.join('\n')}\n`);
    const partOut = join(dir, `${fn}-part${i}`, 'index.js');
    const partMeta = await bundle(entry, partOut);
    const init = interleavedInitTimes(partOut, floorOut, samples);
    const initMs = summarize(init.bundle);
    const floorInitMs = summarize(init.floor);
    out.push({
      label: part.label,
      modules: part.modules,
      bytesOverFloor: readFileSync(partOut).length - floorBytes,
      bytesInFunction: bytesOfModules(meta, outfile, part.modules),
      bytesInPart: bytesOfModules(partMeta, partOut, part.modules),
      initMs,
      floorInitMs,
      initRatio: initMs.median / floorInitMs.median,
    });
  }
  return out;
}

export async function runColdStartSection(opts: { samples: number }): Promise<ColdStartSection> {
  const dir = mkdtempSync(join(tmpdir(), 'drchrono-bench-bundles-'));
  try {
    const fns = ['webhook', 'oauth', 'token-refresh', 'sync', 'backfill', 'reconcile', 'write-api', 'write-back'].filter((f) => existsSync(join(FUNCTIONS_DIR, f, 'handler.ts')));
    const out: ColdStartFunction[] = [];
    for (const fn of fns) {
      const outfile = join(dir, fn, 'index.js');
      mkdirSync(join(dir, fn), { recursive: true });
      const meta = await bundle(join(FUNCTIONS_DIR, fn, 'handler.ts'), outfile);
      const inOutput = outputBytesByPackage(meta, outfile);
      const sdkPackages = Object.keys(SDK_CLIENTS).filter((pkg) => (inOutput.get(pkg) ?? 0) > 0);
      // The floor: the same SDK clients, nothing else.
      const floorEntry = join(dir, `${fn}-floor.ts`);
      const floorLines =
        sdkPackages.map((pkg, i) => `import { ${SDK_CLIENTS[pkg]} as C${i} } from '${pkg}';`).join('\n') +
        `\nexport const clients = [${sdkPackages.map((_, i) => `C${i}`).join(', ')}];\nexport const handler = async () => clients.length;\n`;
      writeFileSync(floorEntry, floorLines);
      const floorOut = join(dir, `${fn}-floor`, 'index.js');
      const floorBuild = await build({
        entryPoints: [floorEntry],
        bundle: true,
        platform: 'node',
        target: BUNDLING.target ?? 'node22',
        format: 'cjs',
        minify: true,
        outfile: floorOut,
        absWorkingDir: process.cwd(),
        nodePaths: [join(process.cwd(), 'node_modules')],
        metafile: true,
        logLevel: 'silent',
      });
      const init = interleavedInitTimes(outfile, floorOut, opts.samples);
      const deferred = DEFERRED_LOADS[fn] ? await deferredLoadTimes(fn, DEFERRED_LOADS[fn], dir, opts.samples) : undefined;
      const parts = INIT_BREAKDOWN.includes(fn) ? await initParts(fn, meta, outfile, floorLines, floorOut, dir, opts.samples) : undefined;
      const b = figures(outfile, init.bundle);
      const f = figures(floorOut, init.floor);
      out.push({
        fn,
        sdkPackages,
        bundle: b,
        floor: f,
        sizeRatio: b.bytes / f.bytes,
        initRatio: b.initMs.median / f.initMs.median,
        topPackages: topPackages(meta, outfile, 8),
        target: COLD_START_TARGETS[fn] ?? DEFAULT_COLD_START_TARGET,
        overFloor: bytesOverFloor(inOutput, outputBytesByPackage(floorBuild.metafile, floorOut), 8),
        ...(deferred ? { deferred } : {}),
        ...(parts ? { initParts: parts } : {}),
      });
    }
    return { samples: opts.samples, nodeVersion: process.version, functions: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
