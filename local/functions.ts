import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { BACKFILL_QUEUE, INGEST_QUEUE, WRITE_BACK_QUEUE, type QueueSettings } from '../shared/config/queue-settings';
import { FUNCTION_SETTINGS } from '../shared/config/function-settings';
import { TEST_CONSUMER_QUEUE } from './test-functions/settings';

/**
 * Every function the stack deploys, with its trigger, as docs/architecture.md lists them. Handlers are
 * imported lazily by computed path: a function someone has not written yet does not break the type-check
 * or the platform, and fails with a clear error only when something invokes it.
 */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export type QueueName = 'ingest' | 'backfill' | 'write-back' | 'test-consumer';

export type Trigger =
  | { kind: 'http' }
  | { kind: 'queue'; queue: QueueName; settings: QueueSettings }
  | { kind: 'schedule'; everySeconds: number; intervalEnv: string };

export interface LocalFunction {
  name: string;
  /** repo-relative source of the handler */
  entry: string;
  timeoutSeconds: number;
  trigger: Trigger;
}

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const FUNCTIONS: readonly LocalFunction[] = [
  { name: 'webhook', entry: 'functions/webhook/handler.ts', timeoutSeconds: FUNCTION_SETTINGS.webhook.timeoutSeconds, trigger: { kind: 'http' } },
  { name: 'oauth', entry: 'functions/oauth/handler.ts', timeoutSeconds: FUNCTION_SETTINGS.oauth.timeoutSeconds, trigger: { kind: 'http' } },
  { name: 'write-api', entry: 'functions/write-api/handler.ts', timeoutSeconds: FUNCTION_SETTINGS['write-api'].timeoutSeconds, trigger: { kind: 'http' } },
  {
    name: 'token-refresh',
    entry: 'functions/token-refresh/handler.ts',
    timeoutSeconds: FUNCTION_SETTINGS['token-refresh'].timeoutSeconds,
    trigger: { kind: 'schedule', everySeconds: (FUNCTION_SETTINGS['token-refresh'].everyMinutes ?? 15) * 60, intervalEnv: 'LOCAL_TOKEN_REFRESH_INTERVAL_SECONDS' },
  },
  {
    name: 'sync',
    entry: 'functions/sync/handler.ts',
    timeoutSeconds: INGEST_QUEUE.functionTimeoutSeconds,
    trigger: { kind: 'queue', queue: 'ingest', settings: INGEST_QUEUE },
  },
  {
    name: 'backfill',
    entry: 'functions/backfill/handler.ts',
    timeoutSeconds: BACKFILL_QUEUE.functionTimeoutSeconds,
    trigger: { kind: 'queue', queue: 'backfill', settings: BACKFILL_QUEUE },
  },
  {
    name: 'write-back',
    entry: 'functions/write-back/handler.ts',
    timeoutSeconds: WRITE_BACK_QUEUE.functionTimeoutSeconds,
    trigger: { kind: 'queue', queue: 'write-back', settings: WRITE_BACK_QUEUE },
  },
  {
    name: 'reconcile',
    entry: 'functions/reconcile/handler.ts',
    timeoutSeconds: FUNCTION_SETTINGS.reconcile.timeoutSeconds,
    trigger: { kind: 'schedule', everySeconds: (FUNCTION_SETTINGS.reconcile.everyMinutes ?? 60) * 60, intervalEnv: 'LOCAL_RECONCILE_INTERVAL_SECONDS' },
  },
];

/** Local-only functions for the integration tests, registered only with LOCAL_TEST_FUNCTIONS=1. */
const TEST_FUNCTIONS: readonly LocalFunction[] = [
  {
    name: 'test-consumer',
    entry: 'local/test-functions/test-consumer.ts',
    timeoutSeconds: TEST_CONSUMER_QUEUE.functionTimeoutSeconds,
    trigger: { kind: 'queue', queue: 'test-consumer', settings: TEST_CONSUMER_QUEUE },
  },
];

export function testFunctionsEnabled(): boolean {
  return process.env.LOCAL_TEST_FUNCTIONS === '1';
}

export function registeredFunctions(): readonly LocalFunction[] {
  return testFunctionsEnabled() ? [...FUNCTIONS, ...TEST_FUNCTIONS] : FUNCTIONS;
}

export function findFunction(name: string): LocalFunction | undefined {
  return registeredFunctions().find((f) => f.name === name);
}

export class FunctionNotImplementedError extends Error {
  constructor(readonly fn: LocalFunction) {
    super(`function '${fn.name}' is not implemented yet: ${fn.entry} does not exist`);
    this.name = 'FunctionNotImplementedError';
  }
}

export function isImplemented(fn: LocalFunction): boolean {
  return existsSync(join(REPO_ROOT, fn.entry));
}

const loaded = new Map<string, Promise<LambdaHandler>>();

/** The function's `handler` export, imported once per process like a warm Lambda container. */
export function loadHandler(fn: LocalFunction): Promise<LambdaHandler> {
  const cached = loaded.get(fn.name);
  if (cached) return cached;
  if (!isImplemented(fn)) return Promise.reject(new FunctionNotImplementedError(fn));
  const loading = import(pathToFileURL(join(REPO_ROOT, fn.entry)).href).then((mod: { handler?: unknown }) => {
    if (typeof mod.handler !== 'function') throw new Error(`${fn.entry} does not export a 'handler' function`);
    return mod.handler as LambdaHandler;
  });
  // A failed import is not cached, so fixing the file and invoking again works without a restart.
  loading.catch(() => loaded.delete(fn.name));
  loaded.set(fn.name, loading);
  return loading;
}

export function functionArnName(stage: string, fn: LocalFunction): string {
  return `drchrono-sync-${stage}-${fn.name}`;
}
