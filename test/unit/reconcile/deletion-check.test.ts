import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newJob } from '../../../shared/backfill/backfill-job';
import { DrChronoError, DrChronoNotFoundError, DrChronoServerError } from '../../../shared/drchrono/errors';
import { breakerLimit, DELETION_CHECK_SK, runDeletionCheckItem } from '../../../shared/reconcile/deletion-check';
import { decodeIntegrationLogItem } from '../../../shared/store/integration-log';
import type { TeamDrChronoApi, TeamJobDeps } from '../../../shared/team-job/team-job';
import type { IngestMessage } from '../../../shared/ingest/ingest-message';
import type { ProcessResult } from '../../../shared/sync/process-ingest-message';
import { FakeTeamsTable } from '../team-job/fake-teams-table';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const NOW = new Date('2026-11-21T12:20:00Z');
const LONG_AGO = Date.parse('2026-11-01T00:00:00Z');

const ID_ONLY_FIELDS = { patient: ['Chart ID', 'First Name', 'Last Name'], appointment: ['Claim ID'], employee: ['Chrono Doctor ID'] };
const FLAG_FIELDS = { ...ID_ONLY_FIELDS, patient: [...ID_ONLY_FIELDS.patient, 'Patient Flags', 'Patient Flags and Descriptions'] };

const ddbMock = mockClient(DynamoDBDocumentClient);
/** Patients the check fed through the sync path, and the list queries it made. */
let swept: IngestMessage[];
let listQueries: unknown[];
let processResult: (msg: IngestMessage) => ProcessResult;
let table: FakeTeamsTable;
/** Patient ids DrChrono lists, and how many per page. */
let inDrChrono: number[];
let pageSize: number;
/** What GET /api/patients/{id} does for an id missing from the list. */
let getPatient: (id: string) => Promise<unknown>;
let calls: string[];

function storePatient(id: number, o: Record<string, unknown> = {}) {
  table.put({ pk: `${TEAM}#patient`, sk: String(id), 'Chart ID': `CH${id}`, version: 'u#x', syncedAt: LONG_AGO, ...o });
}

function patient(id: number) {
  return table.get(`${TEAM}#patient`, String(id));
}

