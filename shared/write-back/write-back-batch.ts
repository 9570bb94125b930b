import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { errorFields, logger } from '../logging/logger';
import { writeIntegrationLog, type IntegrationLogEntry } from '../store/integration-log';
import { MAX_VISIBILITY_SECONDS, receiveCountOf } from '../sync/deferral';
import { parseTeamId } from '../teams/team-id';
import type { ApplyResult } from './apply-change';
import { changeEvent } from './apply-change';
import { ChangeIdSchema, ChangeMessageSchema, type ChangeMessage } from './change';
import { changeProgress, markChangeLogged, mayHaveBeenWritten } from './change-progress';
import { completeChange, countChangeAttempt, getChange } from './change-store';

/**
 * One batch of the write-back FIFO queue (docs/write-back.md "Failures and retries"): turns each message's
 * ApplyResult into SQS semantics and writes the integration log once per team per batch.
 *
 *  - Deferrals never re-send the message (a copy would go to the back of its group and reorder the record's
 *    changes): the message stays in flight with a longer visibility (ChangeMessageVisibility) and is reported as a
 *    batch item failure; the group is blocked meanwhile, which is the point.
 *  - Retryable failures are counted on the change item (countChangeAttempt) and backed off by visibility,
 *    min(10·2^(n−1), 900) s; after MAX_CHANGE_ATTEMPTS the change ends `failed` and the message is acknowledged.
 *  - The handler runs this under Powertools' SqsFifoPartialProcessor with skipGroupOnError: a message that fails or
 *    defers holds back the later messages of ITS group in the batch (reported as failures, unprocessed); other
 *    groups go on.
 *  - A body that is not a change message cannot be processed by any later receive either: its change (when the ids
 *    are readable) ends `failed`, it is logged by ids, and it is failed quickly until the queue's redrive moves it
 *    to the DLQ (maxReceiveCount), never acknowledged silently.
 */
export const MAX_CHANGE_ATTEMPTS = 5;
export const RETRY_BASE_SECONDS = 10;
export const RETRY_MAX_SECONDS = 900;
/** A poison body comes back at once (after this visibility) until the redrive policy moves it to the DLQ. */
export const POISON_VISIBILITY_SECONDS = 1;

export function retryBackoffSeconds(attempts: number): number {
  return Math.min(RETRY_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_SECONDS);
}

export interface WriteBackBatchDeps {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  teamsTable: string;
  integrationLogTable: string;
  queueUrl: string;
  maxReceiveCount: number;
  integrationLogTtlDays: number;
  apply: (msg: ChangeMessage) => Promise<ApplyResult>;
  now?: () => Date;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); no deadline when omitted. */
  remainingMs?: () => number;
  /** A record is not started with less than this left (default RECORD_START_RESERVE_MS). */
  recordReserveMs?: number;
}

/**
 * A change takes 2–3 DrChrono calls plus DynamoDB writes. With less than this left it is not started: it is reported
 * as a failure and made visible again at once, unprocessed (the next invocation takes it, in order).
 */
export const RECORD_START_RESERVE_MS = 30_000;

/** Thrown to make Powertools report a record as a batch item failure; carries ids only. */
export class WriteBackRecordFailure extends Error {
  override name = 'WriteBackRecordFailure';
}

export class InvalidChangeMessageError extends Error {
  override name = 'InvalidChangeMessageError';
}

interface TeamTally {
  entries: IntegrationLogEntry[];
  /** Final changes whose entries are in `entries`: marked logged after the write. */
  finals: { messageId: string; changeId: string }[];
}

export class WriteBackBatch {
  private readonly teams = new Map<string, TeamTally>();
  /** Records handleRecord ran for: any other failed record of the batch was skipped (its group held back). */
  private readonly started = new Set<string>();
  private readonly now: () => Date;

