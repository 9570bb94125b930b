import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readIntegrationLog, writeIntegrationLog, type IntegrationLogEntry } from '../store/integration-log';
import { DEFERRALS_ATTRIBUTE } from '../sync/deferral';
import { parseTeamId } from '../teams/team-id';
import { isPrintableObjectId } from '../webhook/envelope';
import { parseWorkItem } from '../team-job/work-item';
import { ChangeIdSchema, ChangeMessageSchema, type ChangeMessage } from '../write-back/change';

/**
 * Seeing and replaying dead letters (the ingest and backfill DLQs, and the write-back FIFO DLQ) without consuming
 * them by accident. Only ids leave this module: team, event, delivery or change id, DrChrono object id, age. A body
 * is parsed for those and dropped; nothing else from it (a DrChrono object, a change's payload: PHI) is ever
 * returned or printed.
 */
export const DEAD_LETTER_QUEUES = ['ingest', 'backfill', 'write-back'] as const;
export type DeadLetterQueue = (typeof DEAD_LETTER_QUEUES)[number];

export interface DeadLetter {
  queue: DeadLetterQueue;
  messageId: string;
  teamId?: string;
  /**
   * Ingest: the DrChrono event. Backfill: the work item type (`start`, `step`, `reconcile`, `deletion-check`).
   * Write-back: the change's log event (`WRITE_BACK_PATIENT_UPSERT`, ...; `WRITE_BACK_INVALID_MESSAGE` for a body
   * that is not a change message).
   */
  event?: string;
  /** The id the integration log files the work under (ingest: X-drchrono-delivery; backfill: the job or run). */
  deliveryId?: string;
  /** Write-back: the change id (the integration log files write-back entries under it). */
  changeId?: string;
  drchronoId?: string;
  /** When the message was first sent to the work queue (SQS keeps it across the move to the DLQ). */
  sentAt?: string;
  receiveCount?: number;
}

/** Listing hides each message at least this long; a listing slower than that sees a message twice and keeps one copy. */
export const LIST_VISIBILITY_SECONDS = 120;
/** Redrive hides a message at least this long while it is copied back; a crash leaves it to reappear after this. */
export const REDRIVE_VISIBILITY_SECONDS = 60;
/** Messages a pass is assumed to take in per second (10 per receive, a receive every ~200 ms, with a 2x margin). */
const RECEIVE_RATE_PER_SECOND = 25;
const MAX_VISIBILITY_SECONDS = 12 * 3600;

/** SQS names FIFO queues `<name>.fifo`; their messages carry a group id and need a deduplication id. */
export function isFifoQueueUrl(queueUrl: string): boolean {
  return queueUrl.endsWith('.fifo');
}

/**
 * The deduplication id of a redriven FIFO message: new per dead letter (its message id), never the original one.
 * The original (the change id) may still be in the work queue's 5-minute deduplication window (a poison message
 * dead-letters in about 100 s), and SQS would then accept the copy and silently drop it while we delete the dead
 * letter. A redrive that dies between its send and its delete and runs again within 5 minutes sends the same id,
 * so SQS keeps one copy; later than that a second copy is delivered, which the write-back worker ends as the
 * change's stored outcome (a change is applied once).
 */
export function redriveDeduplicationId(messageId: string): string {
  return `redrive-${messageId}`;
}

/**
 * The visibility timeout for one pass over the queue: at least `minSeconds`, and long enough for the pass to reach
 * the last message before the first one becomes visible again. Otherwise a large DLQ would keep handing back
 * messages already seen and a pass could not end.
 */
export async function passVisibilitySeconds(sqs: SQSClient, queueUrl: string, minSeconds: number): Promise<number> {
  return visibilityFor(await approximateVisibleCount(sqs, queueUrl), minSeconds);
}

function visibilityFor(count: number, minSeconds: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(minSeconds, Math.ceil(count / RECEIVE_RATE_PER_SECOND)));
}

async function approximateVisibleCount(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  const count = Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
  return Number.isFinite(count) && count > 0 ? count : 0;
}

const PRINTABLE_DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;

