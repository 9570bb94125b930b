/**
 * Queue and event-source settings for the SQS-driven functions, as plain data. The CDK stack and the local
 * platform (`local/resources.ts`, `local/poller/`) both read these, so a message is retried and redriven the
 * same way locally as in AWS.
 */
export interface QueueSettings {
  /** Timeout of the consuming function; AWS recommends visibility >= 6 x this. */
  functionTimeoutSeconds: number;
  visibilityTimeoutSeconds: number;
  /** Receives before SQS moves a message to the DLQ. */
  maxReceiveCount: number;
  /** Lambda event source: records per invocation. */
  batchSize: number;
  /** Lambda event source: how long to gather a batch before invoking. */
  maxBatchingWindowSeconds: number;
  retentionPeriodSeconds: number;
}

const DAY_SECONDS = 24 * 60 * 60;

/** DLQs keep messages for the SQS maximum, so an operator has two weeks to inspect and redrive. */
export const DLQ_RETENTION_SECONDS = 14 * DAY_SECONDS;

/** Ingest queue → `sync`: small, fast records; batches of 10 amortise client set-up and DynamoDB calls. */
export const INGEST_QUEUE: QueueSettings = {
  functionTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 6 * 30,
  maxReceiveCount: 5,
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
  retentionPeriodSeconds: 4 * DAY_SECONDS,
};

/**
 * Backfill queue → `backfill`: each message is a page of DrChrono fetches under a per-team API budget, so
 * one message per invocation and a long timeout; fewer receives before the DLQ because each retry costs API calls.
 */
export const BACKFILL_QUEUE: QueueSettings = {
  functionTimeoutSeconds: 120,
  visibilityTimeoutSeconds: 6 * 120,
  maxReceiveCount: 3,
  batchSize: 1,
  maxBatchingWindowSeconds: 0,
  retentionPeriodSeconds: 4 * DAY_SECONDS,
};

/**
 * Write-back queue (FIFO) → `write-back`: one record's changes in order, never two in flight (message group per
 * record, shared/write-back/change.ts). Small batches: a failed or deferred message holds back the rest of its
 * group (and Lambda's FIFO batches stop at the first failure). Deferrals (budget, 429, token refresh) hide the
 * message instead of re-sending it, which would reorder the group, so each one costs a receive: the receive
 * bound is high, and the worker ends a change as `failed` itself after a bounded number of real failures
 * (docs/write-back.md).
 */
export const WRITE_BACK_QUEUE: QueueSettings = {
  functionTimeoutSeconds: 60,
  visibilityTimeoutSeconds: 6 * 60,
  maxReceiveCount: 100,
  batchSize: 5,
  maxBatchingWindowSeconds: 0,
  retentionPeriodSeconds: 14 * DAY_SECONDS,
};
