import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { ApplyResult } from '../../../shared/write-back/apply-change';
import type { ChangeMessage } from '../../../shared/write-back/change';
import { MAX_CHANGE_ATTEMPTS, RECORD_START_RESERVE_MS, retryBackoffSeconds, WriteBackBatch } from '../../../shared/write-back/write-back-batch';
import { change, CHANGE_ID, NOW, TEAM } from './helpers';

function record(m: ChangeMessage | string, o: { id?: string; group?: string; receiveCount?: number } = {}): SQSRecord {
  return {
    messageId: o.id ?? 'm-1',
    receiptHandle: `rh-${o.id ?? 'm-1'}`,
    body: typeof m === 'string' ? m : JSON.stringify(m),
    attributes: {
      ApproximateReceiveCount: String(o.receiveCount ?? 1),
      SentTimestamp: '0',
      SenderId: 'x',
      ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: o.group ?? 'g-1',
      MessageDeduplicationId: o.id ?? 'm-1',
      SequenceNumber: '1',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo',
    awsRegion: 'us-east-1',
  };
}

const entry = { at: NOW.toISOString(), event: 'WRITE_BACK_PATIENT_UPDATE', direction: 'outbound' as const, changeId: CHANGE_ID, entity: 'patient' as const };

function setup(results: ApplyResult[] | ((m: ChangeMessage) => ApplyResult), o: { remainingMs?: () => number } = {}) {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddbMock = mockClient(ddb);
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
  ddbMock.on(PutCommand).resolves({});
  const sqs = new SQSClient({ region: 'us-east-1' });
  const sqsMock = mockClient(sqs);
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  const applied: string[] = [];
  const batch = new WriteBackBatch({
    ddb,
    sqs,
    teamsTable: 'teams',
    integrationLogTable: 'log',
    queueUrl: 'q.fifo',
    maxReceiveCount: 100,
    integrationLogTtlDays: 90,
    now: () => NOW,
    ...o,
    apply: async (m) => {
      applied.push(m.changeId);
      return typeof results === 'function' ? results(m) : results.shift()!;
    },
  });
  const logged = () =>
    ddbMock
      .commandCalls(PutCommand)
      .filter((c) => c.args[0].input.TableName === 'log')
      .flatMap((c) => (c.args[0].input.Item as { e: { o: number }[] }).e);
  return { batch, ddbMock, sqsMock, applied, logged };
}

const visibility = (s: ReturnType<typeof setup>) => s.sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input.VisibilityTimeout);

