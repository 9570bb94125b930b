import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlatformInfo } from '../local/platform-info';
import type { HostRequest, HostSnapshot } from './platform-host';

/** Starts bench/platform-host.ts in its own process and talks to it over IPC. */
export interface BenchPlatform {
  info: PlatformInfo;
  logFile: string;
  snapshot(): Promise<HostSnapshot>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 120_000;

export async function startBenchPlatform(env: Record<string, string> = {}): Promise<BenchPlatform> {
  const dir = mkdtempSync(join(tmpdir(), 'drchrono-bench-'));
  const readyFile = join(dir, 'platform.json');
  const logFile = join(dir, 'platform.log');
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/platform-host.ts', '--ready-file', readyFile], {
    cwd: process.cwd(),
    // Handlers log at INFO, as the stack configures them; the lines go to the log file.
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO', ...env },
    stdio: ['ignore', logFd, logFd, 'ipc'],
  });
  closeSync(logFd);

  const started = Date.now();
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`bench platform exited with ${child.exitCode}; see ${logFile}`);
    if (Date.now() - started > START_TIMEOUT_MS) {
      child.kill('SIGTERM');
      throw new Error(`bench platform not ready after ${START_TIMEOUT_MS} ms; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const info = JSON.parse(readFileSync(readyFile, 'utf8')) as PlatformInfo;

  let nextId = 1;
  const pending = new Map<number, (m: { snapshot?: HostSnapshot }) => void>();
  child.on('message', (m: { id: number; snapshot?: HostSnapshot }) => {
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  const ask = (type: HostRequest['type']): Promise<{ snapshot?: HostSnapshot }> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ id, type } satisfies HostRequest, (err) => err && reject(err));
    });

  return {
    info,
    logFile,
    snapshot: async () => (await ask('snapshot')).snapshot!,
    reset: async () => void (await ask('reset')),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await Promise.race([ask('stop'), new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(readyFile, { force: true });
    },
  };
}