/** The ids of one dead letter; anything that is not a well-formed id is left out, never echoed. */
export function describeDeadLetter(queue: DeadLetterQueue, m: Message): DeadLetter {
  const attrTeam = parseTeamId(m.MessageAttributes?.teamId?.StringValue);
  const sent = Number(m.Attributes?.SentTimestamp);
  const receives = Number(m.Attributes?.ApproximateReceiveCount);
  const base: DeadLetter = {
    queue,
    messageId: m.MessageId ?? '',
    ...(attrTeam ? { teamId: attrTeam } : {}),
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    ...(Number.isFinite(receives) && receives > 0 ? { receiveCount: receives } : {}),
  };
  if (queue === 'write-back') return { ...base, ...describeChange(m, base.teamId) };
  if (queue === 'backfill') {
    const item = parseWorkItem(m.Body ?? '');
    if (!item) return base;
    const deliveryId =
      item.type === 'step' || (item.type === 'start' && item.jobId)
        ? `backfill:${item.jobId}`
        : item.type === 'start'
          ? `backfill:connect-${m.MessageId}`
          : `${item.type}:${item.runAt}`;
    return { ...base, teamId: base.teamId ?? item.teamId, event: item.type, ...(PRINTABLE_DELIVERY_ID.test(deliveryId) ? { deliveryId } : {}) };
  }
  let body: unknown;
  try {
    body = JSON.parse(m.Body ?? '');
  } catch {
    return { ...base, ...eventAttr(m) };
  }
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const obj = (b.object && typeof b.object === 'object' ? b.object : {}) as Record<string, unknown>;
  const teamId = base.teamId ?? parseTeamId(typeof b.teamId === 'string' ? b.teamId : undefined);
  const event = typeof b.event === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(b.event) ? b.event : eventAttr(m).event;
  const deliveryId = typeof b.deliveryId === 'string' && PRINTABLE_DELIVERY_ID.test(b.deliveryId) ? b.deliveryId : undefined;
  const id = obj.id;
  const drchronoId =
    typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? String(id) : typeof id === 'string' && isPrintableObjectId(id) ? id : undefined;
  return { ...base, ...(teamId ? { teamId } : {}), ...(event ? { event } : {}), ...(deliveryId ? { deliveryId } : {}), ...(drchronoId ? { drchronoId } : {}) };
}

/**
 * The write-back worker's log event of a change (shared/write-back/apply-change.ts changeEvent, which the unit test
 * compares with this), written out here so the CLI's dlq chunk does not load the worker and its mapping.
 */
export function changeLogEvent(m: Pick<ChangeMessage, 'entity' | 'op'>): string {
  return `WRITE_BACK_${m.entity.toUpperCase()}_${m.op.toUpperCase()}`;
}

/** A write-back dead letter's ids: from the change message, or from whatever ids still validate in a bad body. */
function describeChange(m: Message, attrTeam: string | undefined): Partial<DeadLetter> {
  let body: unknown;
  try {
    body = JSON.parse(m.Body ?? '');
  } catch {
    return { event: 'WRITE_BACK_INVALID_MESSAGE' };
  }
  const parsed = ChangeMessageSchema.safeParse(body);
  if (parsed.success) {
    const c = parsed.data;
    const teamId = attrTeam ?? parseTeamId(c.teamId);
    return {
      ...(teamId ? { teamId } : {}),
      event: changeLogEvent(c),
      changeId: c.changeId,
      ...(c.drchronoId !== null && isPrintableObjectId(c.drchronoId) ? { drchronoId: c.drchronoId } : {}),
    };
  }
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const teamId = attrTeam ?? parseTeamId(typeof b.teamId === 'string' ? b.teamId : undefined);
  const changeId = ChangeIdSchema.safeParse(b.changeId).success ? (b.changeId as string) : undefined;
  return { ...(teamId ? { teamId } : {}), event: 'WRITE_BACK_INVALID_MESSAGE', ...(changeId ? { changeId } : {}) };
}

function eventAttr(m: Message): { event?: string } {
  const e = m.MessageAttributes?.event?.StringValue;
  return e && /^[A-Z][A-Z0-9_]{0,63}$/.test(e) ? { event: e } : {};
}

