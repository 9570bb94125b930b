import { mockClient } from 'aws-sdk-client-mock';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { changeLogEvent, describeDeadLetter, listDeadLetters, redriveDeadLetters, startMoveTask } from '../../../shared/dlq/dead-letters';
import { changeEvent } from '../../../shared/write-back/apply-change';
import { CHANGE_OPS, WRITE_ENTITIES } from '../../../shared/write-back/change';

const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);
const TEAM_A = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const TEAM_B = '9d1e0f4c-2b3a-4c5d-8e6f-7a8b9c0d1e2f';
const DLQ = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest-dlq';
const SRC = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest';
const SENT = Date.parse('2026-11-30T05:00:00.000Z');

function ingest(n: number, teamId = TEAM_A, extra: Record<string, unknown> = {}): Message {
  return {
    MessageId: `m-${teamId.slice(0, 4)}-${n}`,
    ReceiptHandle: `rh-${teamId.slice(0, 4)}-${n}`,
    Body: JSON.stringify({ v: 1, teamId, event: 'PATIENT_MODIFY', deliveryId: `d-${n}`, receivedAt: 'x', source: 'webhook', object: { id: 1000 + n, first_name: 'Secretname', ...extra } }),
    Attributes: { SentTimestamp: String(SENT), ApproximateReceiveCount: '6' },
    MessageAttributes: {
      teamId: { DataType: 'String', StringValue: teamId },
      event: { DataType: 'String', StringValue: 'PATIENT_MODIFY' },
      deferrals: { DataType: 'Number', StringValue: '48' },
    },
  };
}

/** A queue of messages served 10 at a time, each batch once, then empty receives. */
function serve(messages: Message[]): void {
  const chain = sqsMock.on(ReceiveMessageCommand);
  for (let i = 0; i < messages.length; i += 10) chain.resolvesOnce({ Messages: messages.slice(i, i + 10) });
  chain.resolves({});
}

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'new' });
  sqsMock.on(DeleteMessageCommand).resolves({});
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '23' } });
});

describe('describeDeadLetter', () => {
  it('keeps ids only: never a field value of the object', () => {
    const l = describeDeadLetter('ingest', ingest(1));
    expect(l).toEqual({ queue: 'ingest', messageId: 'm-0b7c-1', teamId: TEAM_A, event: 'PATIENT_MODIFY', deliveryId: 'd-1', drchronoId: '1001', sentAt: new Date(SENT).toISOString(), receiveCount: 6 });
    expect(JSON.stringify(l)).not.toContain('Secretname');
  });

  it('names no delivery or object for a body that is not an ingest message, and never echoes it', () => {
    const l = describeDeadLetter('ingest', { ...ingest(2), Body: 'Secretname is not json' });
    expect(l).toMatchObject({ teamId: TEAM_A, event: 'PATIENT_MODIFY' });
    expect(l.deliveryId).toBeUndefined();
    expect(JSON.stringify(l)).not.toContain('Secretname');
  });

  it('files backfill work items under the delivery id their failure is logged with', () => {
    const item = (body: unknown): Message => ({ MessageId: 'bm', Body: JSON.stringify(body) });
    expect(describeDeadLetter('backfill', item({ type: 'step', teamId: TEAM_A, jobId: 'j1', step: 3 }))).toMatchObject({ teamId: TEAM_A, event: 'step', deliveryId: 'backfill:j1' });
    expect(describeDeadLetter('backfill', item({ type: 'start', teamId: TEAM_A }))).toMatchObject({ deliveryId: 'backfill:connect-bm' });
    expect(describeDeadLetter('backfill', item({ type: 'reconcile', teamId: TEAM_A, runAt: '2026-11-30T05:00:00.000Z' }))).toMatchObject({ deliveryId: 'reconcile:2026-11-30T05:00:00.000Z' });
  });
});

