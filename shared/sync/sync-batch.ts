import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { IngestMessageSchema, type IngestMessage } from '../ingest/ingest-message';
import { errorFields, logger } from '../logging/logger';
import { writeIntegrationLog, type IntegrationLogEntry, type IntegrationLogOutcome } from '../store/integration-log';
import { parseTeamId } from '../teams/team-id';
import { applyDeferral, deferralsOf, planDeferral, receiveCountOf } from './deferral';
import { InvocationDeadline, InvocationDeadlineExceededError } from './invocation-deadline';
import type { ProcessResult } from './process-ingest-message';

/**
 * One SQS batch of the sync worker: turns each record's ProcessResult into SQS semantics (acknowledge, keep
 * for a retry, defer) and collects the integration log entries, which are written once per team per batch
 * together with the team's webhook counts for the batch.
 */
export interface SyncBatchDeps {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  integrationLogTable: string;
  ingestQueueUrl: string;
  maxReceiveCount: number;
  integrationLogTtlDays: number;
  /** `signal` aborts once the invocation's deadline has passed: work not yet started must not start. */
  process: (msg: IngestMessage, signal: AbortSignal) => Promise<ProcessResult>;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); no deadline when omitted. */
  remainingMs?: () => number;
  now?: () => Date;
}

/**
 * Time kept back from the invocation for flushing the log and counters and returning the batch response. A
 * record still running then is failed on its own; otherwise Lambda's timeout would fail the WHOLE batch, so the
 * finished records would be redelivered too and every record's receive count would creep towards the DLQ.
 */
export const FLUSH_RESERVE_MS = 3_000;

/** Thrown to make Powertools report a record as a batch item failure; carries no PHI. */
export class SyncRecordFailure extends Error {
  override name = 'SyncRecordFailure';
}

export class InvalidIngestMessageError extends Error {
  override name = 'InvalidIngestMessageError';
}



interface TeamTally {
  entries: IntegrationLogEntry[];
  processed: number;
  lastReceivedAt?: string;
  /** SQS message ids of the records acknowledged as done: redelivered if their log entries cannot be written. */
  done: string[];
}

/**
 * What one invocation did, in counts only: the sync function prints it once per invocation (in its metrics
 * line) instead of a line per delivery, because every printed byte is billed (CloudWatch Logs ingestion). Each
 * delivery's own outcome is in the integration log; failures and errors are still printed one by one.
 */
export interface SyncBatchSummary {
  /** Records received in this invocation. */
  messages: number;
  /** Teams whose log entries were written. */
  teams: number;
  /** Records acknowledged as done. */
  done: number;
  /** Records deferred (kept with a longer visibility, or re-enqueued). */
  deferred: number;
  /** Records left for SQS to retry (not their last receive). */
  retried: number;
  /** Deliveries given up on (last receive: on their way to the DLQ). */
  failed: number;
  /** Acknowledged records reported for redelivery because their team's log write failed. */
  unlogged: number;
  /** Integration log entries written, by outcome. */
  outcomes: Partial<Record<IntegrationLogOutcome, number>>;
}

export class SyncBatch {
  private readonly teams = new Map<string, TeamTally>();
  /** Work of this batch's patient deliveries so far, by `teamId#patientId` (see patientFirst). */
  private readonly patientWork = new Map<string, Promise<unknown>[]>();
  private readonly now: () => Date;
  private readonly deadline: InvocationDeadline;
  private failed = 0;
  private readonly counts: SyncBatchSummary = { messages: 0, teams: 0, done: 0, deferred: 0, retried: 0, failed: 0, unlogged: 0, outcomes: {} };

  constructor(private readonly deps: SyncBatchDeps) {
    this.now = deps.now ?? (() => new Date());
    this.deadline = new InvocationDeadline(deps.remainingMs, FLUSH_RESERVE_MS);
  }

