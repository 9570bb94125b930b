import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Plugin } from 'esbuild';
import { bundle } from '../../bench/sections/cold-start';
import { BUNDLE_ALIASES, BUNDLING } from '../../lib/secure-defaults';
import type * as Transport from '../../shared/drchrono/transport';
import { REPO_ROOT } from './synth-stack';

/**
 * The Lambda bundles leave axios's multipart dependencies and `debug` out (BUNDLING's esbuild aliases), and the
 * DrChrono HTTP client built from such a bundle still sends JSON, query strings and form-urlencoded bodies.
 */
const LEFT_OUT = ['form-data', 'mime-types', 'mime-db', 'combined-stream', 'asynckit', 'debug', 'ms'];

let dir: string;
const cwd = process.cwd();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drchrono-bundling-'));
  // esbuild resolves the alias targets from the working directory, as NodejsFunction runs it from the repo root.
  process.chdir(REPO_ROOT);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('BUNDLING', () => {
  it('passes NodejsFunction one --alias per left-out package: form-data to the stand-in that throws, debug to the silent one', () => {
    expect(BUNDLING.esbuildArgs).toEqual({ '--alias': ['form-data=./shared/http/form-data-unavailable.cjs', 'debug=./shared/http/debug-silent.cjs'] });
    expect(BUNDLE_ALIASES).toEqual({ 'form-data': './shared/http/form-data-unavailable.cjs', debug: './shared/http/debug-silent.cjs' });
  });

  it.each(['sync', 'oauth', 'backfill', 'token-refresh'])('keeps form-data, mime-db and debug out of the %s bundle (the bench builds it the same way)', async (fn) => {
    const meta = await bundle(join('functions', fn, 'handler.ts'), join(dir, fn, 'index.js'));
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((f) => f.includes('node_modules/axios/'))).toBe(true);
    for (const pkg of LEFT_OUT) expect(inputs.filter((f) => f.includes(`node_modules/${pkg}/`))).toEqual([]);
    expect(inputs).toEqual(expect.arrayContaining(['shared/http/form-data-unavailable.cjs', 'shared/http/debug-silent.cjs']));
  });
});

/**
 * Marks modules so that a bundle records when each is evaluated: the marked file's first statement appends its
 * label to globalThis.__evaluated (imports are hoisted, so it runs as the module's body starts).
 */
function evaluationMarker(labels: Record<string, RegExp>): Plugin {
  return {
    name: 'evaluation-marker',
    setup(b) {
      for (const [label, filter] of Object.entries(labels)) {
        b.onLoad({ filter }, (args) => ({
          contents: `(globalThis.__evaluated ??= []).push(${JSON.stringify(label)});\n${readFileSync(args.path, 'utf8')}`,
          loader: args.path.endsWith('.ts') ? 'ts' : 'js',
          resolveDir: dirname(args.path),
        }));
      }
    },
  };
}

/**
 * The deployed sync handler, plus the loader its first DrChrono call goes through (the same module instance),
 * bundled as `<dir>/<name>/index.js`.
 */
async function bundleSyncWithLoader(name: string, plugins: Plugin[] = []): Promise<{ outfile: string; meta: Awaited<ReturnType<typeof bundle>> }> {
  const entry = join(dir, `${name}-entry.ts`);
  writeFileSync(
    entry,
    `export { handler } from ${JSON.stringify(join(REPO_ROOT, 'functions/sync/handler.ts'))};\n` +
      `export { loadDrChronoClientModule } from ${JSON.stringify(join(REPO_ROOT, 'shared/drchrono/deferred-client.ts'))};\n`,
  );
  const outfile = join(dir, name, 'index.js');
  return { outfile, meta: await bundle(entry, outfile, plugins) };
}

describe('the sync bundle', () => {
  it('carries axios and the DrChrono client but evaluates them on the first DrChrono call, not at module init', async () => {
    const { outfile, meta } = await bundleSyncWithLoader('sync-deferred', [
      evaluationMarker({ axios: /node_modules[\\/]axios[\\/]index\.js$/, client: /shared[\\/]drchrono[\\/]client\.ts$/ }),
    ]);
    expect(Object.keys(meta.inputs)).toEqual(expect.arrayContaining(['node_modules/axios/index.js', 'shared/drchrono/client.ts']));
    // A fresh process, as a Lambda container: what ran at init, then after the first load.
    const script = `const m=require(${JSON.stringify(outfile)});const atInit=[...(globalThis.__evaluated??[])];` +
      `m.loadDrChronoClientModule().then((c)=>process.stdout.write(JSON.stringify({atInit,afterLoad:globalThis.__evaluated,client:typeof c.DrChronoClient})))`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' } })) as {
      atInit: string[];
      afterLoad: string[];
      client: string;
    };
    expect(out.atInit).toEqual([]);
    expect(out.afterLoad.sort()).toEqual(['axios', 'client']);
    expect(out.client).toBe('function');
  });
});

/** What a fresh process (a Lambda container) has loaded of undici, Node's fetch implementation. */
const UNDICI_LOADED = "process.moduleLoadList.filter((m)=>m.includes('undici'))";
const FUNCTIONS = ['webhook', 'sync', 'oauth', 'backfill', 'token-refresh', 'reconcile', 'write-api', 'write-back'];