interface Held {
  message: Message;
  receiptHandle: string;
}

async function receiveBatch(sqs: SQSClient, queueUrl: string, max: number, visibilitySeconds: number): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
      VisibilityTimeout: visibilitySeconds,
      // A long poll asks every SQS server, so an empty answer means the queue has nothing visible left.
      WaitTimeSeconds: 1,
      // MessageGroupId: FIFO only (a redriven copy keeps its group); standard queues ignore it.
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount', 'MessageGroupId'],
      MessageAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

/** Make held messages visible again at once. Returns how many SQS did not release (they reappear on their own). */
async function release(sqs: SQSClient, queueUrl: string, held: readonly Held[]): Promise<number> {
  let failed = 0;
  for (let i = 0; i < held.length; i += 10) {
    const chunk = held.slice(i, i + 10);
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((h, j) => ({ Id: String(j), ReceiptHandle: h.receiptHandle, VisibilityTimeout: 0 })),
        }),
      );
      failed += out.Failed?.length ?? 0;
    } catch {
      failed += chunk.length;
    }
  }
  return failed;
}

export interface ListResult {
  letters: DeadLetter[];
  /** Messages SQS did not make visible again; they reappear after LIST_VISIBILITY_SECONDS. */
  notReleased: number;
  /**
   * FIFO only: about how many more dead letters wait behind the listed ones in their message groups. SQS hands out
   * a group's next messages only once the ones in flight are deleted, so a listing that consumes nothing sees the
   * first message(s) of each group (fauxqs: exactly one; SQS: up to 10 per receive). Redrive deletes as it goes
   * and so reaches them all, in order.
   */
  behindInGroups: number;
}

/**
 * Every message in the DLQ, without consuming any: each is received with a short visibility timeout (so the
 * next receive returns the next ones) until a long poll comes back empty, then all are made visible again.
 * A FIFO DLQ shows each group's head only (see ListResult.behindInGroups).
 */
export async function listDeadLetters(sqs: SQSClient, queue: DeadLetterQueue, dlqUrl: string, minVisibilitySeconds = LIST_VISIBILITY_SECONDS): Promise<ListResult> {
  const visible = await approximateVisibleCount(sqs, dlqUrl);
  const visibilitySeconds = visibilityFor(visible, minVisibilitySeconds);
  const held = new Map<string, Held>();
  let notReleased = 0;
  try {
    for (;;) {
      const batch = await receiveBatch(sqs, dlqUrl, 10, visibilitySeconds);
      if (batch.length === 0) break;
      // A message seen again (the listing outlasted its visibility) keeps one entry, with its newest receipt.
      for (const m of batch) if (m.MessageId && m.ReceiptHandle) held.set(m.MessageId, { message: m, receiptHandle: m.ReceiptHandle });
    }
  } finally {
    notReleased = await release(sqs, dlqUrl, [...held.values()]);
  }
  const behindInGroups = isFifoQueueUrl(dlqUrl) ? Math.max(0, visible - held.size) : 0;
  return { letters: [...held.values()].map((h) => describeDeadLetter(queue, h.message)), notReleased, behindInGroups };
}

export interface RedriveOptions {
  queue: DeadLetterQueue;
  dlqUrl: string;
  sourceUrl: string;
  teamId?: string;
  /** Move at most this many. */
  max?: number;
  visibilitySeconds?: number;
  /** Called once a message is back on the source queue, before it is deleted from the DLQ (tests crash here). */
  afterSend?: (letter: DeadLetter) => Promise<void>;
}

export interface RedriveResult {
  moved: DeadLetter[];
  /** Messages looked at and left in the DLQ (another team, or past --max). */
  left: number;
  notReleased: number;
  /** Set when the redrive stopped on an error: `moved` still lists what was moved before it. */
  error?: unknown;
}