  constructor(private readonly deps: WriteBackBatchDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** The Powertools record handler: resolves to acknowledge, throws to keep the message (and hold its group). */
  readonly handleRecord = async (record: SQSRecord): Promise<void> => {
    if (this.deps.remainingMs && this.deps.remainingMs() < (this.deps.recordReserveMs ?? RECORD_START_RESERVE_MS)) {
      // Not started (see releaseSkipped): nothing counted, nothing logged, nothing written.
      logger.info('write-back: not started before the invocation deadline', { messageId: record.messageId });
      throw new WriteBackRecordFailure(`message ${record.messageId} not started`);
    }
    this.started.add(record.messageId);
    const receiveCount = receiveCountOf(record);
    const msg = parse(record.body);
    if (!msg) return this.poison(record, receiveCount);
    const ids = { teamId: msg.teamId, changeId: msg.changeId, messageId: record.messageId };

    let result: ApplyResult;
    try {
      result = await this.deps.apply(msg);
    } catch (err) {
      // apply() classifies what it knows; anything else (a bug) is a retryable failure, bounded like the others.
      result = { status: 'retry', error: err, entry: { at: this.now().toISOString(), event: changeEvent(msg), direction: 'outbound', changeId: msg.changeId, entity: msg.entity, outcome: 'failed', ...errorFields(err) } };
    }

    if (result.status === 'done') {
      logger.info('write-back: nothing to do', ids);
      return;
    }
    if (result.status === 'final') {
      const t = this.tally(msg.teamId);
      t.entries.push(result.entry, ...result.extra);
      t.finals.push({ messageId: record.messageId, changeId: result.changeId });
      logger.info('write-back: change ended', { ...ids, outcome: result.entry.outcome });
      return;
    }
    // The last receive before the redrive: end the change rather than let it reach the DLQ unexplained.
    if (receiveCount >= this.deps.maxReceiveCount) {
      return this.giveUp(msg, record, `${result.status === 'defer' ? 'still deferred' : 'still failing'} after ${receiveCount} receives: ${result.entry.errorClass ?? 'unknown'}`);
    }
    if (result.status === 'defer') {
      const seconds = Math.min(Math.max(1, Math.ceil(result.delaySeconds)), MAX_VISIBILITY_SECONDS);
      await this.hide(record, seconds);
      this.tally(msg.teamId).entries.push({ ...result.entry, detail: `${result.entry.detail ?? 'deferred'}; retry in ${seconds}s` });
      logger.info('write-back: deferred', { ...ids, reason: result.entry.errorClass, seconds });
      throw new WriteBackRecordFailure(`message ${record.messageId} deferred`);
    }

    logger.warn('write-back: failed', { ...ids, receiveCount, ...errorFields(result.error) });
    let attempts: number | undefined;
    try {
      attempts = await countChangeAttempt(this.deps.ddb, this.deps.teamsTable, msg.teamId, msg.changeId);
    } catch (err) {
      logger.error('write-back: could not count the attempt', { ...ids, ...errorFields(err) });
      throw new WriteBackRecordFailure(`message ${record.messageId} failed`);
    }
    if (attempts !== undefined && attempts >= MAX_CHANGE_ATTEMPTS) {
      return this.giveUp(msg, record, `failed ${attempts} times: ${result.entry.errorClass ?? 'unknown'}`);
    }
    // attempts undefined: the change is not pending any more; the next receive logs its stored outcome.
    await this.hide(record, retryBackoffSeconds(attempts ?? 1));
    throw new WriteBackRecordFailure(`message ${record.messageId} failed`);
  };

  /**
   * Write the collected entries, one log write per team, then mark the final changes logged. Returns the message ids
   * to report as failures: final changes whose entries could not be written (redelivered, they find the change
   * final and not logged, and write the entry then; they are never applied again).
   */
  async flush(groupId: string): Promise<string[]> {
    const unlogged: string[] = [];
    await Promise.all(
      [...this.teams].map(async ([teamId, tally]) => {
        try {
          await writeIntegrationLog(this.deps.ddb, this.deps.integrationLogTable, teamId, tally.entries, {
            ttlDays: this.deps.integrationLogTtlDays,
            now: this.now(),
            groupId,
          });
        } catch (err) {
          logger.error('write-back: could not write the integration log; its changes are redelivered', { teamId, entries: tally.entries.length, ...errorFields(err) });
          unlogged.push(...tally.finals.map((f) => f.messageId));
          return;
        }
        for (const f of tally.finals) {
          try {
            await markChangeLogged(this.deps.ddb, this.deps.teamsTable, teamId, f.changeId, this.now());
          } catch (err) {
            // The entry is written; at worst a redelivery of this message logs it a second time.
            logger.warn('write-back: could not mark the change logged', { teamId, changeId: f.changeId, ...errorFields(err) });
          }
        }
      }),
    );
    this.teams.clear();
    return unlogged;
  }

  /**
   * Failed records handleRecord never ran for (skipped behind a failed message of their FIFO group, or not started
   * before the deadline) would keep the receive's visibility (6 min) and, being in flight, lock their group that
   * long: the failed message's own 10/20/40 s backoff would really wait 6 min. They are made visible again at once;
   * the group still waits for its hidden head message, so order holds.
   */
  async releaseSkipped(records: SQSRecord[], failedIds: string[]): Promise<void> {
    const failed = new Set(failedIds);
    await Promise.all(
      records
        .filter((r) => failed.has(r.messageId) && !this.started.has(r.messageId))
        .map((r) =>
          this.hide(r, 0).catch((err: unknown) => logger.warn('write-back: could not release a skipped message', { messageId: r.messageId, ...errorFields(err) })),
        ),
    );
  }

  private async giveUp(msg: ChangeMessage, record: SQSRecord, why: string): Promise<void> {
    const ids = { teamId: msg.teamId, changeId: msg.changeId, messageId: record.messageId };
    // "failed" must not read as "not applied" when a write was sent: DrChrono may hold it.
    const before = await getChange(this.deps.ddb, this.deps.teamsTable, msg.teamId, msg.changeId).catch(() => undefined);
    const reason = before && mayHaveBeenWritten(changeProgress(before)) ? `${why}; may have been applied in DrChrono (a write was sent)` : why;
    const outcome = { status: 'failed' as const, reason };
    const set = await completeChange(this.deps.ddb, this.deps.teamsTable, msg.teamId, msg.changeId, outcome, this.now());
    const stored = set ? undefined : await getChange(this.deps.ddb, this.deps.teamsTable, msg.teamId, msg.changeId);
    logger.warn('write-back: change failed', { ...ids, reason: set ? reason : 'already final' });
    if (!set && (!stored || typeof stored.loggedAt === 'string')) return;
    const t = this.tally(msg.teamId);
    t.entries.push({
      at: this.now().toISOString(),
      event: changeEvent(msg),
      direction: 'outbound',
      changeId: msg.changeId,
      entity: msg.entity,
      ...(msg.key !== null ? { key: msg.key } : {}),
      ...(msg.drchronoId !== null ? { drchronoId: msg.drchronoId } : {}),
      outcome: set ? 'failed' : (stored!.status as IntegrationLogEntry['outcome']),
      fieldsWritten: [],
      detail: set ? reason : (stored!.reason ?? 'ended earlier'),
    });
    t.finals.push({ messageId: record.messageId, changeId: msg.changeId });
  }

  private async poison(record: SQSRecord, receiveCount: number): Promise<void> {
    // Only ids that validate as ids are read from a body that failed the schema (anything else may be PHI).
    const raw = rawIds(record.body);
    logger.error('write-back: invalid change message', { messageId: record.messageId, teamId: raw.teamId, changeId: raw.changeId, receiveCount });
    if (raw.teamId && raw.changeId) {
      const reason = 'message body does not match the change message schema';
      try {
        const set = await completeChange(this.deps.ddb, this.deps.teamsTable, raw.teamId, raw.changeId, { status: 'failed', reason }, this.now());
        if (set) {
          this.tally(raw.teamId).entries.push({
            at: this.now().toISOString(),
            event: 'WRITE_BACK_INVALID_MESSAGE',
            direction: 'outbound',
            changeId: raw.changeId,
            outcome: 'failed',
            errorClass: 'InvalidChangeMessageError',
            detail: `${reason}; moving to the DLQ`,
          });
        }
      } catch (err) {
        logger.error('write-back: could not end the invalid change', { messageId: record.messageId, ...errorFields(err) });
      }
    }
    await this.hide(record, POISON_VISIBILITY_SECONDS).catch(() => undefined);
    throw new InvalidChangeMessageError(`message ${record.messageId} is not a change message`);
  }

  private async hide(record: SQSRecord, seconds: number): Promise<void> {
    await this.deps.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.deps.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }));
  }

  private tally(teamId: string): TeamTally {
    let t = this.teams.get(teamId);
    if (!t) this.teams.set(teamId, (t = { entries: [], finals: [] }));
    return t;
  }
}

function parse(body: string): ChangeMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const r = ChangeMessageSchema.safeParse(json);
  if (!r.success) return undefined;
  const teamId = parseTeamId(r.data.teamId);
  return teamId ? { ...r.data, teamId } : undefined;
}

function rawIds(body: string): { teamId?: string; changeId?: string } {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    if (!j || typeof j !== 'object') return {};
    const teamId = parseTeamId(typeof j.teamId === 'string' ? j.teamId : undefined);
    const changeId = ChangeIdSchema.safeParse(j.changeId).success ? (j.changeId as string) : undefined;
    return { ...(teamId ? { teamId } : {}), ...(changeId ? { changeId } : {}) };
  } catch {
    return {};
  }
}