describe('listDeadLetters', () => {
  it('receives until the queue answers empty and releases every message it saw (nothing consumed)', async () => {
    const messages = Array.from({ length: 23 }, (_, i) => ingest(i));
    serve(messages);
    const r = await listDeadLetters(sqs, 'ingest', DLQ);
    expect(r.letters.map((l) => l.deliveryId)).toEqual(messages.map((_, i) => `d-${i}`));
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(4);
    for (const c of sqsMock.commandCalls(ReceiveMessageCommand)) expect(c.args[0].input).toMatchObject({ VisibilityTimeout: 120, WaitTimeSeconds: 1 });
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries!);
    expect(released.map((e) => e.ReceiptHandle).sort()).toEqual(messages.map((m) => m.ReceiptHandle).sort());
    expect(released.every((e) => e.VisibilityTimeout === 0)).toBe(true);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('lists a message seen twice once, and releases it with its newest receipt', async () => {
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: [ingest(1)] }).resolvesOnce({ Messages: [{ ...ingest(1), ReceiptHandle: 'rh-newer' }] }).resolves({});
    const r = await listDeadLetters(sqs, 'ingest', DLQ);
    expect(r.letters).toHaveLength(1);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.Entries).toEqual([{ Id: '0', ReceiptHandle: 'rh-newer', VisibilityTimeout: 0 }]);
  });

  it('hides messages long enough for one pass over a large DLQ, so the pass can end', async () => {
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '100000' } });
    serve([ingest(1)]);
    await listDeadLetters(sqs, 'ingest', DLQ);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0]!.args[0].input.VisibilityTimeout).toBe(4000);
  });

  it('still releases what it holds when a receive fails', async () => {
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: [ingest(1)] }).rejects(new Error('throttled'));
    await expect(listDeadLetters(sqs, 'ingest', DLQ)).rejects.toThrow('throttled');
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(1);
  });
});

describe('redriveDeadLetters', () => {
  it('copies each message back (body and attributes, without the deferral count), then deletes it from the DLQ', async () => {
    serve([ingest(1)]);
    const r = await redriveDeadLetters(sqs, { queue: 'ingest', dlqUrl: DLQ, sourceUrl: SRC });
    expect(r.moved).toHaveLength(1);
    const sent = sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(sent).toEqual({
      QueueUrl: SRC,
      MessageBody: ingest(1).Body,
      MessageAttributes: { teamId: { DataType: 'String', StringValue: TEAM_A }, event: { DataType: 'String', StringValue: 'PATIENT_MODIFY' } },
    });
    expect(sqsMock.commandCalls(DeleteMessageCommand)[0]!.args[0].input).toEqual({ QueueUrl: DLQ, ReceiptHandle: 'rh-0b7c-1' });
  });

  it('moves only the given team and at most --max, releasing the rest at once', async () => {
    serve([ingest(1, TEAM_B), ingest(2), ingest(3), ingest(4, TEAM_B), ingest(5)]);
    const r = await redriveDeadLetters(sqs, { queue: 'ingest', dlqUrl: DLQ, sourceUrl: SRC, teamId: TEAM_A, max: 2 });
    expect(r.moved.map((l) => l.deliveryId)).toEqual(['d-2', 'd-3']);
    expect(r.left).toBe(3);
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle));
    expect(released.sort()).toEqual(['rh-0b7c-5', 'rh-9d1e-1', 'rh-9d1e-4']);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(2);
  });

  it('leaves a message whose copy was sent but not deleted in the DLQ (a crash there): a later run sends it again', async () => {
    serve([ingest(1)]);
    const crash = async () => {
      throw new Error('crash');
    };
    const r = await redriveDeadLetters(sqs, { queue: 'ingest', dlqUrl: DLQ, sourceUrl: SRC, afterSend: crash });
    expect((r.error as Error).message).toBe('crash');
    expect(r.moved).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.Entries!.map((e) => e.ReceiptHandle)).toEqual(['rh-0b7c-1']);
  });
});

describe('a redrive that stops on an error', () => {
  it('reports what it moved before the error, so the caller can print and log it', async () => {
    serve([ingest(1), ingest(2)]);
    sqsMock.on(SendMessageCommand).resolvesOnce({ MessageId: 'new' }).rejects(new Error('throttled'));
    const r = await redriveDeadLetters(sqs, { queue: 'ingest', dlqUrl: DLQ, sourceUrl: SRC });
    expect(r.moved.map((l) => l.deliveryId)).toEqual(['d-1']);
    expect((r.error as Error).message).toBe('throttled');
  });

  it('releases the rest of the batch it had not reached, not only the message it was moving', async () => {
    serve([ingest(1, TEAM_B), ingest(2), ingest(3, TEAM_B)]);
    const crash = async () => {
      throw new Error('crash');
    };
    const r = await redriveDeadLetters(sqs, { queue: 'ingest', dlqUrl: DLQ, sourceUrl: SRC, teamId: TEAM_A, afterSend: crash });
    expect(r.error).toBeDefined();
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle));
    expect(released.sort()).toEqual(['rh-0b7c-2', 'rh-9d1e-1', 'rh-9d1e-3']);
  });
});

