import { BACKFILL_QUEUE, INGEST_QUEUE, WRITE_BACK_QUEUE } from './queue-settings';

/**
 * Memory, timeout and schedule of every function, as plain data. The CDK stack (lib/secure-defaults.ts) and the
 * local platform (local/functions.ts) both read this, so local runs time out and fire like the deployed ones.
 */
export const FUNCTION_NAMES = ['webhook', 'oauth', 'token-refresh', 'sync', 'backfill', 'reconcile', 'write-api', 'write-back'] as const;
export type LambdaFunctionName = (typeof FUNCTION_NAMES)[number];

export interface FunctionSettings {
  memoryMb: number;
  timeoutSeconds: number;
  /** Scheduled functions only: how often EventBridge (or the local scheduler) runs them. */
  everyMinutes?: number;
  /** Why these numbers: rendered into docs/deploy.md. */
  why: string;
}

export const FUNCTION_SETTINGS: Record<LambdaFunctionName, FunctionSettings> = {
  webhook: {
    memoryMb: 256,
    timeoutSeconds: 10,
    why: 'verify header secret (cached), validate, one SendMessage; DrChrono waits on the response',
  },
  oauth: {
    memoryMb: 256,
    // Under the HTTP API's 30 s integration limit: up to 5 s waiting for the refresher's lease, then one token
    // exchange and /api/users/current, each bounded by the client's timeout and retries (docs/oauth.md).
    timeoutSeconds: 29,
    why: 'waits for the token lease, then one token exchange plus /api/users/current, each bounded by the client timeout',
  },
  'token-refresh': {
    memoryMb: 512,
    // Just under the 15-minute schedule (reserved concurrency 1 keeps runs from overlapping): secret writes are
    // paced at 40/s under Secrets Manager's 50/s PutSecretValue quota, so 10,000 due teams need about 250 s and a
    // 5-minute timeout would leave no headroom (npm run bench, refresh sweep).
    timeoutSeconds: 14 * 60,
    everyMinutes: 15,
    why: 'one sweep over teams expiring within the window, bounded parallelism, a DynamoDB lease per team; secret writes paced under the 50/s quota',
  },
  sync: {
    memoryMb: 512,
    // SQS consumers take their timeout from queue-settings, which also sizes the visibility timeout.
    timeoutSeconds: INGEST_QUEUE.functionTimeoutSeconds,
    why: 'batch of 10 messages, at most one DrChrono call each; 512 MB buys CPU for JSON mapping',
  },
  backfill: {
    memoryMb: 512,
    timeoutSeconds: BACKFILL_QUEUE.functionTimeoutSeconds,
    why: 'one message = one list or bulk page, written through the sync path in-process; enqueues the next step',
  },
  reconcile: {
    memoryMb: 256,
    timeoutSeconds: 120,
    everyMinutes: 60,
    why: 'lists connected teams, enqueues one reconcile work item each, restarts paused or stalled backfills, rolls up webhook counts',
  },
  'write-api': {
    memoryMb: 256,
    // Under the HTTP API's 30 s integration limit: a cold lookup list may cost DrChrono calls (docs/write-back.md).
    timeoutSeconds: 29,
    why: 'validate and map one change back, a few DynamoDB reads, one PutItem and one SendMessage; a cold lookup may call DrChrono',
  },
  'write-back': {
    memoryMb: 512,
    timeoutSeconds: WRITE_BACK_QUEUE.functionTimeoutSeconds,
    why: 'batch of 5 changes, a few DrChrono calls each (conflict GET, write, read-back) and the sync write path',
  },
};