describe('WriteBackBatch', () => {
  it('acknowledges a final change, writes its log entry, then marks it logged', async () => {
    const s = setup([{ status: 'final', changeId: CHANGE_ID, entry: { ...entry, outcome: 'applied' }, extra: [] }]);
    await s.batch.handleRecord(record(change()));
    expect(await s.batch.flush('req-1')).toEqual([]);
    expect(s.logged()).toHaveLength(1);
    const marks = s.ddbMock.commandCalls(UpdateCommand).filter((c) => c.args[0].input.ExpressionAttributeNames?.['#a'] === 'loggedAt');
    expect(marks).toHaveLength(1);
  });

  it('reports a final change as a failure when its log entry cannot be written, and does not mark it logged', async () => {
    const s = setup([{ status: 'final', changeId: CHANGE_ID, entry: { ...entry, outcome: 'applied' }, extra: [] }]);
    s.ddbMock.on(PutCommand).rejects(new Error('throttled'));
    await s.batch.handleRecord(record(change(), { id: 'm-9' }));
    expect(await s.batch.flush('req-1')).toEqual(['m-9']);
    expect(s.ddbMock.commandCalls(UpdateCommand).filter((c) => c.args[0].input.ExpressionAttributeNames?.['#a'] === 'loggedAt')).toEqual([]);
  });

  it('defers by hiding the message (never re-sending it), logging "deferred", and failing the record', async () => {
    const s = setup([{ status: 'defer', delaySeconds: 1800, entry: { ...entry, outcome: 'deferred', detail: 'team API budget exhausted' } }]);
    await expect(s.batch.handleRecord(record(change()))).rejects.toThrow('deferred');
    expect(visibility(s)).toEqual([1800]);
    await s.batch.flush('r');
    expect(s.logged()).toHaveLength(1);
  });

  it('counts a retryable failure and backs off by visibility 10·2^(n−1) s', async () => {
    const s = setup([{ status: 'retry', error: new Error('boom'), entry: { ...entry, outcome: 'failed' } }]);
    s.ddbMock.on(UpdateCommand).resolves({ Attributes: { attempts: 3 } });
    await expect(s.batch.handleRecord(record(change()))).rejects.toThrow('failed');
    expect(visibility(s)).toEqual([40]);
    expect([retryBackoffSeconds(1), retryBackoffSeconds(7), retryBackoffSeconds(20)]).toEqual([10, 640, 900]);
  });

  it(`ends the change failed after ${MAX_CHANGE_ATTEMPTS} attempts, logs it and acknowledges`, async () => {
    const s = setup([{ status: 'retry', error: new Error('boom'), entry: { ...entry, outcome: 'failed', errorClass: 'DrChronoServerError' } }]);
    s.ddbMock.on(UpdateCommand).resolves({ Attributes: { attempts: MAX_CHANGE_ATTEMPTS } });
    await s.batch.handleRecord(record(change()));
    const ends = s.ddbMock.commandCalls(UpdateCommand).filter((c) => c.args[0].input.ExpressionAttributeValues?.[':status'] === 'failed');
    expect(ends).toHaveLength(1);
    expect(String(ends[0]!.args[0].input.ExpressionAttributeValues?.[':reason'])).toBe('failed 5 times: DrChronoServerError');
    await s.batch.flush('r');
    expect(s.logged()).toHaveLength(1);
    expect(visibility(s)).toEqual([]);
  });

  it('ends the change failed on the last receive before the redrive instead of deferring again', async () => {
    const s = setup([{ status: 'defer', delaySeconds: 60, entry: { ...entry, outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' } }]);
    await s.batch.handleRecord(record(change(), { receiveCount: 100 }));
    expect(s.ddbMock.commandCalls(UpdateCommand).some((c) => c.args[0].input.ExpressionAttributeValues?.[':status'] === 'failed')).toBe(true);
    expect(visibility(s)).toEqual([]);
  });

  it('fails a body that is not a change message (to the DLQ), ends its change failed when the ids are readable, logs ids only', async () => {
    const s = setup([]);
    const body = JSON.stringify({ ...change(), payload: 'not an object', v: 2 });
    await expect(s.batch.handleRecord(record(body))).rejects.toThrow('not a change message');
    expect(s.applied).toEqual([]);
    const ends = s.ddbMock.commandCalls(UpdateCommand).filter((c) => c.args[0].input.ExpressionAttributeValues?.[':status'] === 'failed');
    expect(ends.map((c) => c.args[0].input.Key)).toEqual([{ pk: TEAM, sk: `CHANGE#${CHANGE_ID}` }]);
    await s.batch.flush('r');
    expect(s.logged()).toHaveLength(1);
  });

  it('under the FIFO processor, a deferred message holds back the rest of its group only', async () => {
    const a1 = change({ changeId: '00000000-0000-4000-8000-0000000000a1' });
    const a2 = change({ changeId: '00000000-0000-4000-8000-0000000000a2' });
    const b1 = change({ changeId: '00000000-0000-4000-8000-0000000000b1', key: 'OTHER' });
    const s = setup((m) =>
      m.changeId === a1.changeId
        ? { status: 'defer', delaySeconds: 30, entry: { ...entry, outcome: 'deferred' } }
        : { status: 'final', changeId: m.changeId, entry: { ...entry, changeId: m.changeId, outcome: 'applied' }, extra: [] },
    );
    const event = { Records: [record(a1, { id: 'a1', group: 'A' }), record(a2, { id: 'a2', group: 'A' }), record(b1, { id: 'b1', group: 'B' })] };
    const res = await processPartialResponse(event, s.batch.handleRecord, new SqsFifoPartialProcessorAsync(), {
      context: {} as Context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    });
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a1', 'a2']);
    expect(s.applied).toEqual([a1.changeId, b1.changeId]);
  });

  it('says "may have been applied" when it gives up on a change whose write was already sent', async () => {
    const s = setup([{ status: 'retry', error: new Error('boom'), entry: { ...entry, outcome: 'failed', errorClass: 'DrChronoServerError' } }]);
    s.ddbMock.on(UpdateCommand).resolves({ Attributes: { attempts: MAX_CHANGE_ATTEMPTS } });
    const m = change();
    s.ddbMock.on(GetCommand).resolves({
      Item: { pk: TEAM, sk: `CHANGE#${CHANGE_ID}`, changeId: CHANGE_ID, teamId: TEAM, entity: 'patient', op: 'update', key: m.key, drchronoId: m.drchronoId, fieldsWritten: ['Email'], baseVersion: null, requestedAt: m.requestedAt, status: 'pending', writeAttemptedAt: NOW.toISOString() },
    });
    await s.batch.handleRecord(record(m));
    const ends = s.ddbMock.commandCalls(UpdateCommand).filter((c) => c.args[0].input.ExpressionAttributeValues?.[':status'] === 'failed');
    expect(String(ends[0]!.args[0].input.ExpressionAttributeValues?.[':reason'])).toBe('failed 5 times: DrChronoServerError; may have been applied in DrChrono (a write was sent)');
  });

  it('makes the messages skipped behind a failed one visible again at once, so the failed one\'s backoff holds', async () => {
    const a1 = change({ changeId: '00000000-0000-4000-8000-0000000000a1' });
    const a2 = change({ changeId: '00000000-0000-4000-8000-0000000000a2' });
    const s = setup([{ status: 'retry', error: new Error('boom'), entry: { ...entry, outcome: 'failed' } }]);
    const records = [record(a1, { id: 'a1', group: 'A' }), record(a2, { id: 'a2', group: 'A' })];
    const res = await processPartialResponse({ Records: records }, s.batch.handleRecord, new SqsFifoPartialProcessorAsync(), {
      context: {} as Context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    });
    await s.batch.releaseSkipped(records, res.batchItemFailures.map((f) => f.itemIdentifier));
    const calls = s.sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => [c.args[0].input.ReceiptHandle, c.args[0].input.VisibilityTimeout]);
    expect(calls).toEqual([
      ['rh-a1', 10],
      ['rh-a2', 0],
    ]);
  });

  it('does not start a record with too little of the invocation left: unprocessed, failed, released', async () => {
    const s = setup([], { remainingMs: () => RECORD_START_RESERVE_MS - 1 });
    const r = record(change());
    await expect(s.batch.handleRecord(r)).rejects.toThrow('not started');
    expect(s.applied).toEqual([]);
    await s.batch.releaseSkipped([r], ['m-1']);
    expect(visibility(s)).toEqual([0]);
  });
});