/**
 * Move dead letters back to their work queue: receive → send a copy → delete. A crash between the send and the
 * delete leaves the message in the DLQ (visible again after the visibility timeout) and its copy on the work
 * queue, so running the redrive again sends a second copy. That is safe by design: the sync worker's
 * version-guarded write makes a repeated delivery `unchanged`, and backfill steps commit conditionally on
 * their step number. The `deferrals` attribute is dropped so a redriven message gets a full set of deferrals.
 *
 * FIFO (write-back): a copy keeps its MessageGroupId and gets redriveDeduplicationId. Order within a group holds:
 * SQS hands out a group's messages in order and the next ones only after these are deleted, and each is sent and
 * deleted before the next; a stop (error, --max) leaves the group's rest, in order, in the DLQ. A team filter skips
 * whole groups (a group id starts with its team's id). The copies go behind whatever the record's group already
 * holds on the work queue (a change sent since): SQS cannot insert at the front.
 */
export async function redriveDeadLetters(sqs: SQSClient, opts: RedriveOptions): Promise<RedriveResult> {
  const visibility = await passVisibilitySeconds(sqs, opts.dlqUrl, opts.visibilitySeconds ?? REDRIVE_VISIBILITY_SECONDS);
  const fifo = isFifoQueueUrl(opts.sourceUrl);
  const max = opts.max ?? Number.POSITIVE_INFINITY;
  const moved: DeadLetter[] = [];
  /** Every message received and not yet moved: released at the end, whatever stopped the loop (a batch's rest too). */
  const held = new Map<string, Held>();
  let notReleased = 0;
  let error: unknown;
  try {
    while (moved.length < max) {
      const batch = await receiveBatch(sqs, opts.dlqUrl, 10, visibility);
      if (batch.length === 0) break;
      for (const m of batch) if (m.MessageId && m.ReceiptHandle) held.set(m.MessageId, { message: m, receiptHandle: m.ReceiptHandle });
      for (const m of batch) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        const letter = describeDeadLetter(opts.queue, m);
        if (moved.length >= max || (opts.teamId !== undefined && letter.teamId !== opts.teamId)) continue;
        const groupId = m.Attributes?.MessageGroupId;
        if (fifo && !groupId) throw new Error(`dead letter ${m.MessageId} has no message group id`);
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: opts.sourceUrl,
            MessageBody: m.Body ?? '',
            MessageAttributes: copyAttributes(m.MessageAttributes),
            ...(fifo ? { MessageGroupId: groupId, MessageDeduplicationId: redriveDeduplicationId(m.MessageId) } : {}),
          }),
        );
        if (opts.afterSend) await opts.afterSend(letter);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: opts.dlqUrl, ReceiptHandle: m.ReceiptHandle }));
        held.delete(m.MessageId);
        moved.push(letter);
      }
    }
  } catch (err) {
    // What was moved so far is reported (and logged by the caller), not lost with the error.
    error = err;
  } finally {
    // A process that dies here releases nothing: its messages reappear after the visibility timeout instead.
    notReleased = await release(sqs, opts.dlqUrl, [...held.values()]);
  }
  return { moved, left: held.size, notReleased, ...(error !== undefined ? { error } : {}) };
}

function copyAttributes(attrs: Record<string, MessageAttributeValue> | undefined): Record<string, MessageAttributeValue> | undefined {
  if (!attrs) return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, v] of Object.entries(attrs)) {
    if (name === DEFERRALS_ATTRIBUTE || !v.DataType) continue;
    out[name] = {
      DataType: v.DataType,
      ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue } : {}),
    };
  }
  return Object.keys(out).length ? out : undefined;
}