  /** The Powertools record handler: resolves to acknowledge, throws to keep the message. */
  readonly handleRecord = async (record: SQSRecord): Promise<void> => {
    this.counts.messages += 1;
    const receiveCount = receiveCountOf(record);
    const finalAttempt = receiveCount >= this.deps.maxReceiveCount;
    const msg = this.parse(record);
    if (!msg) {
      const teamId = parseTeamId(record.messageAttributes?.teamId?.stringValue);
      logger.error('sync: invalid ingest message', { messageId: record.messageId, teamId, receiveCount });
      if (teamId && finalAttempt) {
        this.add(teamId, {
          at: this.now().toISOString(),
          event: record.messageAttributes?.event?.stringValue ?? 'UNKNOWN',
          outcome: 'failed',
          errorClass: 'InvalidIngestMessageError',
          errorMessage: 'message body does not match the ingest message schema',
          detail: `moving to the DLQ after ${receiveCount} receives`,
        });
      }
      if (finalAttempt) this.failed += 1;
      else this.counts.retried += 1;
      throw new InvalidIngestMessageError(`message ${record.messageId} does not match the ingest message schema`);
    }
    const ids = { teamId: msg.teamId, deliveryId: msg.deliveryId, event: msg.event, messageId: record.messageId };

    let result: ProcessResult;
    try {
      result = await this.deadline.race(this.patientFirst(msg), () => new InvocationDeadlineExceededError());
    } catch (err) {
      // Anything process() did not classify (DynamoDB errors, bugs): retry, DLQ after maxReceiveCount.
      result = { status: 'retry', entry: failedEntry(msg, this.now(), err), error: err };
    }

    if (result.status === 'done') {
      for (const e of result.entries) this.add(msg.teamId, e);
      this.tally(msg.teamId).done.push(record.messageId);
      this.count(msg);
      this.counts.done += 1;
      return;
    }

    if (result.status === 'defer') {
      const plan = planDeferral({
        delaySeconds: result.delaySeconds,
        receiveCount,
        maxReceiveCount: this.deps.maxReceiveCount,
        deferrals: deferralsOf(record),
      });
      if (plan.action !== 'give-up') {
        const keep = await applyDeferral(this.deps.sqs, this.deps.ingestQueueUrl, record, plan);
        this.add(msg.teamId, { ...result.entry, detail: `${result.entry.detail ?? 'deferred'}; ${describePlan(plan)}` });
        this.counts.deferred += 1;
        if (keep) throw new SyncRecordFailure(`message ${record.messageId} deferred`);
        return;
      }
      // Deferred too many times: fail for real so the message reaches the DLQ with its reason logged.
      result = { status: 'retry', entry: { ...result.entry, outcome: 'failed' }, error: new Error('deferred too many times') };
    }

    logger.warn('sync: failed', { ...ids, receiveCount, ...errorFields(result.error) });
    // Only the last attempt is logged as 'failed' (one entry per delivery); earlier ones go to the logger.
    if (finalAttempt) {
      this.add(msg.teamId, { ...result.entry, outcome: 'failed', detail: joinDetail(result.entry.detail, `moving to the DLQ after ${receiveCount} receives`) });
      this.count(msg);
      this.failed += 1;
    } else {
      this.counts.retried += 1;
    }
    throw new SyncRecordFailure(`message ${record.messageId} failed`);
  };

  /**
   * Write the collected log entries: one log write per team, carrying the team's webhook counts for this batch
   * (`team show` adds them up, shared/teams/webhook-counts.ts), so the counters cost no write of their own and
   * are exactly what the log holds. Returns the message ids to report as batch item failures: a team's
   * acknowledged messages whose log entries could not be written (after the SDK's retries). A delivery is never
   * acknowledged without its log entry: redelivered, it finds its record written (`unchanged`) and is logged
   * (and counted) then.
   */
  async flush(groupId: string): Promise<string[]> {
    this.deadline.dispose();
    const unlogged: string[] = [];
    const jobs = [...this.teams].map(async ([teamId, tally]) => {
      try {
        await writeIntegrationLog(this.deps.ddb, this.deps.integrationLogTable, teamId, tally.entries, {
          ttlDays: this.deps.integrationLogTtlDays,
          now: this.now(),
          groupId,
          ...(tally.processed > 0 ? { webhookCounts: { processed: tally.processed, lastDeliveryAt: tally.lastReceivedAt } } : {}),
        });
      } catch (err) {
        logger.error('sync: could not write integration log; its deliveries are redelivered', { teamId, entries: tally.entries.length, messages: tally.done.length, ...errorFields(err) });
        unlogged.push(...tally.done);
        return;
      }
      this.counts.teams += 1;
      for (const e of tally.entries) this.counts.outcomes[e.outcome] = (this.counts.outcomes[e.outcome] ?? 0) + 1;
    });
    await Promise.all(jobs);
    this.teams.clear();
    this.counts.unlogged += unlogged.length;
    return unlogged;
  }

  /** The invocation's counts; complete once flush() has run. */
  summary(): SyncBatchSummary {
    return { ...this.counts, failed: this.failed, outcomes: { ...this.counts.outcomes } };
  }