function deps(now = NOW): TeamJobDeps {
  return {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    teamsTable: 'teams',
    recordsTable: 'records',
    integrationLogTable: 'log',
    integrationLogTtlDays: 90,
    secrets: { get: async () => ({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok' }), refresh: async () => null },
    process: async (msg) => {
      swept.push(msg);
      return processResult(msg);
    },
    drchrono: ({ beforeCall }) => ({
      api: {
        patientsPage: async (q: unknown, cursor?: string | null) => {
          await beforeCall();
          listQueries.push(q);
          const offset = cursor ? Number(cursor) : 0;
          calls.push(`list@${offset}`);
          const next = offset + pageSize < inDrChrono.length ? String(offset + pageSize) : null;
          return { results: inDrChrono.slice(offset, offset + pageSize).map((id) => ({ id })), next };
        },
        getPatient: async (id: string | number) => {
          await beforeCall();
          calls.push(`get ${id}`);
          return getPatient(String(id));
        },
      } as unknown as TeamDrChronoApi,
      bulk: { create: async () => 'u', waitForPage: async () => ({ status: 'in-progress' }) },
    }),
    now: () => now,
  };
}

const ctx = { messageId: 'm', groupId: 'g', finalAttempt: false };
const item = { type: 'deletion-check' as const, teamId: TEAM, runAt: NOW.toISOString() };
const notFound = async () => {
  throw new DrChronoNotFoundError({ method: 'GET', path: '/api/patients/{id}' });
};

beforeEach(() => {
  ddbMock.reset();
  table = new FakeTeamsTable(ddbMock);
  // A team that maps no verbose-only field (insurance, flags): the check lists ids only.
  table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', syncFields: ID_ONLY_FIELDS });
  inDrChrono = [1, 3];
  pageSize = 1;
  getPatient = notFound;
  calls = [];
  swept = [];
  listQueries = [];
  processResult = (msg) => ({ status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, entity: 'patient', drchronoId: String(msg.object.id), outcome: 'unchanged' }] });
  for (const id of [1, 2, 3]) storePatient(id);
});

describe('deletion check', () => {
  it('marks a patient deleted once a complete listing lacks it and GET answers 404, and logs it', async () => {
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(calls).toEqual(['list@0', 'list@1', 'get 2']);
    expect(patient(2)).toMatchObject({ deleted: true, 'Chart ID': 'CH2', lastDeliveryId: `deletion-check:${NOW.toISOString()}:patient:2` });
    expect(patient(1)?.deleted).toBeUndefined();
    expect(table.get(TEAM, DELETION_CHECK_SK)).toMatchObject({ lastCompletedAt: NOW.toISOString(), lastListed: 2, lastDeleted: 1 });
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
    expect(log).toEqual([
      expect.objectContaining({ event: 'DELETION_CHECK_PATIENT', entity: 'patient', drchronoId: '2', outcome: 'deleted' }),
      expect.objectContaining({ event: 'DELETION_CHECK', outcome: 'info' }),
    ]);
  });

  it('clears "Patient" on the appointments of a patient it marks deleted, and says so in the entry', async () => {
    table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', syncFields: { patient: ['Chart ID'], appointment: ['Patient'], employee: [] } });
    table.put({ pk: `${TEAM}#appointment`, sk: 'A1', Patient: 'CH2', patientDrchronoId: '2', patientVersion: 'u#x' });
    table.put({ pk: `${TEAM}#appointment`, sk: 'B1', Patient: 'CH1', patientDrchronoId: '1', patientVersion: 'u#x' });
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(table.get(`${TEAM}#appointment`, 'A1')).not.toHaveProperty('Patient');
    expect(table.get(`${TEAM}#appointment`, 'B1')).toMatchObject({ Patient: 'CH1' });
    expect(patient(2)).not.toHaveProperty('chartFanOut');
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
    expect(log[0]).toMatchObject({ event: 'DELETION_CHECK_PATIENT', drchronoId: '2', detail: expect.stringContaining('Patient cleared on 1 appointment(s)') });
  });

  it('deletes nothing while the listing is partial, and resumes it from its cursor in the next hour', async () => {
    table.budgetMax = 1;
    expect((await runDeletionCheckItem(item, ctx, deps())).status).toBe('done');
    expect(calls).toEqual(['list@0']);
    expect(patient(2)?.deleted).toBeUndefined();

    table.budgetCalls = 0;
    table.budgetMax = 2;
    const later = new Date(NOW.getTime() + 3_600_000);
    expect(await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, deps(later))).toEqual({ status: 'done' });
    expect(calls).toEqual(['list@0', 'list@1', 'get 2']);
    expect(patient(2)?.deleted).toBe(true);
  });

  it('starts the listing again, deleting nothing, when DrChrono refuses a saved page link (cursor expired)', async () => {
    table.budgetMax = 1;
    await runDeletionCheckItem(item, ctx, deps());
    expect(calls).toEqual(['list@0']);
    // An hour later the saved link is refused once; the check must not splice a new listing onto the old one.
    let refused = false;
    const later = new Date(NOW.getTime() + 3_600_000);
    const d = deps(later);
    const base = d.drchrono;
    d.drchrono = (o) => {
      const made = base(o);
      const api = made.api as unknown as { patientsPage: (q: unknown, c?: string | null) => Promise<unknown> };
      const real = api.patientsPage;
      api.patientsPage = (q, c) => {
        if (c && !refused) {
          refused = true;
          return Promise.reject(new DrChronoError('GET /api/patients: unexpected HTTP 404', { method: 'GET', path: '/api/patients', status: 404 }));
        }
        return real(q, c);
      };
      return made;
    };
    table.budgetCalls = 0;
    table.budgetMax = 10;
    const first = await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, d);
    expect(first.status).not.toBe('retry');
    expect(patient(2)?.deleted).toBeUndefined();
    expect(table.get(TEAM, DELETION_CHECK_SK)?.check).toBeUndefined();
    // The next run lists from the first page and completes the check.
    expect(await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, d)).toEqual({ status: 'done' });
    expect(calls.slice(-3)).toEqual(['list@0', 'list@1', 'get 2']);
    expect(patient(2)?.deleted).toBe(true);
  });

  it('lists ids only, writing nothing live, for a team that maps no verbose-only field', async () => {
    await runDeletionCheckItem(item, ctx, deps());
    expect(swept).toEqual([]);
    expect(listQueries).toEqual([{ pageSize: 250 }, { pageSize: 250 }]);
  });

  it('for a team that maps flags, re-reads every patient verbose and writes it through the sync path (a dropped flag webhook moves no updated_at)', async () => {
    table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', syncFields: FLAG_FIELDS });
    processResult = (msg) => ({ status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, entity: 'patient', drchronoId: String(msg.object.id), outcome: msg.object.id === 3 ? 'updated' : 'unchanged' }] });
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(listQueries).toEqual([{ pageSize: 50, verbose: true }, { pageSize: 50, verbose: true }]);
    expect(swept.map((m) => [m.event, m.source, String(m.object.id)])).toEqual([
      ['PATIENT_MODIFY', 'reconcile', '1'],
      ['PATIENT_MODIFY', 'reconcile', '3'],
    ]);
    // The change it found is logged; replays are not; the deletion part still ran.
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
    expect(log.filter((e) => e.deliveryId?.startsWith('reconcile:sweep-')).map((e) => [e.event, e.drchronoId])).toEqual([['RECONCILE_PATIENT', '3']]);
    expect(patient(2)?.deleted).toBe(true);
  });

  it('does not commit a swept page whose patients failed transiently: the page is read again', async () => {
    table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', syncFields: FLAG_FIELDS });
    processResult = (msg) => ({ status: 'retry', error: new Error('throttled'), entry: { at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'failed', errorClass: 'ProvisionedThroughputExceededException' } });
    expect((await runDeletionCheckItem(item, ctx, deps())).status).toBe('retry');
    expect(table.get(TEAM, DELETION_CHECK_SK)?.check).toMatchObject({ pages: 0, cursor: null });
    processResult = (msg) => ({ status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'unchanged' }] });
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(calls.filter((c) => c === 'list@0')).toHaveLength(2);
  });

  it('keeps a patient the listing left out when GET still returns it', async () => {
    getPatient = async (id) => ({ id: Number(id) });
    await runDeletionCheckItem(item, ctx, deps());
    expect(calls).toContain('get 2');
    expect(patient(2)?.deleted).toBeUndefined();
    expect(table.get(TEAM, DELETION_CHECK_SK)).toMatchObject({ lastDeleted: 0 });
  });

  it('deletes nothing on a transient error and retries from where it stopped', async () => {
    getPatient = async () => {
      throw new DrChronoServerError({ method: 'GET', path: '/api/patients/{id}', status: 502 });
    };
    expect((await runDeletionCheckItem(item, ctx, deps())).status).toBe('retry');
    expect(patient(2)?.deleted).toBeUndefined();
    getPatient = notFound;
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    // The listing is not read again: only the confirmation is repeated.
    expect(calls).toEqual(['list@0', 'list@1', 'get 2', 'get 2']);
    expect(patient(2)?.deleted).toBe(true);
  });

  it('never suspects a patient written after the listing began (it may have been created meanwhile)', async () => {
    storePatient(2, { syncedAt: NOW.getTime() + 1 });
    await runDeletionCheckItem(item, ctx, deps());
    expect(calls).toEqual(['list@0', 'list@1']);
    expect(patient(2)?.deleted).toBeUndefined();
  });

  it('runs once a day and not while a backfill is running', async () => {
    await runDeletionCheckItem(item, ctx, deps());
    calls = [];
    const hourLater = new Date(NOW.getTime() + 3_600_000);
    expect(await runDeletionCheckItem(item, ctx, deps(hourLater))).toEqual({ status: 'done' });
    expect(calls).toEqual([]);
    table.put({ ...newJob({ teamId: TEAM, jobId: 'j', reason: 'connect', now: NOW }), pk: TEAM, sk: 'BACKFILL' });
    const dayLater = new Date(NOW.getTime() + 25 * 3_600_000);
    expect(await runDeletionCheckItem(item, ctx, deps(dayLater))).toEqual({ status: 'done' });
    expect(calls).toEqual([]);
  });
});

