import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { newJob, type BackfillJob } from '../../../shared/backfill/backfill-job';
import { runWorkItem, type BackfillWorkerDeps } from '../../../shared/backfill/backfill-worker';
import { WORK_RESERVE_MS, type WorkContext } from '../../../shared/team-job/team-job';
import type { WorkItem } from '../../../shared/team-job/work-item';
import type { BulkListKind, BulkListRequest, BulkPoll } from '../../../shared/drchrono/bulk';
import type { IngestMessage } from '../../../shared/ingest/ingest-message';
import type { ProcessResult } from '../../../shared/sync/process-ingest-message';
import { decodeIntegrationLogItem } from '../../../shared/store/integration-log';
import { FakeTeamsTable } from '../team-job/fake-teams-table';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const NOW = new Date('2026-11-21T12:20:00Z');

const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
let table: FakeTeamsTable;
let sent: { body: WorkItem; delay?: number }[];
let processed: IngestMessage[];
let bulkRequests: { kind: BulkListKind; req: BulkListRequest }[];
let bulkPages: BulkPoll[];

const ctx = (o: Partial<WorkContext> = {}): WorkContext => ({ messageId: 'm-1', groupId: 'g-1', finalAttempt: false, ...o });

function teamItem(o: Record<string, unknown> = {}) {
  return { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', ...o };
}

function storedJob(): BackfillJob {
  return table.get(TEAM, 'BACKFILL') as unknown as BackfillJob;
}

function putJob(over: Partial<BackfillJob>): void {
  table.put({ ...newJob({ teamId: TEAM, jobId: 'j1', reason: 'connect', now: NOW }), enqueuedStep: 0, ...over, pk: TEAM, sk: 'BACKFILL' });
}

function logEntries(): { event: string; outcome: string; detail?: string }[] {
  return table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
}

function deps(o: Partial<BackfillWorkerDeps> = {}): BackfillWorkerDeps {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    ddb,
    sqs: new SQSClient({ region: 'us-east-1' }),
    teamsTable: 'teams',
    recordsTable: 'records',
    integrationLogTable: 'log',
    backfillQueueUrl: 'https://sqs/backfill',
    integrationLogTtlDays: 90,
    secrets: { get: async () => ({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok' }), refresh: async () => null },
    process: async (msg): Promise<ProcessResult> => {
      processed.push(msg);
      return { status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'created' }] };
    },
    drchrono: ({ beforeCall }) => ({
      api: {
        listDoctors: () => gen([], beforeCall),
        listAppointmentProfiles: () => gen([{ id: 1, name: 'Checkup' }], beforeCall),
        listPatientFlagTypes: () => gen([], beforeCall),
        patientsPage: async () => ({ results: [], next: null }),
        appointmentsPage: async () => ({ results: [], next: null }),
        getPatient: async () => {
          throw new Error('not used by backfill');
        },
      },
      bulk: {
        create: async (kind, req) => {
          await beforeCall();
          bulkRequests.push({ kind, req });
          return `uuid-${bulkRequests.length}`;
        },
        waitForPage: async () => {
          await beforeCall();
          return bulkPages.shift() ?? { status: 'in-progress' };
        },
      },
    }),
    reconcile: async () => ({ status: 'done' }),
    deletionCheck: async () => ({ status: 'done' }),
    now: () => NOW,
    bulkPollDelaysMs: [0],
    ...o,
  };
}

async function* gen<T>(items: T[], beforeCall: () => Promise<void>): AsyncGenerator<T> {
  await beforeCall();
  for (const i of items) yield i;
}

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  table = new FakeTeamsTable(ddbMock);
  table.put(teamItem());
  sent = [];
  processed = [];
  bulkRequests = [];
  bulkPages = [];
  sqsMock.on(SendMessageCommand).callsFake((input: { MessageBody: string; DelaySeconds?: number }) => {
    sent.push({ body: JSON.parse(input.MessageBody) as WorkItem, delay: input.DelaySeconds });
    return { MessageId: `sent-${sent.length}` };
  });
});

