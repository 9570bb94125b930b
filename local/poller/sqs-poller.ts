import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { QueueSettings } from '../../shared/config/queue-settings';
import { settleBatch, type InvocationOutcome } from './batch-result';
import { toSqsRecord } from './sqs-event';

/**
 * Drives one SQS-triggered function the way a Lambda event source mapping does: `concurrency` workers
 * long-poll the queue, gather up to batchSize messages within the batching window, invoke the function,
 * and delete only what succeeded. Failed messages stay in flight until the visibility timeout returns
 * them; SQS (fauxqs) moves them to the DLQ after maxReceiveCount receives.
 */
export interface SqsPollerOptions {
  fn: string;
  queueUrl: string;
  queueArn: string;
  region: string;
  settings: QueueSettings;
  concurrency: number;
  sqs: SQSClient;
  invoke(event: SQSEvent): Promise<unknown>;
  /** While false the workers do not receive, so messages wait on the queue (handler not written yet). */
  canInvoke?: () => boolean;
  log(line: string): void;
  /** Long-poll wait per receive; short so that pause and stop take effect quickly. */
  waitTimeSeconds?: number;
}

export interface PollerStats {
  fn: string;
  state: 'running' | 'paused' | 'stopped' | 'waiting-for-handler';
  batches: number;
  records: number;
  succeeded: number;
  failed: number;
  wholeBatchFailures: number;
  /** Messages received and not yet settled. */
  inFlight: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SqsPoller {
  private running = false;
  private paused = false;
  private busy = 0;
  /** Messages received and not yet settled (deleted or left for retry): work a quiescence check must wait for. */
  private holding = 0;
  private workers: Promise<void>[] = [];
  private readonly counts = { batches: 0, records: 0, succeeded: 0, failed: 0, wholeBatchFailures: 0 };

  constructor(private readonly opts: SqsPollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.workers = Array.from({ length: this.opts.concurrency }, () => this.work());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Resolves once no worker is receiving or invoking, so nothing is taken off the queue after this returns. */
  async pause(): Promise<void> {
    this.paused = true;
    while (this.busy > 0) await sleep(20);
  }

  resume(): void {
    this.paused = false;
  }

  stats(): PollerStats {
    const state = !this.running
      ? 'stopped'
      : this.paused
        ? 'paused'
        : this.opts.canInvoke && !this.opts.canInvoke()
          ? 'waiting-for-handler'
          : 'running';
    return { fn: this.opts.fn, state, inFlight: this.holding, ...this.counts };
  }

  private async work(): Promise<void> {
    while (this.running) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      if (this.opts.canInvoke && !this.opts.canInvoke()) {
        await sleep(1000);
        continue;
      }
      this.busy += 1;
      const batch: Message[] = [];
      try {
        await this.gather(batch);
        if (batch.length > 0) await this.process(batch);
      } catch (err) {
        this.opts.log(`receive/delete failed: ${err instanceof Error ? err.name : 'UnknownError'}`);
        await sleep(500);
      } finally {
        this.holding -= batch.length;
        this.busy -= 1;
      }
    }
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const out = await this.opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.opts.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return out.Messages ?? [];
  }

  /** Up to batchSize messages into `batch`: the first long poll, then more until the batching window closes. */
  private async gather(batch: Message[]): Promise<void> {
    const { batchSize, maxBatchingWindowSeconds } = this.opts.settings;
    const first = await this.receive(batchSize, this.opts.waitTimeSeconds ?? 1);
    this.holding += first.length;
    batch.push(...first);
    if (batch.length === 0) return;
    // A monotonic clock: tests move Date.now() (local/time-control.ts) forward and back, and a window measured with
    // it would stay open for the whole jump after a reset, holding the messages it gathered until the batch is full.
    const windowEnds = performance.now() + maxBatchingWindowSeconds * 1000;
    while (batch.length < batchSize && this.running && performance.now() < windowEnds) {
      const more = await this.receive(batchSize - batch.length, 0);
      this.holding += more.length;
      if (more.length === 0) await sleep(Math.min(100, Math.max(0, windowEnds - performance.now())));
      batch.push(...more);
    }
  }

  private async process(batch: Message[]): Promise<void> {
    const event: SQSEvent = {
      Records: batch.map((m) => toSqsRecord(m, this.opts.queueArn, this.opts.region)),
    };
    let outcome: InvocationOutcome;
    try {
      outcome = { ok: true, response: await this.opts.invoke(event) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const settled = settleBatch(
      event.Records.map((r) => r.messageId),
      outcome,
    );
    const handles = new Map(event.Records.map((r) => [r.messageId, r.receiptHandle]));
    for (let i = 0; i < settled.succeeded.length; i += 10) {
      const chunk = settled.succeeded.slice(i, i + 10);
      await this.opts.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.opts.queueUrl,
          Entries: chunk.map((id, n) => ({ Id: String(n), ReceiptHandle: handles.get(id)! })),
        }),
      );
    }
    this.counts.batches += 1;
    this.counts.records += batch.length;
    this.counts.succeeded += settled.succeeded.length;
    this.counts.failed += settled.failed.length;
    if (settled.wholeBatchFailure) this.counts.wholeBatchFailures += 1;
    this.opts.log(
      `batch of ${batch.length}: ${settled.succeeded.length} deleted, ${settled.failed.length} left for retry` +
        (settled.wholeBatchFailure ? ` (whole batch failed: ${settled.wholeBatchFailure})` : ''),
    );
  }
}