describe('deletion check: wrong-account guards', () => {
  const teamItem = (o: Record<string, unknown>) => table.put({ ...table.get(TEAM, 'TEAM')!, ...o });

  it('drops a listing read with another DrChrono user (reconnect between runs) and deletes nothing', async () => {
    teamItem({ drchronoUserId: 101, drchronoPracticeGroup: 7 });
    table.budgetMax = 1;
    await runDeletionCheckItem(item, ctx, deps());
    expect(calls).toEqual(['list@0']);
    // Reconnected to another account before the listing finished.
    teamItem({ drchronoUserId: 202 });
    table.budgetCalls = 0;
    table.budgetMax = 10;
    const later = new Date(NOW.getTime() + 3_600_000);
    expect((await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, deps(later))).status).toBe('defer');
    expect(calls).toEqual(['list@0']);
    expect(table.get(TEAM, DELETION_CHECK_SK)?.check).toBeUndefined();
    expect(patient(2)?.deleted).toBeUndefined();
    // The next run starts a new listing, recorded with the new account.
    await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, deps(later));
    expect(calls.slice(1)).toEqual(['list@0', 'list@1', 'get 2']);
  });

  it('drops the check when the practice group changes during the listing, before confirming anything', async () => {
    teamItem({ drchronoUserId: 101, drchronoPracticeGroup: 7 });
    const d = deps();
    const base = d.drchrono;
    d.drchrono = (o) => {
      const made = base(o);
      const api = made.api as unknown as { patientsPage: (q: unknown, c?: string | null) => Promise<unknown> };
      const real = api.patientsPage;
      api.patientsPage = async (q, c) => {
        const page = await real(q, c);
        if (c) teamItem({ drchronoPracticeGroup: 8 });
        return page;
      };
      return made;
    };
    expect((await runDeletionCheckItem(item, ctx, d)).status).toBe('defer');
    expect(calls).toEqual(['list@0', 'list@1']);
    expect(patient(2)?.deleted).toBeUndefined();
    expect(table.get(TEAM, DELETION_CHECK_SK)?.check).toBeUndefined();
  });

  it('drops a check started before accounts were recorded instead of confirming against it', async () => {
    table.put({ pk: TEAM, sk: DELETION_CHECK_SK, version: 1, check: { id: 'old', startedAt: '2026-11-21T00:00:00.000Z', phase: 'confirming', cursor: null, pages: 0, listed: 0, candidates: 0, deleted: 0 } });
    expect((await runDeletionCheckItem(item, ctx, deps())).status).toBe('defer');
    expect(calls).toEqual([]);
    expect(patient(1)?.deleted).toBeUndefined();
  });

  it('sets the breaker limit to 5 % of the live stored patients, at least 20', () => {
    expect(breakerLimit(0)).toBe(20);
    expect(breakerLimit(400)).toBe(20);
    expect(breakerLimit(1000)).toBe(50);
  });

  it('tombstones nothing when too many patients are missing, logs counts, emits the metric and stays blocked until fewer are missing', async () => {
    for (let id = 4; id <= 30; id++) storePatient(id);
    inDrChrono = [1, 3];
    const metrics: string[] = [];
    expect(await runDeletionCheckItem(item, ctx, { ...deps(), countMetric: (m) => metrics.push(m) })).toEqual({ status: 'done' });
    // 28 of 30 missing (limit 20): no GET, no tombstone.
    expect(calls.filter((c) => c.startsWith('get'))).toEqual([]);
    expect(patient(2)?.deleted).toBeUndefined();
    expect(metrics).toEqual(['DeletionCheckBlocked']);
    expect(table.get(TEAM, DELETION_CHECK_SK)).toMatchObject({ lastDeleted: 0, blocked: { candidates: 28, livePatients: 30, limit: 20 } });
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
    expect(log).toEqual([expect.objectContaining({ event: 'DELETION_CHECK_BLOCKED', entity: 'team', outcome: 'failed' })]);
    expect(log[0]?.drchronoId).toBeUndefined();

    // A day later DrChrono lists all but one: the block clears and that one is confirmed.
    inDrChrono = Array.from({ length: 30 }, (_, i) => i + 1).filter((id) => id !== 2);
    pageSize = 250;
    const dayLater = new Date(NOW.getTime() + 25 * 3_600_000);
    expect(await runDeletionCheckItem({ ...item, runAt: dayLater.toISOString() }, ctx, { ...deps(dayLater), countMetric: (m) => metrics.push(m) })).toEqual({ status: 'done' });
    expect(patient(2)?.deleted).toBe(true);
    expect(metrics).toEqual(['DeletionCheckBlocked']);
    expect(table.get(TEAM, DELETION_CHECK_SK)?.blocked).toBeUndefined();
  });

  it('confirms more candidates than the breaker allows once an operator sets allowCandidates, then uses it up', async () => {
    for (let id = 4; id <= 30; id++) storePatient(id);
    inDrChrono = [1, 3];
    pageSize = 250;
    table.put({ pk: TEAM, sk: DELETION_CHECK_SK, version: 1, allowCandidates: 28 });
    expect(await runDeletionCheckItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(patient(2)?.deleted).toBe(true);
    expect(patient(30)?.deleted).toBe(true);
    expect(table.get(TEAM, DELETION_CHECK_SK)?.allowCandidates).toBeUndefined();
  });

  it('keeps the operator override when the allowed check is cut short before its first confirmation', async () => {
    for (let id = 4; id <= 30; id++) storePatient(id);
    inDrChrono = [1, 3];
    pageSize = 250;
    table.put({ pk: TEAM, sk: DELETION_CHECK_SK, version: 1, allowCandidates: 28 });
    table.budgetMax = 1;
    await runDeletionCheckItem(item, ctx, deps());
    expect(calls).toEqual(['list@0']);
    expect(table.get(TEAM, DELETION_CHECK_SK)?.allowCandidates).toBe(28);
    table.budgetCalls = 0;
    table.budgetMax = 100;
    const later = new Date(NOW.getTime() + 3_600_000);
    expect(await runDeletionCheckItem({ ...item, runAt: later.toISOString() }, ctx, deps(later))).toEqual({ status: 'done' });
    expect(patient(2)?.deleted).toBe(true);
    expect(patient(30)?.deleted).toBe(true);
    expect(table.get(TEAM, DELETION_CHECK_SK)?.allowCandidates).toBeUndefined();
  });
});
