import { mockClient } from 'aws-sdk-client-mock';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { FLUSH_RESERVE_MS, SyncBatch, type SyncBatchDeps } from '../../../shared/sync/sync-batch';
import type { ProcessResult } from '../../../shared/sync/process-ingest-message';
import { decodeIntegrationLogItem } from '../../../shared/store/integration-log';
import { message, NOW, TEAM } from './helpers';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);
const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(UpdateCommand).resolves({});
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  sqsMock.on(SendMessageCommand).resolves({});
});

function sqsRecord(body: unknown, receiveCount = 1, id = 'm1'): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(receiveCount) } as SQSRecord['attributes'],
    messageAttributes: { teamId: { dataType: 'String', stringValue: TEAM } as SQSRecord['messageAttributes'][string] },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn',
    awsRegion: 'us-east-1',
  };
}

function batch(process: SyncBatchDeps['process'], over: Partial<SyncBatchDeps> = {}): SyncBatch {
  const deps: SyncBatchDeps = {
    ...over,
    ddb,
    sqs,
    integrationLogTable: 'log',
    ingestQueueUrl: 'queue-url',
    maxReceiveCount: 5,
    integrationLogTtlDays: 30,
    process,
    now: () => NOW,
  };
  return new SyncBatch(deps);
}

const entry = { at: NOW.toISOString(), event: 'PATIENT_MODIFY', deliveryId: 'delivery-1', drchronoId: '1' };
const msg = message('PATIENT_MODIFY', { id: 1 });

function loggedEntries(): Record<string, unknown>[] {
  return ddbMock.commandCalls(PutCommand, { TableName: 'log' }).flatMap((c) => decodeIntegrationLogItem(c.args[0].input.Item!) ?? []);
}