export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} has no ARN`);
  return arn;
}

export interface MoveTask {
  taskHandle: string;
  sourceArn: string;
  /** From ListMessageMoveTasks right after the start; undefined when SQS did not say yet. */
  approximateNumberOfMessagesToMove?: number;
}

/** SQS's own redrive (AWS only): moves every message of the DLQ to `sourceUrl`, asynchronously, inside SQS. */
export async function startMoveTask(sqs: SQSClient, dlqUrl: string, sourceUrl: string): Promise<MoveTask> {
  const sourceArn = await queueArn(sqs, dlqUrl);
  const destinationArn = await queueArn(sqs, sourceUrl);
  const out = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
  if (!out.TaskHandle) throw new Error('SQS started no message move task');
  const tasks = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 })).catch(() => undefined);
  const mine = tasks?.Results?.find((t) => t.TaskHandle === out.TaskHandle);
  return {
    taskHandle: out.TaskHandle,
    sourceArn,
    ...(mine?.ApproximateNumberOfMessagesToMove !== undefined ? { approximateNumberOfMessagesToMove: mine.ApproximateNumberOfMessagesToMove } : {}),
  };
}

export interface FailureReason {
  at: string;
  errorClass?: string;
  errorMessage?: string;
  detail?: string;
}

/** The integration log's failure entries can only be newer than the message; a minute of slack for clock skew. */
const REASON_LOOKBACK_MS = 60_000;
/** Failed entries read per team at most (DLQs keep 14 days; a team with more failures shows the newest). */
export const MAX_FAILED_ENTRIES_PER_TEAM = 5_000;

/**
 * The newest `failed` integration log entry of each dead letter's delivery, read once per team from the log
 * written since the team's oldest dead letter. Entries hold our own error classes and messages, never PHI.
 */
export async function failureReasons(ddb: DynamoDBDocumentClient, logTable: string, letters: readonly DeadLetter[]): Promise<Map<DeadLetter, FailureReason>> {
  const byTeam = new Map<string, DeadLetter[]>();
  for (const l of letters) if (l.teamId) byTeam.set(l.teamId, [...(byTeam.get(l.teamId) ?? []), l]);
  const reasons = new Map<DeadLetter, FailureReason>();
  for (const [teamId, mine] of byTeam) {
    const oldest = Math.min(...mine.map((l) => (l.sentAt ? Date.parse(l.sentAt) : 0)));
    const since = oldest > 0 ? new Date(oldest - REASON_LOOKBACK_MS).toISOString() : undefined;
    const failed = await readIntegrationLog(ddb, logTable, teamId, { outcome: 'failed', limit: MAX_FAILED_ENTRIES_PER_TEAM, ...(since ? { since } : {}) });
    // Keyed by delivery id (ingest, backfill) or by change id (write-back), newest first.
    const newest = new Map<string, IntegrationLogEntry>();
    for (const e of failed) {
      if (e.deliveryId && !newest.has(e.deliveryId)) newest.set(e.deliveryId, e);
      if (e.changeId && !newest.has(`change:${e.changeId}`)) newest.set(`change:${e.changeId}`, e);
    }
    for (const l of mine) {
      const e = l.changeId ? newest.get(`change:${l.changeId}`) : l.deliveryId ? newest.get(l.deliveryId) : undefined;
      if (e) reasons.set(l, { at: e.at, ...pick(e) });
    }
  }
  return reasons;
}

function pick(e: IntegrationLogEntry): Omit<FailureReason, 'at'> {
  return {
    ...(e.errorClass ? { errorClass: e.errorClass } : {}),
    ...(e.errorMessage ? { errorMessage: e.errorMessage } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

/**
 * One `info` entry per redriven message in its team's integration log (one write per team), so the log shows
 * the operator's redrive between the failure and the outcome of the new attempt.
 */
export async function logRedrives(ddb: DynamoDBDocumentClient, logTable: string, moved: readonly DeadLetter[], now: Date = new Date()): Promise<void> {
  const byTeam = new Map<string, IntegrationLogEntry[]>();
  for (const l of moved) {
    if (!l.teamId) continue;
    const entry: IntegrationLogEntry = {
      at: now.toISOString(),
      event: l.event ?? 'UNKNOWN',
      outcome: 'info',
      detail: `redriven from the ${l.queue} DLQ by an operator`,
      ...(l.deliveryId ? { deliveryId: l.deliveryId } : {}),
      ...(l.drchronoId ? { drchronoId: l.drchronoId } : {}),
      ...(l.changeId ? { changeId: l.changeId, direction: 'outbound' as const } : {}),
    };
    byTeam.set(l.teamId, [...(byTeam.get(l.teamId) ?? []), entry]);
  }
  for (const [teamId, entries] of byTeam) await writeIntegrationLog(ddb, logTable, teamId, entries, { now });
}
