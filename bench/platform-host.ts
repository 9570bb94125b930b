import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AwsRequestCounter } from './aws-request-counter';
import { LogCounter, type LogSnapshot } from './log-counter';

/**
 * The benchmark's platform process: the ephemeral local platform (same code as `npm start --ephemeral`), with
 * every AWS SDK request counted, every handler invocation timed and every line a handler prints counted (bytes per
 * function, as CloudWatch Logs would ingest them). The parent asks for counters over IPC.
 *   node --import tsx bench/platform-host.ts --ready-file F
 */
export interface InvocationTimes {
  fn: string;
  durationsMs: number[];
}

export type HostRequest = { id: number; type: 'snapshot' | 'reset' | 'stop' };
export interface HostSnapshot {
  aws: ReturnType<AwsRequestCounter['snapshot']>;
  invocations: InvocationTimes[];
  logs: LogSnapshot;
}

const counter = new AwsRequestCounter().install();
// Before the platform loads: every handler line goes through process.stdout/stderr.write.
const logCounter = new LogCounter().install();
const { values } = parseArgs({ options: { 'ready-file': { type: 'string' } } });

const { startPlatform } = await import('../local/platform');
const { FUNCTIONS, REPO_ROOT, isImplemented } = await import('../local/functions');

const platform = await startPlatform({ ephemeral: true, clean: false, log: (line) => console.log(line) });

const times = new Map<string, number[]>();
type Middleware = { before?: (r: object) => unknown; after?: (r: object) => void; onError?: (r: object) => void };
interface MiddyLike {
  use(m: Middleware | Middleware[]): unknown;
}
// The same module URL the platform imports, so this is the very handler object it invokes.
for (const fn of FUNCTIONS) {
  if (!isImplemented(fn)) continue;
  const mod = (await import(pathToFileURL(join(REPO_ROOT, fn.entry)).href)) as { handler?: MiddyLike };
  if (typeof mod.handler?.use !== 'function') continue;
  const started = new WeakMap<object, number>();
  const list: number[] = [];
  times.set(fn.name, list);
  const end = (req: object): void => {
    const t0 = started.get(req);
    if (t0 !== undefined) list.push(performance.now() - t0);
  };
  mod.handler.use({ before: (req) => void started.set(req, performance.now()), after: end, onError: end });
  // Last, so its `before` runs after the handler's own and the store reaches the handler and every `after`.
  mod.handler.use(logCounter.middleware(fn.name));
}

counter.reset();
logCounter.reset();
const ready = values['ready-file'];
if (ready) {
  writeFileSync(`${ready}.tmp`, JSON.stringify(platform.info));
  renameSync(`${ready}.tmp`, ready);
}

process.on('message', (msg: HostRequest) => {
  if (msg.type === 'reset') {
    counter.reset();
    logCounter.reset();
    for (const list of times.values()) list.length = 0;
    process.send?.({ id: msg.id, ok: true });
  } else if (msg.type === 'snapshot') {
    const snap: HostSnapshot = { aws: counter.snapshot(), invocations: [...times].map(([fn, d]) => ({ fn, durationsMs: [...d] })), logs: logCounter.snapshot() };
    process.send?.({ id: msg.id, ok: true, snapshot: snap });
  } else if (msg.type === 'stop') {
    void platform.stop().then(() => {
      process.send?.({ id: msg.id, ok: true });
      process.exit(0);
    });
  }
});
// The parent going away (Ctrl-C, crash) takes the platform and its Java child down with it.
const shutdown = (): void => void platform.stop().then(() => process.exit(0));
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