describe("undici (Node's fetch) in the bundles", () => {
  it.each(FUNCTIONS)('is not loaded by the %s bundle at module init, and fetch, Request and Response still work after it', async (fn) => {
    const outfile = join(dir, `${fn}-undici`, 'index.js');
    await bundle(join('functions', fn, 'handler.ts'), outfile);
    const script =
      `require(${JSON.stringify(outfile)});const atInit=${UNDICI_LOADED};` +
      `const usable=[typeof fetch,typeof Request,typeof Response,typeof FormData,new Request('http://x/').method];` +
      `process.stdout.write(JSON.stringify({atInit,usable}))`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' } })) as {
      atInit: string[];
      usable: string[];
    };
    expect(out.atInit).toEqual([]);
    expect(out.usable).toEqual(['function', 'function', 'function', 'function', 'GET']);
  });

  it('is not loaded when the sync bundle loads the DrChrono client on its first DrChrono call, and the fetch globals are back after it', async () => {
    const { outfile } = await bundleSyncWithLoader('sync-undici');
    const script =
      `const m=require(${JSON.stringify(outfile)});m.loadDrChronoClientModule().then(()=>{const afterLoad=${UNDICI_LOADED};` +
      `process.stdout.write(JSON.stringify({afterLoad,usable:[typeof Request,typeof Response,typeof FormData]}))})`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' } })) as unknown;
    expect(out).toEqual({ afterLoad: [], usable: ['function', 'function', 'function'] });
  });

  it.each(['oauth', 'write-back'])('does not stop the %s handler from loading as an ES module under tsx, as the local platform loads it', async (fn) => {
    // package.json has "type": "module": tsx runs each .ts file as an ES module, where `require` does not exist.
    const script = `import(${JSON.stringify(join(REPO_ROOT, 'functions', fn, 'handler.ts'))}).then((m)=>process.stdout.write(typeof m.handler))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', NODE_NO_WARNINGS: '1' },
    });
    expect(stdout).toBe('function');
  });
});

describe('the DrChrono HTTP client built with BUNDLING', () => {
  let server: Server;
  let baseUrl: string;
  let client: typeof Transport;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, contentType: req.headers['content-type'] ?? null, body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const entry = join(dir, 'transport-entry.ts');
    writeFileSync(entry, `export { createHttp } from ${JSON.stringify(join(REPO_ROOT, 'shared/drchrono/transport.ts'))};\n`);
    const outfile = join(dir, 'transport', 'index.js');
    const meta = await bundle(entry, outfile);
    expect(Object.keys(meta.inputs).filter((f) => f.includes('node_modules/form-data/'))).toEqual([]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    client = require(outfile) as typeof Transport;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends a GET with query parameters and parses the JSON answer', async () => {
    const res = await client.createHttp(5_000).get(`${baseUrl}/api/patients`, { params: { page_size: 2, since: '2026-01-01' } });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ method: 'GET', url: '/api/patients?page_size=2&since=2026-01-01', contentType: null, body: '' });
  });

  it('sends JSON and form-urlencoded bodies (the API writes and the token exchange)', async () => {
    const http = client.createHttp(5_000);
    const json = await http.patch(`${baseUrl}/api/patients/1`, { first_name: 'X' });
    expect(json.data).toEqual({ method: 'PATCH', url: '/api/patients/1', contentType: 'application/json', body: '{"first_name":"X"}' });
    const form = await http.post(`${baseUrl}/o/token/`, new URLSearchParams({ grant_type: 'refresh_token' }).toString(), {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.data).toEqual({ method: 'POST', url: '/o/token/', contentType: 'application/x-www-form-urlencoded', body: 'grant_type=refresh_token' });
  });

  it('refuses a multipart body with the stand-in error instead of sending it', async () => {
    const http = client.createHttp(5_000);
    await expect(http.post(`${baseUrl}/upload`, { a: '1' }, { headers: { 'content-type': 'multipart/form-data' } })).rejects.toThrow(
      /multipart\/form-data bodies are not supported/,
    );
  });

  it('sends GET, JSON and form-urlencoded requests in a fresh process without loading undici', async () => {
    const outfile = join(dir, 'transport', 'index.js');
    const script =
      `const {createHttp}=require(${JSON.stringify(outfile)});const http=createHttp(5000);(async()=>{` +
      `const a=await http.get(${JSON.stringify(baseUrl)}+'/api/patients',{params:{page_size:1}});` +
      `const b=await http.patch(${JSON.stringify(baseUrl)}+'/api/patients/1',{first_name:'X'});` +
      `const c=await http.post(${JSON.stringify(baseUrl)}+'/o/token/','grant_type=refresh_token',{headers:{'content-type':'application/x-www-form-urlencoded'}});` +
      `process.stdout.write(JSON.stringify({statuses:[a.status,b.status,c.status],patch:b.data.body,undici:${UNDICI_LOADED}}))})()`;
    // Asynchronous: the test server answers from this process's event loop.
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(JSON.parse(stdout)).toEqual({ statuses: [200, 200, 200], patch: '{"first_name":"X"}', undici: [] });
  });
});