  /**
   * Runs the message, but an appointment whose patient has a delivery EARLIER in this batch (a new patient and
   * their first appointment, booked seconds apart) first waits for that delivery to finish, whatever its outcome:
   * run side by side, the appointment finds no stored patient and fetches it from DrChrono (a call of the team's
   * budget, a secret read, DrChrono's latency) while the patient's own delivery is about to store it. Only earlier
   * records are waited for and patient deliveries never wait, so nothing can wait in a cycle, in parallel or in
   * sequential processing. Across batches (other containers) the two still race; the appointment then fetches.
   */
  private patientFirst(msg: IngestMessage): Promise<ProcessResult> {
    const signal = this.deadline.signal;
    const run = (): Promise<ProcessResult> => this.deps.process(msg, signal);
    const patient = deliveredPatientKey(msg);
    if (patient) {
      const work = run();
      const list = this.patientWork.get(patient) ?? [];
      list.push(work);
      this.patientWork.set(patient, list);
      return work;
    }
    const waitFor = referencedPatientKey(msg);
    const earlier = waitFor ? this.patientWork.get(waitFor) : undefined;
    if (!earlier) return run();
    return Promise.allSettled([...earlier]).then(() => {
      // The deadline passed while waiting: the race has answered for this message; it must not start now.
      if (signal.aborted) throw new InvocationDeadlineExceededError();
      return run();
    });
  }

  /** Deliveries given up on in this batch (logged as failed, on their way to the DLQ). */
  get failedDeliveries(): number {
    return this.failed;
  }

  private parse(record: SQSRecord): IngestMessage | undefined {
    let json: unknown;
    try {
      json = JSON.parse(record.body);
    } catch {
      return undefined;
    }
    const parsed = IngestMessageSchema.safeParse(json);
    if (!parsed.success) return undefined;
    const teamId = parseTeamId(parsed.data.teamId);
    return teamId ? { ...parsed.data, teamId } : undefined;
  }

  private tally(teamId: string): TeamTally {
    let t = this.teams.get(teamId);
    if (!t) this.teams.set(teamId, (t = { entries: [], processed: 0, done: [] }));
    return t;
  }

  private add(teamId: string, entry: IntegrationLogEntry): void {
    this.tally(teamId).entries.push(entry);
  }

  /**
   * The team's webhook counts count webhook deliveries only, not backfill or reconcile fetches: one per logged
   * delivery (done, or given up on). A message redelivered after it was processed (the invocation died before
   * SQS deleted it) is logged, and counted, again.
   */
  private count(msg: IngestMessage): void {
    if (msg.source !== 'webhook') return;
    const t = this.tally(msg.teamId);
    t.processed += 1;
    if (!t.lastReceivedAt || t.lastReceivedAt < msg.receivedAt) t.lastReceivedAt = msg.receivedAt;
  }
}

/** `teamId#patientId` of a delivery that stores a patient's state (flag events fetch the patient instead). */
function deliveredPatientKey(msg: IngestMessage): string | undefined {
  return msg.event === 'PATIENT_CREATE' || msg.event === 'PATIENT_MODIFY' ? `${msg.teamId}#${String(msg.object.id)}` : undefined;
}

/** `teamId#patientId` of the patient an appointment delivery names (a deletion reads no patient). */
function referencedPatientKey(msg: IngestMessage): string | undefined {
  if (msg.event !== 'APPOINTMENT_CREATE' && msg.event !== 'APPOINTMENT_MODIFY') return undefined;
  const patient = msg.object.patient;
  return typeof patient === 'number' || (typeof patient === 'string' && patient !== '') ? `${msg.teamId}#${String(patient)}` : undefined;
}

function describePlan(plan: ReturnType<typeof planDeferral>): string {
  if (plan.action === 'change-visibility') return `retry in ${plan.seconds}s`;
  if (plan.action === 'requeue') return `re-enqueued (generation ${plan.deferrals}) with delay ${plan.delaySeconds}s`;
  return 'gave up';
}

function joinDetail(a: string | undefined, b: string): string {
  return a ? `${a}; ${b}` : b;
}

export function failedEntry(msg: IngestMessage, now: Date, err: unknown): IntegrationLogEntry {
  return {
    at: now.toISOString(),
    event: msg.event,
    deliveryId: msg.deliveryId,
    drchronoId: String(msg.object.id),
    outcome: 'failed',
    ...errorFields(err),
  };
}