describe('start work item', () => {
  it('creates the job at step 0, logs the start and enqueues step 0', async () => {
    expect(await runWorkItem({ type: 'start', teamId: TEAM }, ctx(), deps())).toEqual({ status: 'done' });
    expect(storedJob()).toMatchObject({ jobId: 'connect-m-1', step: 0, enqueuedStep: 0, status: 'running', reason: 'connect' });
    expect(sent.map((s) => s.body)).toEqual([{ type: 'step', teamId: TEAM, jobId: 'connect-m-1', step: 0 }]);
    expect(logEntries()).toEqual([expect.objectContaining({ event: 'BACKFILL_START', outcome: 'info' })]);
  });

  it('does nothing more when the same start message is delivered again', async () => {
    await runWorkItem({ type: 'start', teamId: TEAM }, ctx(), deps());
    await runWorkItem({ type: 'start', teamId: TEAM }, ctx(), deps());
    expect(sent).toHaveLength(1);
    expect(logEntries().filter((e) => e.event === 'BACKFILL_START')).toHaveLength(1);
  });

  it('leaves a running backfill alone on a reconnect, but an operator start replaces it', async () => {
    putJob({ jobId: 'old', step: 3, enqueuedStep: 3 });
    await runWorkItem({ type: 'start', teamId: TEAM }, ctx({ messageId: 'm-2' }), deps());
    expect(storedJob().jobId).toBe('old');
    await runWorkItem({ type: 'start', teamId: TEAM, jobId: 'op-1', since: '2026-01-01' }, ctx(), deps());
    expect(storedJob()).toMatchObject({ jobId: 'op-1', step: 0, since: '2026-01-01', reason: 'operator' });
    expect(logEntries().at(-1)?.detail).toContain('replaces old');
  });

  it('ignores a start for a team that is not connected', async () => {
    table.put(teamItem({ status: 'registered' }));
    await runWorkItem({ type: 'start', teamId: TEAM }, ctx(), deps());
    expect(storedJob()).toBeUndefined();
    expect(sent).toHaveLength(0);
  });
});