describe('SyncBatch', () => {
  it('acknowledges processed messages and writes their entries with the team\'s webhook counts in one log write, and no team item write', async () => {
    const b = batch(async () => ({ status: 'done', entries: [{ ...entry, outcome: 'updated' }] }));
    await b.handleRecord(sqsRecord(msg, 1, 'a'));
    await b.handleRecord(sqsRecord({ ...msg, receivedAt: '2026-11-21T10:14:30.000Z' }, 1, 'b'));
    await b.flush('req-1');
    const puts = ddbMock.commandCalls(PutCommand, { TableName: 'log' });
    expect(puts).toHaveLength(1);
    expect(puts[0]!.args[0].input.Item).toMatchObject({ wn: 2, wl: '2026-11-21T10:14:30.000Z' });
    expect(loggedEntries()).toHaveLength(2);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('sums what the batch did for the invocation\'s summary line', async () => {
    const results: ProcessResult[] = [
      { status: 'done', entries: [{ ...entry, outcome: 'updated' }, { ...entry, entity: 'employee', outcome: 'created' }] },
      { status: 'defer', delaySeconds: 60, entry: { ...entry, outcome: 'deferred' } },
      { status: 'retry', entry: { ...entry, outcome: 'failed' }, error: new Error('502') },
      { status: 'retry', entry: { ...entry, outcome: 'failed' }, error: new Error('502') },
    ];
    const b = batch(async () => results.shift()!);
    await b.handleRecord(sqsRecord(msg, 1, 'a'));
    await expect(b.handleRecord(sqsRecord(msg, 1, 'b'))).rejects.toThrow('deferred');
    await expect(b.handleRecord(sqsRecord(msg, 2, 'c'))).rejects.toThrow('failed');
    await expect(b.handleRecord(sqsRecord(msg, 5, 'd'))).rejects.toThrow('failed');
    await b.flush('req');
    expect(b.summary()).toEqual({
      messages: 4,
      teams: 1,
      done: 1,
      deferred: 1,
      retried: 1,
      failed: 1,
      unlogged: 0,
      outcomes: { updated: 1, created: 1, deferred: 1, failed: 1 },
    });
  });

  it('fails a message whose body is not an ingest message, and logs it as failed on the last receive', async () => {
    const b = batch(async () => {
      throw new Error('must not be called');
    });
    await expect(b.handleRecord(sqsRecord('{"not":"ingest"}', 1))).rejects.toThrow('does not match');
    await expect(b.handleRecord(sqsRecord('not json', 5))).rejects.toThrow('does not match');
    await b.flush('req');
    expect(loggedEntries()).toEqual([expect.objectContaining({ outcome: 'failed', errorClass: 'InvalidIngestMessageError' })]);
  });

  it('defers by changing the visibility and keeps the message while the receive count is low', async () => {
    const b = batch(async () => ({ status: 'defer', delaySeconds: 600, entry: { ...entry, outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' } }));
    await expect(b.handleRecord(sqsRecord(msg, 1))).rejects.toThrow('deferred');
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)[0]!.args[0].input).toMatchObject({ ReceiptHandle: 'rh-m1', VisibilityTimeout: 600 });
    await b.flush('req');
    expect(loggedEntries()).toEqual([expect.objectContaining({ outcome: 'deferred', detail: expect.stringContaining('retry in 600s') })]);
  });

  it('re-enqueues a copy and acknowledges the original when another receive could reach the DLQ', async () => {
    const b = batch(async () => ({ status: 'defer', delaySeconds: 3000, entry: { ...entry, outcome: 'deferred' } }));
    await expect(b.handleRecord(sqsRecord(msg, 4))).resolves.toBeUndefined();
    expect(sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input).toMatchObject({ QueueUrl: 'queue-url', DelaySeconds: 900 });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it('fails a retryable error without a log entry before the last receive', async () => {
    const b = batch(async () => ({ status: 'retry', entry: { ...entry, outcome: 'failed', errorClass: 'DrChronoServerError' }, error: new Error('502') }));
    await expect(b.handleRecord(sqsRecord(msg, 2))).rejects.toThrow('failed');
    await b.flush('req');
    expect(loggedEntries()).toEqual([]);
  });

  it('logs the reason as failed on the last receive, before SQS moves the message to the DLQ', async () => {
    const b = batch(async () => ({ status: 'retry', entry: { ...entry, outcome: 'failed', errorClass: 'DrChronoServerError' }, error: new Error('502') }));
    await expect(b.handleRecord(sqsRecord(msg, 5))).rejects.toThrow('failed');
    await b.flush('req');
    expect(loggedEntries()).toEqual([
      expect.objectContaining({ outcome: 'failed', errorClass: 'DrChronoServerError', detail: expect.stringContaining('DLQ') }),
    ]);
  });

  it('treats an unexpected exception as a retryable failure with its class logged on the last receive', async () => {
    const b = batch(async () => {
      throw new TypeError('boom');
    });
    await expect(b.handleRecord(sqsRecord(msg, 5))).rejects.toThrow('failed');
    await b.flush('req');
    expect(loggedEntries()).toEqual([expect.objectContaining({ outcome: 'failed', errorClass: 'TypeError', errorMessage: 'boom' })]);
  });

  it('fails a record still running at the invocation deadline on its own, answering the rest of the batch in time', async () => {
    let seen: AbortSignal | undefined;
    const b = batch(
      (m, signal) => {
        seen = signal;
        return m.deliveryId === 'slow' ? new Promise<never>(() => {}) : Promise.resolve({ status: 'done', entries: [{ ...entry, outcome: 'updated' }] });
      },
      { remainingMs: () => FLUSH_RESERVE_MS + 50 },
    );
    const [slow, fast] = await Promise.allSettled([
      b.handleRecord(sqsRecord({ ...msg, deliveryId: 'slow' }, 5, 'slow')),
      b.handleRecord(sqsRecord(msg, 1, 'fast')),
    ]);
    expect(slow.status).toBe('rejected');
    expect(fast.status).toBe('fulfilled');
    // Records still queued behind their team's limiter see the abort and never start.
    expect(seen?.aborted).toBe(true);
    await b.flush('req');
    expect(loggedEntries()).toEqual([
      expect.objectContaining({ outcome: 'updated' }),
      expect.objectContaining({ deliveryId: 'slow', outcome: 'failed', errorClass: 'InvocationDeadlineExceededError' }),
    ]);
  });

  it('acknowledges records that finish before the invocation deadline', async () => {
    const b = batch(async () => ({ status: 'done', entries: [{ ...entry, outcome: 'updated' }] }), { remainingMs: () => 30_000 });
    await expect(b.handleRecord(sqsRecord(msg))).resolves.toBeUndefined();
    await b.flush('req');
    expect(loggedEntries()).toEqual([expect.objectContaining({ outcome: 'updated' })]);
  });

  it('counts only deliveries given up on (last receive) as failed deliveries', async () => {
    const fail = async (): Promise<ProcessResult> => ({ status: 'retry', entry: { ...entry, outcome: 'failed' }, error: new Error('502') });
    const b = batch(fail);
    await expect(b.handleRecord(sqsRecord(msg, 2, 'early'))).rejects.toThrow('failed');
    await expect(b.handleRecord(sqsRecord(msg, 5, 'last'))).rejects.toThrow('failed');
    await expect(b.handleRecord(sqsRecord('not json', 5, 'poison'))).rejects.toThrow('does not match');
    expect(b.failedDeliveries).toBe(2);
  });

  it('reports a team\'s processed messages for redelivery when its log entries cannot be written, and counts them then', async () => {
    ddbMock.on(PutCommand, { TableName: 'log' }).rejects(new Error('throttled'));
    const b = batch(async () => ({ status: 'done', entries: [{ ...entry, outcome: 'updated' }] }));
    await b.handleRecord(sqsRecord(msg, 1, 'a'));
    await b.handleRecord(sqsRecord(msg, 1, 'b'));
    expect(await b.flush('req')).toEqual(['a', 'b']);
    expect(ddbMock.commandCalls(UpdateCommand, { TableName: 'teams' })).toHaveLength(0);
    expect(b.summary()).toMatchObject({ done: 2, teams: 0, unlogged: 2, outcomes: {} });
  });

  it('acknowledges another team\'s messages whose log write succeeded', async () => {
    const OTHER = '9a1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e22';
    ddbMock.on(PutCommand, { TableName: 'log' }).callsFake((input: { Item: { pk: string } }) => {
      if (input.Item.pk === TEAM) throw new Error('throttled');
      return {};
    });
    const b = batch(async () => ({ status: 'done', entries: [{ ...entry, outcome: 'updated' }] }));
    await b.handleRecord(sqsRecord(msg, 1, 'a'));
    await b.handleRecord(sqsRecord({ ...msg, teamId: OTHER }, 1, 'b'));
    expect(await b.flush('req')).toEqual(['a']);
  });
});

it('does not count backfill messages as webhook deliveries', async () => {
  const b = batch(async () => ({ status: 'done', entries: [{ ...entry, outcome: 'created' }] }));
  await b.handleRecord(sqsRecord({ ...msg, source: 'backfill' }));
  await b.flush('req');
  const puts = ddbMock.commandCalls(PutCommand, { TableName: 'log' });
  expect(puts).toHaveLength(1);
  expect(puts[0]!.args[0].input.Item).not.toHaveProperty('wn');
  expect(ddbMock.commandCalls(UpdateCommand, { TableName: 'teams' })).toHaveLength(0);
});

describe('SyncBatch: an appointment after its patient in one batch', () => {
  const OTHER = '9a1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e22';
  const done: ProcessResult = { status: 'done', entries: [{ ...entry, outcome: 'created' }] };
  const patient = message('PATIENT_CREATE', { id: '71' }, { deliveryId: 'p' });
  const appointment = (o: Record<string, unknown> = {}, d: Partial<typeof msg> = {}) => message('APPOINTMENT_CREATE', { id: '90', patient: 71, ...o }, { deliveryId: 'a', ...d });

  /** process() double: a patient delivery runs until released; records which deliveries started. */
  function gated() {
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const process: SyncBatchDeps['process'] = (m) => {
      started.push(m.deliveryId);
      if (!m.event.startsWith('PATIENT_')) return Promise.resolve(done);
      return new Promise((resolve) => release.set(m.deliveryId, () => resolve(done)));
    };
    return { started, release, process };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('starts the appointment only once the earlier delivery of its patient has finished, so it reads the stored patient instead of fetching it', async () => {
    const g = gated();
    const b = batch(g.process);
    const work = [b.handleRecord(sqsRecord(patient, 1, 'mp')), b.handleRecord(sqsRecord(appointment(), 1, 'ma'))];
    await tick();
    expect(g.started).toEqual(['p']);
    g.release.get('p')!();
    await Promise.all(work);
    expect(g.started).toEqual(['p', 'a']);
  });

  it('still runs the appointment when its patient delivery failed (it then fetches the patient itself)', async () => {
    const started: string[] = [];
    const b = batch(async (m) => {
      started.push(m.deliveryId);
      if (m.deliveryId === 'p') throw new Error('throttled');
      return done;
    });
    const [p, a] = await Promise.allSettled([b.handleRecord(sqsRecord(patient, 1, 'mp')), b.handleRecord(sqsRecord(appointment(), 1, 'ma'))]);
    expect(p.status).toBe('rejected');
    expect(a.status).toBe('fulfilled');
    expect(started).toEqual(['p', 'a']);
  });

  it("does not hold an appointment for another patient, another team's patient, or a patient delivered after it", async () => {
    const g = gated();
    const b = batch(g.process);
    const work = [
      b.handleRecord(sqsRecord(patient, 1, 'mp')),
      b.handleRecord(sqsRecord(appointment({ patient: 72 }, { deliveryId: 'other-patient' }), 1, 'm1')),
      b.handleRecord(sqsRecord(appointment({}, { deliveryId: 'other-team', teamId: OTHER }), 1, 'm2')),
      b.handleRecord(sqsRecord(appointment({ patient: 73 }, { deliveryId: 'before-its-patient' }), 1, 'm3')),
      b.handleRecord(sqsRecord(message('PATIENT_MODIFY', { id: '73' }, { deliveryId: 'p73' }), 1, 'm4')),
    ];
    await tick();
    expect(g.started).toEqual(['p', 'other-patient', 'other-team', 'before-its-patient', 'p73']);
    g.release.get('p')!();
    g.release.get('p73')!();
    await Promise.all(work);
  });

  it('never holds a patient delivery or an appointment deletion', async () => {
    const g = gated();
    const b = batch(g.process);
    const work = [
      b.handleRecord(sqsRecord(patient, 1, 'mp')),
      b.handleRecord(sqsRecord(message('PATIENT_MODIFY', { id: '71' }, { deliveryId: 'p2' }), 1, 'mp2')),
      b.handleRecord(sqsRecord(message('APPOINTMENT_DELETE', { id: '90', patient: 71 }, { deliveryId: 'del' }), 1, 'md')),
    ];
    await tick();
    expect(g.started).toEqual(['p', 'p2', 'del']);
    g.release.get('p')!();
    g.release.get('p2')!();
    await Promise.all(work);
  });

  it('fails an appointment still waiting for its patient at the invocation deadline without starting it', async () => {
    const g = gated();
    const b = batch(g.process, { remainingMs: () => FLUSH_RESERVE_MS + 50 });
    const [, a] = await Promise.allSettled([b.handleRecord(sqsRecord(patient, 1, 'mp')), b.handleRecord(sqsRecord(appointment(), 5, 'ma'))]);
    expect(a.status).toBe('rejected');
    g.release.get('p')!();
    await tick();
    expect(g.started).toEqual(['p']);
  });
});