describe('startMoveTask', () => {
  it('starts SQS message move task from the DLQ to the work queue and reports the count', async () => {
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DLQ }).resolves({ Attributes: { QueueArn: 'arn:dlq' } });
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: SRC }).resolves({ Attributes: { QueueArn: 'arn:src' } });
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'h1' });
    sqsMock.on(ListMessageMoveTasksCommand).resolves({ Results: [{ TaskHandle: 'h1', Status: 'RUNNING', ApproximateNumberOfMessagesToMove: 7 }] });
    expect(await startMoveTask(sqs, DLQ, SRC)).toEqual({ taskHandle: 'h1', sourceArn: 'arn:dlq', approximateNumberOfMessagesToMove: 7 });
    expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({ SourceArn: 'arn:dlq', DestinationArn: 'arn:src' });
  });
});

describe('the write-back FIFO DLQ', () => {
  const WB_DLQ = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-write-back-dlq.fifo';
  const WB_SRC = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-write-back.fifo';
  const changeId = (n: number) => `5b0c1e2d-3f4a-4b5c-8d6e-${String(n).padStart(12, '0')}`;
  const group = (teamId: string, record: string) => `${teamId}:patient:${record}`;

  function change(n: number, teamId = TEAM_A, record = 'rec1'): Message {
    const body = {
      v: 1,
      changeId: changeId(n),
      teamId,
      entity: 'patient',
      op: 'update',
      key: 'CHART-Secretchart',
      drchronoId: String(5000 + n),
      fieldsWritten: ['First Name'],
      payload: { first_name: 'Secretname' },
      baseVersion: null,
      requestedAt: '2026-11-30T05:00:00.000Z',
    };
    return {
      MessageId: `wb-${n}`,
      ReceiptHandle: `rh-wb-${n}`,
      Body: JSON.stringify(body),
      Attributes: { SentTimestamp: String(SENT), ApproximateReceiveCount: '101', MessageGroupId: group(teamId, record) },
      MessageAttributes: { teamId: { DataType: 'String', StringValue: teamId }, entity: { DataType: 'String', StringValue: 'patient' } },
    };
  }

  /**
   * A FIFO DLQ as SQS serves it: groups in order, one group's messages only while none of them is in flight
   * (fauxqs hands out one per group per receive; SQS may hand out more, never out of order).
   */
  function serveFifo(messages: Message[]): void {
    const queue = [...messages];
    const inFlight = new Map<string, Message>();
    sqsMock.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages?: number }) => {
      const locked = new Set([...inFlight.values()].map((m) => m.Attributes!.MessageGroupId));
      const out: Message[] = [];
      for (const m of queue) {
        const g = m.Attributes!.MessageGroupId!;
        if (out.length >= (input.MaxNumberOfMessages ?? 1) || locked.has(g)) continue;
        locked.add(g);
        out.push(m);
      }
      for (const m of out) {
        queue.splice(queue.indexOf(m), 1);
        inFlight.set(m.ReceiptHandle!, m);
      }
      return { Messages: out };
    });
    sqsMock.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
      inFlight.delete(input.ReceiptHandle);
      return {};
    });
  }

  it('describes a change by ids only: team, change event, change id, DrChrono id; never the payload or the key', () => {
    const l = describeDeadLetter('write-back', change(1));
    expect(l).toEqual({
      queue: 'write-back',
      messageId: 'wb-1',
      teamId: TEAM_A,
      event: 'WRITE_BACK_PATIENT_UPDATE',
      changeId: changeId(1),
      drchronoId: '5001',
      sentAt: new Date(SENT).toISOString(),
      receiveCount: 101,
    });
    expect(JSON.stringify(l)).not.toMatch(/Secretname|Secretchart/);
  });

  it('names a change by the event the write-back worker logs it under', () => {
    for (const entity of WRITE_ENTITIES) for (const op of CHANGE_OPS) expect(changeLogEvent({ entity, op })).toBe(changeEvent({ entity, op }));
  });

  it('names a body that is not a change message WRITE_BACK_INVALID_MESSAGE, with the ids that still validate, never echoing it', () => {
    const bad = { ...change(2), Body: JSON.stringify({ teamId: TEAM_A, changeId: changeId(2), payload: 'Secretname' }), MessageAttributes: {} };
    expect(describeDeadLetter('write-back', bad)).toMatchObject({ teamId: TEAM_A, event: 'WRITE_BACK_INVALID_MESSAGE', changeId: changeId(2) });
    const notJson = describeDeadLetter('write-back', { ...bad, Body: 'Secretname' });
    expect(notJson).toMatchObject({ event: 'WRITE_BACK_INVALID_MESSAGE' });
    expect(JSON.stringify(notJson)).not.toContain('Secretname');
  });

  it('redrives each copy into its own message group with a fresh deduplication id, in the order of each group', async () => {
    // Two records of team A (three changes, then one) and one of team B, interleaved as SQS keeps them.
    serveFifo([change(1, TEAM_A, 'r1'), change(2, TEAM_A, 'r2'), change(3, TEAM_A, 'r1'), change(4, TEAM_B, 'r3'), change(5, TEAM_A, 'r1')]);
    const r = await redriveDeadLetters(sqs, { queue: 'write-back', dlqUrl: WB_DLQ, sourceUrl: WB_SRC });
    expect(r.error).toBeUndefined();
    expect(r.left).toBe(0);
    for (const c of sqsMock.commandCalls(ReceiveMessageCommand)) expect(c.args[0].input.MessageSystemAttributeNames).toContain('MessageGroupId');
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toHaveLength(5);
    for (const s of sent) {
      const original = [1, 2, 3, 4, 5].map((n) => change(n, n === 4 ? TEAM_B : TEAM_A, n === 2 ? 'r2' : n === 4 ? 'r3' : 'r1')).find((m) => m.Body === s.MessageBody)!;
      expect(s).toEqual({
        QueueUrl: WB_SRC,
        MessageBody: original.Body,
        MessageAttributes: original.MessageAttributes,
        MessageGroupId: original.Attributes!.MessageGroupId,
        MessageDeduplicationId: `redrive-${original.MessageId}`,
      });
    }
    const orderOf = (g: string) => sent.filter((s) => s.MessageGroupId === g).map((s) => (JSON.parse(s.MessageBody!) as { changeId: string }).changeId);
    expect(orderOf(group(TEAM_A, 'r1'))).toEqual([changeId(1), changeId(3), changeId(5)]);
    expect(orderOf(group(TEAM_A, 'r2'))).toEqual([changeId(2)]);
    // Each copy is sent before its dead letter is deleted, and the next of the group only after that delete.
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(5);
  });

  it('--max and --team move a prefix of each group, in order; the rest stays in the DLQ', async () => {
    serveFifo([change(1, TEAM_A, 'r1'), change(2, TEAM_B, 'r3'), change(3, TEAM_A, 'r1'), change(4, TEAM_A, 'r1')]);
    const r = await redriveDeadLetters(sqs, { queue: 'write-back', dlqUrl: WB_DLQ, sourceUrl: WB_SRC, teamId: TEAM_A, max: 2 });
    expect(r.moved.map((l) => l.changeId)).toEqual([changeId(1), changeId(3)]);
    expect(sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageDeduplicationId)).toEqual(['redrive-wb-1', 'redrive-wb-3']);
  });

  it('stops, sending nothing, on a FIFO dead letter without a message group id', async () => {
    const m = change(1);
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: [{ ...m, Attributes: { SentTimestamp: String(SENT) } }] }).resolves({});
    const r = await redriveDeadLetters(sqs, { queue: 'write-back', dlqUrl: WB_DLQ, sourceUrl: WB_SRC });
    expect(String(r.error)).toContain('no message group id');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('lists the head of each group without consuming, and says how many wait behind them', async () => {
    serveFifo([change(1, TEAM_A, 'r1'), change(2, TEAM_A, 'r2'), change(3, TEAM_A, 'r1'), change(4, TEAM_A, 'r1')]);
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '4' } });
    const r = await listDeadLetters(sqs, 'write-back', WB_DLQ);
    expect(r.letters.map((l) => l.changeId)).toEqual([changeId(1), changeId(2)]);
    expect(r.behindInGroups).toBe(2);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('says nothing waits behind for a standard queue', async () => {
    serve([ingest(1)]);
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    expect((await listDeadLetters(sqs, 'ingest', DLQ)).behindInGroups).toBe(0);
  });
});