describe('step work item', () => {
  it('imports a bulk page through the sync path, counts it and enqueues the next step', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 3, pages: 2, results: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps())).toEqual({ status: 'done' });
    expect(bulkRequests).toEqual([{ kind: 'patients', req: expect.objectContaining({ page: 1, pageSize: 1000, verbose: true }) }]);
    expect(processed.map((m) => [m.event, m.source, m.deliveryId])).toEqual([
      ['PATIENT_MODIFY', 'backfill', 'backfill:j1:patient:1'],
      ['PATIENT_MODIFY', 'backfill', 'backfill:j1:patient:2'],
      ['PATIENT_MODIFY', 'backfill', 'backfill:j1:patient:3'],
    ]);
    expect(storedJob()).toMatchObject({ step: 3, enqueuedStep: 3, patients: 3, patientsTotal: 3, created: 3, cursor: { phase: 'patients', page: 2 } });
    expect(sent.map((s) => s.body)).toEqual([{ type: 'step', teamId: TEAM, jobId: 'j1', step: 3 }]);
  });

  it('drops a redelivered step that is already committed and enqueued, without fetching', async () => {
    putJob({ step: 3, enqueuedStep: 3, cursor: { phase: 'patients', page: 2, chunk: 0 } });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps());
    expect(bulkRequests).toHaveLength(0);
    expect(sent).toHaveLength(0);
  });

  it('re-enqueues the current step when a committed step died before enqueueing', async () => {
    putJob({ step: 3, enqueuedStep: 2, cursor: { phase: 'patients', page: 2, chunk: 0 } });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps());
    expect(bulkRequests).toHaveLength(0);
    expect(sent.map((s) => s.body)).toEqual([{ type: 'step', teamId: TEAM, jobId: 'j1', step: 3 }]);
    expect(storedJob().enqueuedStep).toBe(3);
  });

  it('lets only one of two concurrent copies of a step advance the job', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 1, pages: 1, results: [{ id: 1 }] }, { status: 'complete', count: 1, pages: 1, results: [{ id: 1 }] });
    const item: WorkItem = { type: 'step', teamId: TEAM, jobId: 'j1', step: 2 };
    await Promise.all([runWorkItem(item, ctx(), deps()), runWorkItem(item, ctx({ messageId: 'm-2' }), deps())]);
    expect(storedJob()).toMatchObject({ step: 3, patients: 1 });
    expect(sent).toHaveLength(1);
  });

  it('pauses (not fails) the backfill of a disabled team without fetching, so `team enable` resumes it at the same step', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    table.put(teamItem({ disabledAt: '2026-11-21T12:00:00.000Z' }));
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps())).toEqual({ status: 'done' });
    expect(bulkRequests).toHaveLength(0);
    expect(storedJob()).toMatchObject({ step: 2, status: 'paused', pauseReason: 'team disabled' });
    expect(sent).toHaveLength(0);
    expect(logEntries()).toEqual([expect.objectContaining({ event: 'BACKFILL_PAUSE', outcome: 'deferred' })]);
  });

  it.each(['removing', 'removed'])('drops a step of a %s team without writing the job, the log or a record', async (status) => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    table.put(teamItem({ status }));
    const before = table.puts.length;
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps())).toEqual({ status: 'done' });
    expect(storedJob()).toMatchObject({ step: 2, status: 'running' });
    expect(table.puts.length).toBe(before);
    expect(processed).toHaveLength(0);
    expect(sent).toHaveLength(0);
  });

  it.each([{ status: 'removing' }, { disabledAt: '2026-11-21T12:00:00.000Z' }])('ignores a start for a team that is not active (%o)', async (over) => {
    table.put(teamItem(over));
    await runWorkItem({ type: 'start', teamId: TEAM }, ctx(), deps());
    expect(storedJob()).toBeUndefined();
    expect(sent).toHaveLength(0);
  });

  it('pauses on an exhausted budget until the top of the hour, without advancing or enqueueing', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    table.budgetMax = 0;
    const result = await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps());
    expect(result.status).toBe('defer');
    const delay = (result as { delaySeconds: number }).delaySeconds;
    expect(delay).toBeGreaterThanOrEqual(40 * 60);
    expect(delay).toBeLessThanOrEqual(41 * 60);
    expect(storedJob()).toMatchObject({ step: 2, status: 'paused', pausedUntil: '2026-11-21T13:00:00.000Z', pauseReason: 'team API budget exhausted' });
    expect(sent).toHaveLength(0);
    expect(logEntries()).toEqual([expect.objectContaining({ event: 'BACKFILL_PAUSE', outcome: 'deferred' })]);
  });

  it('pauses when the sync path defers an object mid-page, and counts nothing of that page', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 2, pages: 1, results: [{ id: 1 }, { id: 2 }] });
    const d = deps({ process: async (msg) => ({ status: 'defer', delaySeconds: 300, entry: { at: 'x', event: msg.event, outcome: 'deferred', errorClass: 'DrChronoRateLimitedError' } }) });
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), d)).toEqual({ status: 'defer', delaySeconds: 300 });
    expect(storedJob()).toMatchObject({ step: 2, status: 'paused', patients: 0 });
  });

  it('fails the step without committing the page when an object fails transiently, so SQS retries the page', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 2, pages: 1, results: [{ id: 1 }, { id: 2 }] });
    // What the sync path answers for a DrChrono 5xx after the client's tries, or a throttled DynamoDB write.
    const transient = Object.assign(new Error('GET /api/patients/{id}: server error (HTTP 502)'), { name: 'DrChronoServerError' });
    const d = deps({
      process: async (msg): Promise<ProcessResult> =>
        msg.object.id === 2
          ? { status: 'retry', entry: { at: 'x', event: msg.event, outcome: 'failed', errorClass: 'DrChronoServerError' }, error: transient }
          : { status: 'done', entries: [{ at: 'x', event: msg.event, deliveryId: msg.deliveryId, outcome: 'created' }] },
    });
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), d)).toMatchObject({ status: 'retry' });
    expect(storedJob()).toMatchObject({ step: 2, patients: 0, failed: 0, cursor: { phase: 'patients', page: 1 } });
    expect(sent).toEqual([]);
  });

  it('skips an object that cannot be mapped, logging why, and commits the page', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 2, pages: 1, results: [{ id: 1 }, { id: 2 }] });
    const unmappable = Object.assign(new Error('invalid DrChrono patient: gender: Invalid option'), { name: 'MappingValidationError' });
    const d = deps({
      process: async (msg): Promise<ProcessResult> =>
        msg.object.id === 2
          ? { status: 'retry', entry: { at: 'x', event: msg.event, drchronoId: '2', outcome: 'failed', errorClass: 'MappingValidationError' }, error: unmappable }
          : { status: 'done', entries: [{ at: 'x', event: msg.event, deliveryId: msg.deliveryId, outcome: 'created' }] },
    });
    expect(await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), d)).toEqual({ status: 'done' });
    expect(storedJob()).toMatchObject({ step: 3, patients: 2, created: 1, failed: 1 });
    expect(logEntries()).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'BACKFILL_PATIENT', outcome: 'failed', errorClass: 'MappingValidationError', detail: 'skipped: the object cannot be mapped' })]));
  });

  it('parks a bulk page that is still generating and comes back for it', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), deps());
    expect(storedJob()).toMatchObject({ step: 3, cursor: { phase: 'patients', page: 1, uuid: 'uuid-1' } });
    expect(sent).toEqual([{ body: { type: 'step', teamId: TEAM, jobId: 'j1', step: 3 }, delay: 10 }]);

    bulkPages.push({ status: 'complete', count: 1, pages: 1, results: [{ id: 9 }] });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 3 }, ctx(), deps());
    expect(bulkRequests).toHaveLength(1);
    expect(storedJob()).toMatchObject({ step: 4, patients: 1, cursor: { phase: 'appointments', page: 1, chunk: 0 } });
  });

  it('finishes after the last appointment chunk and logs the counts', async () => {
    putJob({ step: 9, enqueuedStep: 9, patients: 3, cursor: { phase: 'appointments', page: 1, chunk: 0 }, chunks: [{ start: '2026-11-01', end: '2026-11-30' }] });
    bulkPages.push({ status: 'complete', count: 2, pages: 1, results: [{ id: 'a1' }, { id: 'a2' }] });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 9 }, ctx(), deps());
    expect(bulkRequests[0]?.req.dateRange).toEqual({ start: '2026-11-01', end: '2026-11-30' });
    expect(storedJob()).toMatchObject({ status: 'completed', percent: 100, appointments: 2, finishedAt: NOW.toISOString() });
    expect(sent).toHaveLength(0);
    expect(logEntries().at(-1)).toMatchObject({ event: 'BACKFILL_FINISH', outcome: 'info' });
    expect(logEntries().at(-1)?.detail).toContain('3 patients, 2 appointments');
  });

  it('writes the profile-name cache in the profiles phase', async () => {
    putJob({ step: 1, enqueuedStep: 1, cursor: { phase: 'profiles', page: 1, chunk: 0 } });
    await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 1 }, ctx(), deps());
    expect(table.get(TEAM, 'PROFILES')).toMatchObject({ names: { '1': 'Checkup' } });
    expect(storedJob()).toMatchObject({ profiles: 1, cursor: { phase: 'patients' } });
  });

  it('marks the job failed on the last attempt of a broken step, and asks SQS to retry before that', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    const broken = deps({
      drchrono: () => ({
        api: deps().drchrono({ accessToken: async () => 't', beforeCall: async () => undefined }).api,
        bulk: { create: async () => Promise.reject(new Error('boom')), waitForPage: async () => ({ status: 'in-progress' }) },
      }),
    });
    expect((await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx(), broken)).status).toBe('retry');
    expect(storedJob().status).toBe('running');
    expect((await runWorkItem({ type: 'step', teamId: TEAM, jobId: 'j1', step: 2 }, ctx({ finalAttempt: true }), broken)).status).toBe('retry');
    expect(storedJob()).toMatchObject({ status: 'failed', errorClass: 'Error' });
    expect(logEntries().at(-1)).toMatchObject({ event: 'BACKFILL_FINISH', outcome: 'failed' });
  });

  it('gives up a page still importing at the invocation deadline: no more objects, nothing committed, failed on the last receive', async () => {
    putJob({ step: 2, enqueuedStep: 2, cursor: { phase: 'patients', page: 1, chunk: 0 } });
    bulkPages.push({ status: 'complete', count: 20, pages: 1, results: Array.from({ length: 20 }, (_, i) => ({ id: i + 1 })) });
    // Each object takes 25 ms; the deadline comes at 30 ms, while the second slice of 8 is running.
    const slow = deps({
      process: async (msg): Promise<ProcessResult> => {
        processed.push(msg);
        await new Promise((r) => setTimeout(r, 25));
        return { status: 'done', entries: [] };
      },
    });
    // Fake timers: the 25 ms objects and the 30 ms deadline keep their order however busy the machine is.
    jest.useFakeTimers();
    try {
      const running = runWorkItem(
        { type: 'step', teamId: TEAM, jobId: 'j1', step: 2 },
        ctx({ finalAttempt: true, remainingMs: () => WORK_RESERVE_MS + 30 }),
        slow,
      );
      await jest.advanceTimersByTimeAsync(200);
      const result = await running;
      expect(result).toMatchObject({ status: 'retry', error: expect.objectContaining({ name: 'InvocationDeadlineExceededError' }) });
    } finally {
      jest.useRealTimers();
    }
    expect(processed).toHaveLength(16); // the slice running at the deadline finishes; no third slice starts
    expect(storedJob()).toMatchObject({ status: 'failed', step: 2, patients: 0, errorClass: 'InvocationDeadlineExceededError' });
    expect(sent).toHaveLength(0);
  });
});
