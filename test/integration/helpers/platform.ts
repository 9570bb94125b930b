import { readFileSync } from 'node:fs';
import type { PlatformInfo } from '../../../local/platform-info';
import { PLATFORM_INFO_ENV } from '../setup/platform-process';
import { httpJson } from './http';

/** The running local platform (started by global setup): endpoints, resource names, queue URLs. */
let cached: PlatformInfo | undefined;

export function platform(): PlatformInfo {
  if (cached) return cached;
  const file = process.env[PLATFORM_INFO_ENV];
  if (!file) throw new Error(`${PLATFORM_INFO_ENV} is not set: run integration tests with jest.integration.config.cjs`);
  cached = JSON.parse(readFileSync(file, 'utf8')) as PlatformInfo;
  return cached;
}

export function apiUrl(path: string): string {
  return `${platform().apiBaseUrl}${path}`;
}

export interface PollerStats {
  fn: string;
  state: string;
  batches: number;
  records: number;
  succeeded: number;
  failed: number;
  wholeBatchFailures: number;
}

/** Stops a function's SQS poller; resolves once nothing is being received or processed. */
export async function pausePoller(fn: string): Promise<PollerStats> {
  return (await httpJson<PollerStats>('POST', apiUrl(`/_local/pollers/${fn}/pause`), undefined, 200)).body;
}

export async function resumePoller(fn: string): Promise<PollerStats> {
  return (await httpJson<PollerStats>('POST', apiUrl(`/_local/pollers/${fn}/resume`), undefined, 200)).body;
}

export async function pollerStats(fn: string): Promise<PollerStats> {
  const { body } = await httpJson<{ pollers: PollerStats[] }>('GET', apiUrl('/_local/pollers'), undefined, 200);
  const stats = body.pollers.find((p) => p.fn === fn);
  if (!stats) throw new Error(`no poller for ${fn}`);
  return stats;
}

/** Runs a scheduled function (token-refresh, reconcile) now and returns its result. */
export async function runScheduled<T = unknown>(fn: string): Promise<T> {
  return (await httpJson<T>('POST', apiUrl(`/_local/run/${fn}`), undefined, 200)).body;
}
