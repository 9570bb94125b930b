import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { newJob } from '../../../shared/backfill/backfill-job';
import { DrChronoError } from '../../../shared/drchrono/errors';
import { WORK_RESERVE_MS, type TeamDrChronoApi } from '../../../shared/team-job/team-job';
import type { IngestMessage } from '../../../shared/ingest/ingest-message';
import { practiceTimeZoneOf, sinceParam, wallClock } from '../../../shared/reconcile/practice-time';
import { doctorsDue, reconcileFrom, runReconcileItem, type ReconcileDeps } from '../../../shared/reconcile/reconcile-team';
import { backfillNeedsNudge, ROLL_UP_RESERVE_MS, scheduleReconcile } from '../../../shared/reconcile/schedule-reconcile';
import { decodeIntegrationLogItem } from '../../../shared/store/integration-log';
import { mapAppointment, readTeamSyncConfig } from '../../../shared/mapping';
import { composeRenames, renamesBetween } from '../../../shared/reconcile/renamed-names';
import { readNameCache, readSeenNames, writeNameCache } from '../../../shared/store/profile-cache';
import { contentHash } from '../../../shared/store/record-version';
import type { TeamItem } from '../../../shared/teams/team-store';
import { FakeTeamsTable } from '../team-job/fake-teams-table';
import { COUNTS_SETTLE_MS } from '../../../shared/teams/webhook-counts';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const TEAM2 = '7a2d3c2f-1e66-4c54-8e3b-2a1c8b2d1f22';
const NOW = new Date('2026-11-21T12:20:00Z');

const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
let table: FakeTeamsTable;
let listCalls: { what: string; since?: string; verbose?: boolean }[];
let processed: IngestMessage[];
let changedPatients: { id: number; updated_at?: string }[];
let changedAppointments: { id: string; updated_at?: string }[];
/** Objects per page of the fake DrChrono lists. */
let pageSize: number;
/** The fake DrChrono's appointment profiles and patient flag types. */
let profiles: { id: number; name: string }[];
let flagTypes: { id: number; name: string }[];

function teamItem(o: Record<string, unknown> = {}) {
  return { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', connectedAt: '2026-11-20T08:00:00.000Z', ...o };
}

async function* gen<T>(items: T[], beforeCall: () => Promise<void>): AsyncGenerator<T> {
  await beforeCall();
  for (const i of items) yield i;
}

/** A paginated DrChrono list: one budgeted call per page; the cursor is the next page's offset. */
async function page<T>(all: T[], cursor: string | null | undefined, beforeCall: () => Promise<void>, since?: string) {
  await beforeCall();
  // DrChrono's `since`: objects updated at or after it (practice wall clock); objects without updated_at always match.
  const items = all.filter((o) => !since || String((o as { updated_at?: string }).updated_at ?? '9999') >= since);
  const offset = cursor ? Number(cursor.slice('offset='.length)) : 0;
  const next = offset + pageSize < items.length ? `offset=${offset + pageSize}` : null;
  return { results: items.slice(offset, offset + pageSize), next };
}

async function* pages<T>(items: T[], beforeCall: () => Promise<void>, since?: string): AsyncGenerator<T> {
  let cursor: string | null = null;
  do {
    const p: { results: T[]; next: string | null } = await page(items, cursor, beforeCall, since);
    yield* p.results;
    cursor = p.next;
  } while (cursor);
}

function deps(o: Partial<ReconcileDeps> = {}): ReconcileDeps {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    ddb,
    teamsTable: 'teams',
    recordsTable: 'records',
    integrationLogTable: 'log',
    integrationLogTtlDays: 90,
    secrets: { get: async () => ({ clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok' }), refresh: async () => null },
    process: async (msg) => {
      processed.push(msg);
      return { status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'updated' }] };
    },
    drchrono: ({ beforeCall }) => ({
      api: {
        listDoctors: () => {
          listCalls.push({ what: 'doctors' });
          return gen([], beforeCall);
        },
        listAppointmentProfiles: () => gen(profiles, beforeCall),
        listPatientFlagTypes: () => gen(flagTypes, beforeCall),
        patientsPage: (q: { since?: string; verbose?: boolean }, cursor?: string | null) => {
          listCalls.push({ what: 'patients', ...q });
          return page(changedPatients, cursor, beforeCall, q.since);
        },
        appointmentsPage: (q: { since?: string; verbose?: boolean }, cursor?: string | null) => {
          listCalls.push({ what: 'appointments', ...q });
          return page(changedAppointments, cursor, beforeCall, q.since);
        },
        // The whole-list form, as reconcile read before it kept a page cursor.
        listPatients: (q: { since?: string; verbose?: boolean }) => {
          listCalls.push({ what: 'patients', ...q });
          return pages(changedPatients, beforeCall, q.since);
        },
        listAppointments: (q: { since?: string; verbose?: boolean }) => {
          listCalls.push({ what: 'appointments', ...q });
          return pages(changedAppointments, beforeCall, q.since);
        },
      } as unknown as TeamDrChronoApi,
      bulk: { create: async () => 'u', waitForPage: async () => ({ status: 'in-progress' }) },
    }),
    now: () => NOW,
    ...o,
  };
}

const ctx = { messageId: 'm', groupId: 'g', finalAttempt: false };
const item = { type: 'reconcile' as const, teamId: TEAM, runAt: NOW.toISOString() };

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  table = new FakeTeamsTable(ddbMock);
  table.put(teamItem());
  listCalls = [];
  processed = [];
  changedPatients = [];
  changedAppointments = [];
  pageSize = 50;
  profiles = [];
  flagTypes = [];
});

describe('practice time', () => {
  it('expresses an instant on the practice wall clock, as DrChrono timestamps are', () => {
    expect(wallClock(new Date('2026-11-21T12:20:00Z'), 'US/Pacific')).toBe('2026-11-21T04:20:00');
    expect(sinceParam(new Date('2026-07-01T12:00:00Z'), 'America/New_York')).toBe('2026-07-01T08:00:00');
  });

  it('reaches back an extra hour when the practice clocks went back between the watermark and the run', () => {
    // 01:45 PDT; by the run at 02:00 PST the wall clock has passed 01:00-01:45 a second time.
    const from = new Date('2026-11-01T08:45:00Z');
    expect(sinceParam(from, 'US/Pacific', new Date('2026-11-01T10:00:00Z'))).toBe('2026-11-01T00:45:00');
    expect(sinceParam(from, 'US/Pacific', new Date('2026-11-01T08:50:00Z'))).toBe('2026-11-01T01:45:00');
  });

  it('without a known zone reaches 12 h further back so no practice zone misses a change', () => {
    expect(sinceParam(new Date('2026-11-21T12:20:00Z'), undefined)).toBe('2026-11-21T00:20:00');
    expect(sinceParam(new Date('2026-11-21T12:20:00Z'), 'Not/AZone')).toBe('2026-11-21T00:20:00');
    // An invalid zone is not kept: asked again, it is still invalid.
    expect(sinceParam(new Date('2026-11-21T12:20:00Z'), 'Not/AZone')).toBe('2026-11-21T00:20:00');
  });

  it("prefers the connected user's doctor's zone", () => {
    const doctors = [{ id: 1, timezone: 'US/Eastern' }, { id: 2, timezone: 'US/Pacific' }, { id: 3, timezone: 'bogus' }];
    expect(practiceTimeZoneOf(doctors, 2)).toBe('US/Pacific');
    expect(practiceTimeZoneOf(doctors, 3)).toBe('US/Eastern');
    expect(practiceTimeZoneOf([{ id: 1 }])).toBeUndefined();
  });
});

describe('practice time across many zones', () => {
  it('gives each zone its own wall clock when zones interleave (formatters are kept per zone)', () => {
    const at = new Date('2026-07-01T12:00:00Z');
    const zones: [string, string][] = [
      ['US/Pacific', '2026-07-01T05:00:00'],
      ['America/New_York', '2026-07-01T08:00:00'],
      ['UTC', '2026-07-01T12:00:00'],
      ['Asia/Kolkata', '2026-07-01T17:30:00'],
    ];
    for (let round = 0; round < 3; round++) for (const [zone, wall] of zones) expect(wallClock(at, zone)).toBe(wall);
  });

  it('still answers after more distinct zones than it keeps', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    expect(zones.length).toBeGreaterThan(100);
    const at = new Date('2026-01-15T00:00:00Z');
    for (const zone of zones) expect(wallClock(at, zone)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(wallClock(at, 'US/Pacific')).toBe('2026-01-14T16:00:00');
  });
});

describe('reconcile window', () => {
  it('starts from the watermark, else an hour before the backfill start, else the connect, minus 15 minutes', () => {
    const state = { watermark: '2026-11-21T11:00:00.000Z', lastRunAt: 'x', lastRunId: 'x' };
    expect(reconcileFrom(state, '2026-11-20T00:00:00.000Z', undefined, NOW).toISOString()).toBe('2026-11-21T10:45:00.000Z');
    expect(reconcileFrom(state, undefined, '2026-11-19T00:00:00.000Z', NOW).toISOString()).toBe('2026-11-21T10:45:00.000Z');
    expect(reconcileFrom(undefined, '2026-11-20T00:00:00.000Z', '2026-11-19T00:00:00.000Z', NOW).toISOString()).toBe('2026-11-19T22:45:00.000Z');
    expect(reconcileFrom(undefined, undefined, '2026-11-19T00:00:00.000Z', NOW).toISOString()).toBe('2026-11-18T23:45:00.000Z');
  });

  it('re-reads the whole gap after a reconnect: the backfill covers only its appointment date window, from lists up to an hour old', () => {
    const weekOld = { watermark: '2026-11-14T12:00:00.000Z', lastRunAt: 'x', lastRunId: 'x' };
    expect(reconcileFrom(weekOld, '2026-11-21T09:00:00.000Z', '2026-11-21T08:59:00.000Z', NOW).toISOString()).toBe('2026-11-14T11:45:00.000Z');
  });

  it('refreshes doctors once a day', () => {
    expect(doctorsDue(undefined, NOW)).toBe(true);
    expect(doctorsDue({ watermark: 'x', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T00:00:00.000Z' }, NOW)).toBe(false);
    expect(doctorsDue({ watermark: 'x', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-20T12:20:00.000Z' }, NOW)).toBe(true);
  });
});

describe('reconcile work item', () => {
  it('feeds changed patients through the sync path with source reconcile and moves the watermark', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T11:20:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z', practiceTimeZone: 'US/Pacific' });
    changedPatients = [{ id: 7 }];
    expect(await runReconcileItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(listCalls).toEqual([
      { what: 'patients', since: '2026-11-21T03:05:00', verbose: true },
      { what: 'appointments', since: '2026-11-21T03:05:00' },
    ]);
    expect(processed.map((m) => [m.source, m.event, m.deliveryId])).toEqual([['reconcile', 'PATIENT_MODIFY', `reconcile:${NOW.toISOString()}:patient:7`]]);
    expect(table.get(TEAM, 'RECONCILE')).toMatchObject({ watermark: NOW.toISOString(), lastPatients: 1, lastChanged: 1 });
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []);
    expect(log.map((e) => e.event)).toEqual(['RECONCILE_PATIENT', 'RECONCILE']);
  });

  it('keeps the watermark when the budget runs out, leaving the rest to the next hourly run (no deferred copy)', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T11:20:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z' });
    table.budgetMax = 0;
    const result = await runReconcileItem(item, ctx, deps());
    expect(result.status).toBe('done');
    expect(table.get(TEAM, 'RECONCILE')?.watermark).toBe('2026-11-21T11:20:00.000Z');
  });

  it('keeps the watermark and comes back soon when the run is still going at the invocation deadline', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T11:20:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z' });
    changedPatients = [{ id: 7 }];
    const stuck = deps({ process: () => new Promise<never>(() => {}) });
    const result = await runReconcileItem(item, { ...ctx, remainingMs: () => WORK_RESERVE_MS + 20 }, stuck);
    // Deferred, not failed: a long catch-up spans many invocations and must never count towards the DLQ.
    expect(result).toEqual({ status: 'defer', delaySeconds: 1 });
    expect(table.get(TEAM, 'RECONCILE')).toMatchObject({ watermark: '2026-11-21T11:20:00.000Z', window: { entity: 'patient', cursor: null, pages: 0 } });
  });

  it('keeps the watermark and retries the run when a changed object failed, logging only what it wrote', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T11:20:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z' });
    changedPatients = [{ id: 7 }, { id: 8 }];
    const flaky = deps({
      process: async (msg) =>
        msg.object.id === 8
          ? { status: 'retry', entry: { at: NOW.toISOString(), event: msg.event, outcome: 'failed', errorClass: 'DrChronoServerError' }, error: new Error('502') }
          : { status: 'done', entries: [{ at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'updated' }] },
    });
    const logged = () => table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []).map((e) => e.outcome);
    expect(await runReconcileItem(item, ctx, flaky)).toMatchObject({ status: 'retry', error: expect.objectContaining({ name: 'ReconcileObjectsFailedError' }) });
    expect(table.get(TEAM, 'RECONCILE')?.watermark).toBe('2026-11-21T11:20:00.000Z');
    expect(logged()).toEqual(['updated']);
    // The last receive gives up on the object: the watermark moves and the failure is logged once.
    expect(await runReconcileItem(item, { ...ctx, finalAttempt: true }, flaky)).toEqual({ status: 'done' });
    expect(table.get(TEAM, 'RECONCILE')?.watermark).toBe(NOW.toISOString());
    expect(logged().filter((o) => o === 'failed')).toHaveLength(1);
  });

  it('catches up over several hours when one window needs more calls than an hour of the budget share allows', async () => {
    // A team back from a week of reauthorisation: 12 patients and 9 appointments changed meanwhile, 2 per
    // page, so the window needs 11 calls; this team's backfill share is 4 calls an hour.
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-14T12:00:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z', practiceTimeZone: 'US/Pacific' });
    changedPatients = Array.from({ length: 12 }, (_, i) => ({ id: 100 + i, updated_at: '2026-11-18T10:00:00' }));
    changedAppointments = Array.from({ length: 9 }, (_, i) => ({ id: String(900 + i), updated_at: '2026-11-18T10:00:00' }));
    pageSize = 2;
    table.budgetMax = 4;
    const watermarks: string[] = [];
    let hour = 0;
    for (; hour < 8; hour++) {
      const at = new Date(NOW.getTime() + hour * 3_600_000);
      // The top of the hour: the team's counter starts again.
      table.budgetCalls = 0;
      await runReconcileItem({ ...item, runAt: at.toISOString() }, ctx, deps({ now: () => at }));
      watermarks.push(String(table.get(TEAM, 'RECONCILE')?.watermark));
      if (table.get(TEAM, 'RECONCILE')?.window === undefined && watermarks.at(-1)! >= new Date(at.getTime() - 3_600_000).toISOString()) break;
    }
    // Every changed object was written exactly once, and the watermark reached the present within a few hours.
    expect(new Set(processed.map((m) => m.deliveryId.split(':').slice(-2).join(':'))).size).toBe(21);
    expect(hour).toBeLessThanOrEqual(4);
    expect(watermarks[0]).toBe('2026-11-14T12:00:00.000Z');
    expect(watermarks.at(-1)! > NOW.toISOString()).toBe(true);
  });

  it('reads a window again from its first page when DrChrono refuses a saved page link (cursor expired)', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-14T12:00:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z', practiceTimeZone: 'US/Pacific' });
    changedPatients = Array.from({ length: 6 }, (_, i) => ({ id: 100 + i, updated_at: '2026-11-18T10:00:00' }));
    pageSize = 2;
    // The first run reads one page and stops at the budget; by the next hour DrChrono no longer honours its link.
    table.budgetMax = 1;
    await runReconcileItem(item, ctx, deps());
    expect(table.get(TEAM, 'RECONCILE')?.window).toMatchObject({ entity: 'patient', cursor: 'offset=2' });
    table.budgetMax = 100;
    table.budgetCalls = 0;
    // DrChrono refuses the saved link once (it expired); the first page of the same query is honoured.
    let refusals = 0;
    const once = deps();
    const base = once.drchrono;
    once.drchrono = (o) => {
      const made = base(o);
      const api = made.api as unknown as { patientsPage: (q: object, c?: string | null) => Promise<unknown> };
      const real = api.patientsPage;
      api.patientsPage = (q, c) => {
        if (c === 'offset=2' && refusals === 0) {
          refusals++;
          return Promise.reject(new DrChronoError('GET /api/patients: unexpected HTTP 400', { method: 'GET', path: '/api/patients', status: 400 }));
        }
        return real(q, c);
      };
      return made;
    };
    const result = await runReconcileItem(item, ctx, once);
    expect(result).toEqual({ status: 'done' });
    expect(refusals).toBe(1);
    // Nothing skipped: every changed patient was fed through the sync path, the window closed, the watermark moved.
    expect(new Set(processed.map((m) => m.deliveryId.split(':').at(-1))).size).toBe(6);
    expect(table.get(TEAM, 'RECONCILE')?.window).toBeUndefined();
    expect(String(table.get(TEAM, 'RECONCILE')?.watermark) > '2026-11-14T12:00:00.000Z').toBe(true);
  });

  it('fails, rather than loops, when DrChrono refuses the first page of a window', async () => {
    const refusing = deps();
    const base = refusing.drchrono;
    refusing.drchrono = (o) => {
      const made = base(o);
      (made.api as unknown as { patientsPage: () => Promise<unknown> }).patientsPage = () =>
        Promise.reject(new DrChronoError('GET /api/patients: unexpected HTTP 400', { method: 'GET', path: '/api/patients', status: 400 }));
      return made;
    };
    expect(await runReconcileItem(item, ctx, refusing)).toMatchObject({ status: 'retry' });
  });

  it('refreshes doctors on the first run and writes no log when nothing changed', async () => {
    await runReconcileItem(item, ctx, deps());
    expect(listCalls.map((c) => c.what)).toEqual(['doctors', 'patients', 'appointments']);
    expect(table.get(TEAM, 'RECONCILE')).toMatchObject({ doctorsRefreshedAt: NOW.toISOString() });
    expect(table.puts.some((p) => decodeIntegrationLogItem(p) !== undefined)).toBe(false);
  });

  it('skips a team whose backfill is still running', async () => {
    table.put({ ...newJob({ teamId: TEAM, jobId: 'j', reason: 'connect', now: NOW }), pk: TEAM, sk: 'BACKFILL' });
    await runReconcileItem(item, ctx, deps());
    expect(listCalls).toEqual([]);
  });

  it('skips a team that is not connected', async () => {
    table.put(teamItem({ status: 'reauthorization_required' }));
    expect(await runReconcileItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(listCalls).toEqual([]);
  });
  it('skips a disabled team and keeps its watermark, so the reconcile after `team enable` reads everything it missed', async () => {
    table.put(teamItem({ disabledAt: '2026-11-21T11:00:00.000Z' }));
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T09:00:00.000Z', rev: 1 });
    expect(await runReconcileItem(item, ctx, deps())).toEqual({ status: 'done' });
    expect(listCalls).toEqual([]);
    expect(table.get(TEAM, 'RECONCILE')).toMatchObject({ watermark: '2026-11-21T09:00:00.000Z', rev: 1 });
  });
});

describe('hourly schedule', () => {
  const team = teamItem({ apiBudgetPerHour: 10 }) as unknown as TeamItem;
  const job = (o: Record<string, unknown>) => ({ ...newJob({ teamId: TEAM, jobId: 'j', reason: 'connect', now: NOW }), ...o });

  it('nudges a budget-paused backfill once the team has budget again, not before', () => {
    const paused = job({ status: 'paused', pausedUntil: '2026-11-21T13:00:00.000Z', pauseReason: 'team API budget exhausted' });
    expect(backfillNeedsNudge(paused, team, 8, NOW)).toBeUndefined();
    expect(backfillNeedsNudge(paused, team, 7, NOW)).toBe('budget available');
    expect(backfillNeedsNudge(paused, team, 8, new Date('2026-11-21T13:00:01Z'))).toBe('pause over');
  });

  it('nudges a running backfill that has not moved for an hour', () => {
    expect(backfillNeedsNudge(job({ updatedAt: '2026-11-21T11:00:00.000Z' }), team, 0, NOW)).toBe('stalled');
    expect(backfillNeedsNudge(job({ updatedAt: '2026-11-21T12:00:00.000Z' }), team, 0, NOW)).toBeUndefined();
  });

  it('enqueues a reconcile and a deletion-check item per connected team and re-enqueues a resumable backfill step', async () => {
    const TEAM3 = '0b7c9d4e-1f2a-4b3c-8d5e-6f7a8b9c0d1e';
    const TEAM4 = '1c8d0e5f-2a3b-4c4d-9e6f-7a8b9c0d1e2f';
    ddbMock.on(ScanCommand).resolves({
      Items: [
        teamItem(),
        { ...teamItem(), pk: TEAM2, teamId: TEAM2, status: 'registered' },
        // Connected but switched off, or being removed: no reconcile, no deletion check, no backfill nudge.
        { ...teamItem(), pk: TEAM3, teamId: TEAM3, disabledAt: '2026-11-21T11:00:00.000Z' },
        { ...teamItem(), pk: TEAM4, teamId: TEAM4, status: 'removing' },
      ],
    });
    table.put({ ...job({ status: 'paused', step: 4, pausedUntil: '2026-11-21T12:00:00.000Z', pauseReason: 'team API budget exhausted' }), pk: TEAM, sk: 'BACKFILL' });
    const batches: unknown[] = [];
    const singles: unknown[] = [];
    sqsMock.on(SendMessageBatchCommand).callsFake((i: { Entries: { MessageBody: string }[] }) => {
      batches.push(...i.Entries.map((e) => JSON.parse(e.MessageBody)));
      return { Successful: [], Failed: [] };
    });
    sqsMock.on(SendMessageCommand).callsFake((i: { MessageBody: string }) => {
      singles.push(JSON.parse(i.MessageBody));
      return {};
    });
    // Every live team's roll-up moves its watermark (nothing in its log): answered here, not by the fake table.
    for (const t of [TEAM, TEAM2, TEAM3]) ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: t, sk: 'TEAM' } }).resolves({});
    const out = await scheduleReconcile({ ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), sqs: new SQSClient({ region: 'us-east-1' }), teamsTable: 'teams', backfillQueueUrl: 'q', integrationLogTable: 'log', now: () => NOW });
    expect(out).toEqual({ teams: 1, enqueued: 2, failedToEnqueue: 0, backfillsResumed: 1, webhookCounts: { teams: 3, groups: 0, lost: 0, failed: 0, skipped: 0, stopped: 0 } });
    expect(batches).toEqual([
      { type: 'reconcile', teamId: TEAM, runAt: NOW.toISOString() },
      { type: 'deletion-check', teamId: TEAM, runAt: NOW.toISOString() },
    ]);
    expect(singles).toEqual([{ type: 'step', teamId: TEAM, jobId: 'j', step: 4 }]);
  });
});

describe('the hourly tick rolls up webhook counts', () => {
  it("rolls up a team's settled log counts whether or not the team is connected, after the work items are sent", async () => {
    ddbMock.on(ScanCommand).resolves({ Items: [teamItem({ status: 'reauthorization_required' })] });
    ddbMock.on(QueryCommand, { TableName: 'log' }).resolves({ Items: [{ sk: '2026-11-21T09:00:00.000Z#g', wn: 4, wl: '2026-11-21T08:59:00.000Z' }] });
    ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } }).resolves({});
    const out = await scheduleReconcile({ ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), sqs: new SQSClient({ region: 'us-east-1' }), teamsTable: 'teams', backfillQueueUrl: 'q', integrationLogTable: 'log', now: () => NOW });
    expect(out).toMatchObject({ teams: 0, enqueued: 0, webhookCounts: { teams: 1, groups: 1 } });
    const update = ddbMock.commandCalls(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } })[0]!.args[0].input;
    // Up to the settle cutoff, not just the last item with counts, so the next tick reads from there.
    expect(update.ExpressionAttributeValues).toMatchObject({ ':n': 4, ':through': new Date(NOW.getTime() - COUNTS_SETTLE_MS).toISOString(), ':last': '2026-11-21T08:59:00.000Z' });
  });

  it('starts no roll-up when the invocation is near its end', async () => {
    ddbMock.on(ScanCommand).resolves({ Items: [teamItem()] });
    ddbMock.on(QueryCommand, { TableName: 'log' }).resolves({ Items: [{ sk: '2026-11-21T09:00:00.000Z#g', wn: 4 }] });
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const out = await scheduleReconcile({ ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), sqs: new SQSClient({ region: 'us-east-1' }), teamsTable: 'teams', backfillQueueUrl: 'q', integrationLogTable: 'log', now: () => NOW, remainingMs: () => ROLL_UP_RESERVE_MS });
    expect(out.webhookCounts).toMatchObject({ teams: 0, skipped: 1 });
    expect(ddbMock.commandCalls(QueryCommand, { TableName: 'log' })).toHaveLength(0);
  });
});

describe('renamed appointment profiles and flag types', () => {
  const DAY_AGO = '2026-11-20T12:00:00.000Z';
  const APPOINTMENTS = `${TEAM}#appointment`;
  const PATIENTS = `${TEAM}#patient`;
  /** Called between the sweep's read of the records and its updates: another writer's turn. */
  let betweenReadAndUpdate: () => void;

  /** The records table's conditional updates as DynamoDB evaluates them: `a = :b` and attribute_not_exists terms. */
  function fakeRecordUpdates(): void {
    const resolve = (path: string, names: Record<string, string>) => names[path] ?? path;
    ddbMock.on(UpdateCommand, { TableName: 'records' }).callsFake((input: { Key: { pk: string; sk: string }; UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> }) => {
      const names = input.ExpressionAttributeNames ?? {};
      const cur = table.get(input.Key.pk, input.Key.sk);
      const holds = input.ConditionExpression.split(' AND ').every((term) => {
        const missing = /^attribute_not_exists\((.+)\)$/.exec(term);
        if (missing) return cur?.[resolve(missing[1]!, names)] === undefined;
        const [path, value] = term.split(' = ');
        return cur !== undefined && JSON.stringify(cur[resolve(path!, names)]) === JSON.stringify(input.ExpressionAttributeValues[value!]);
      });
      if (!holds || !cur) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      for (const clause of input.UpdateExpression.replace(/^SET /, '').split(', ')) {
        const [path, value] = clause.split(' = ');
        cur[resolve(path!, names)] = input.ExpressionAttributeValues[value!];
      }
      return {};
    });
    ddbMock.on(QueryCommand, { TableName: 'records' }).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => {
      const items = [...table.items.values()].filter((i) => i.pk === input.ExpressionAttributeValues[':pk']).map((i) => structuredClone(i));
      betweenReadAndUpdate();
      return { Items: items };
    });
  }

  /** A stored appointment as writeRecord leaves it (content hash over the mapped fields). */
  function storedAppointment(id: string, profile: string, updatedAt = '2026-11-19T09:00:00') {
    const fields = { Patient: 'CH-1', Provider: '263812', 'Appt Profile': profile, 'Appt Status': 'Confirmed', 'Date of Service': '2026-12-01T09:00:00', Reason: null, Duration: 30, 'Claim ID': id };
    const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
    return { pk: APPOINTMENTS, sk: id, ...present, version: `u#${updatedAt}.000000000#0#2026-11-19T17:00:00.000Z`, contentHash: contentHash(fields), patientDrchronoId: '7', lastDeliveryId: 'd' };
  }

  function renamedProfileState(o: Record<string, unknown> = {}) {
    return {
      pk: TEAM,
      sk: 'RECONCILE',
      watermark: '2026-11-21T11:20:00.000Z',
      lastRunAt: 'x',
      lastRunId: 'x',
      doctorsRefreshedAt: '2026-11-21T06:00:00.000Z',
      practiceTimeZone: 'US/Pacific',
      names: { checkedAt: DAY_AGO, profiles: { '447202': 'Follow-up', '447203': 'New patient' }, flagTypes: { '31': 'VIP' } },
      rev: 1,
      ...o,
    };
  }

  beforeEach(() => {
    betweenReadAndUpdate = () => {};
    fakeRecordUpdates();
  });

  it('relabels the appointments of a renamed profile, with the content hash writeRecord would store', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    table.put(storedAppointment('a2', 'New patient'));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];
    flagTypes = [{ id: 31, name: 'VIP' }];

    expect(await runReconcileItem(item, ctx, deps())).toEqual({ status: 'done' });

    const a1 = table.get(APPOINTMENTS, 'a1')!;
    expect(a1['Appt Profile']).toBe('Follow-up visit');
    expect(a1.contentHash).toBe(storedAppointment('a1', 'Follow-up visit').contentHash);
    expect(a1.version).toBe(storedAppointment('a1', 'Follow-up').version);
    expect(table.get(APPOINTMENTS, 'a2')).toEqual(storedAppointment('a2', 'New patient'));
    const log = table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []).filter((e) => e.deliveryId?.endsWith(':names'));
    expect(log).toEqual([expect.objectContaining({ entity: 'appointment', drchronoId: 'a1', outcome: 'updated', fieldsWritten: ['Appt Profile'] })]);
    expect(JSON.stringify(log)).not.toContain('Follow-up');
    expect(table.get(TEAM, 'RECONCILE')?.names).toMatchObject({ checkedAt: NOW.toISOString(), profiles: { '447202': 'Follow-up visit' } });
  });

  it('relabels through the team choice list and leaves a profile the team maps by id alone', async () => {
    table.put({ ...teamItem(), syncChoices: { apptProfile: { 'Follow-up visit': 'FU', '447203': 'NP' } } });
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    table.put(storedAppointment('a2', 'NP'));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'First visit' }];

    await runReconcileItem(item, ctx, deps());

    expect(table.get(APPOINTMENTS, 'a1')?.['Appt Profile']).toBe('FU');
    expect(table.get(APPOINTMENTS, 'a2')?.['Appt Profile']).toBe('NP');
  });

  it('never overwrites a newer state of the appointment written between the read and the relabel', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];
    const newer = storedAppointment('a1', 'New patient', '2026-11-21T04:00:00');
    betweenReadAndUpdate = () => table.put(newer);

    await runReconcileItem(item, ctx, deps());

    expect(table.get(APPOINTMENTS, 'a1')).toEqual(newer);
    expect(table.puts.flatMap((p) => decodeIntegrationLogItem(p) ?? []).filter((e) => e.drchronoId === 'a1')).toEqual([]);
  });

  it('puts the new names in the sync cache before relabelling, so a later delivery maps with the new name', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];
    let cachedDuringSweep: ReadonlyMap<number, string> | undefined;
    betweenReadAndUpdate = () => {
      cachedDuringSweep = new Map(Object.entries((table.get(TEAM, 'PROFILES')?.names ?? {}) as Record<string, string>).map(([k, v]) => [Number(k), v]));
    };

    await runReconcileItem(item, ctx, deps());

    const cached = await readNameCache(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), 'teams', TEAM, 'PROFILES', NOW);
    expect(cachedDuringSweep?.get(447202)).toBe('Follow-up visit');
    const late = mapAppointment(
      { id: 'a1', patient: 7, doctor: 263812, profile: 447202, status: 'Confirmed', scheduled_time: '2026-12-01T09:00:00', duration: 30, updated_at: '2026-11-21T05:00:00' },
      { config: readTeamSyncConfig(teamItem()), profileNames: cached!, flagTypeNames: new Map() },
    );
    expect(late.fields['Appt Profile']).toBe('Follow-up visit');
  });

  it('sweeps once more after the settle time: a delivery that mapped the old name late is relabelled by the next run', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];
    await runReconcileItem(item, ctx, deps());
    expect(table.get(TEAM, 'RECONCILE')?.names).toMatchObject({ fanOut: { appointment: [{ from: 'Follow-up', to: 'Follow-up visit' }] } });

    // A warm sync container still held the old list: its delivery of a newer state wrote the old name.
    table.put(storedAppointment('a1', 'Follow-up', '2026-11-21T04:10:00'));
    const hourLater = new Date(NOW.getTime() + 3_600_000);
    await runReconcileItem({ ...item, runAt: hourLater.toISOString() }, ctx, deps({ now: () => hourLater }));

    expect(table.get(APPOINTMENTS, 'a1')?.['Appt Profile']).toBe('Follow-up visit');
    expect((table.get(TEAM, 'RECONCILE')?.names as Record<string, unknown>).fanOut).toBeUndefined();
  });

  it('relabels patient flag fields when a flag type is renamed', async () => {
    table.put(renamedProfileState());
    const fields = { 'Dr Chrono ID': '7', 'Patient Flags': ['VIP', 'Fall risk'], 'Patient Flags and Descriptions': ['VIP: since 2019', 'Fall risk'] };
    table.put({ pk: PATIENTS, sk: '7', ...fields, version: 'u#2026-11-19T09:00:00.000000000#0#2026-11-19T17:00:00.000Z', contentHash: 'h-other-fields' });
    profiles = [{ id: 447202, name: 'Follow-up' }, { id: 447203, name: 'New patient' }];
    flagTypes = [{ id: 31, name: 'Very important' }];

    await runReconcileItem(item, ctx, deps());

    expect(table.get(PATIENTS, '7')).toMatchObject({ 'Patient Flags': ['Very important', 'Fall risk'], 'Patient Flags and Descriptions': ['Very important: since 2019', 'Fall risk'] });
    // A hash it cannot reproduce is left as stored (the next duplicate delivery is a tie, resolved by a fetch).
    expect(table.get(PATIENTS, '7')?.contentHash).toBe('h-other-fields');
  });

  it('relabels on the first name check even when a sync container already cached the new name (the seen-names history keeps the old one)', async () => {
    const { names: _none, ...noNamesYet } = renamedProfileState();
    table.put(noNamesYet);
    table.put(storedAppointment('a1', 'Follow-up'));
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    // The backfill read the old name; after the rename, a sync container refetched the list (new name).
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[447202, 'Follow-up'], [447203, 'New patient']]), NOW);
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[447202, 'Follow-up visit'], [447203, 'New patient']]), NOW);
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];

    await runReconcileItem(item, ctx, deps());

    expect(table.get(APPOINTMENTS, 'a1')?.['Appt Profile']).toBe('Follow-up visit');
  });

  it('relabels records holding a name the profile had only between two daily checks', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    table.put(storedAppointment('a2', 'Follow-up (new)'));
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    // Renamed twice since the last check; a delivery in between mapped with the intermediate name.
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[447202, 'Follow-up (new)'], [447203, 'New patient']]), NOW);
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];

    await runReconcileItem(item, ctx, deps());

    expect(table.get(APPOINTMENTS, 'a1')?.['Appt Profile']).toBe('Follow-up visit');
    expect(table.get(APPOINTMENTS, 'a2')?.['Appt Profile']).toBe('Follow-up visit');
  });

  it('forgets relabelled names once the last sweep is done, so the next daily check sweeps nothing', async () => {
    table.put(renamedProfileState());
    table.put(storedAppointment('a1', 'Follow-up'));
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    profiles = [{ id: 447202, name: 'Follow-up visit' }, { id: 447203, name: 'New patient' }];
    await runReconcileItem(item, ctx, deps());
    expect(await readSeenNames(ddb, 'teams', TEAM, 'PROFILES')).toEqual({ '447202': ['Follow-up visit'], '447203': ['New patient'] });
    expect((table.get(TEAM, 'RECONCILE')?.names as Record<string, unknown>).fanOut).toBeDefined();
    const hourLater = new Date(NOW.getTime() + 3_600_000);
    await runReconcileItem({ ...item, runAt: hourLater.toISOString() }, ctx, deps({ now: () => hourLater }));
    expect((table.get(TEAM, 'RECONCILE')?.names as Record<string, unknown>).fanOut).toBeUndefined();

    const dayLater = new Date(NOW.getTime() + 25 * 3_600_000);
    await runReconcileItem({ ...item, runAt: dayLater.toISOString() }, ctx, deps({ now: () => dayLater }));
    expect((table.get(TEAM, 'RECONCILE')?.names as Record<string, unknown>).fanOut).toBeUndefined();
  });

  it('relabels appointments that store their profile id by id, even when a profile took another one\'s old name', async () => {
    table.put(renamedProfileState());
    table.put({ ...storedAppointment('a1', 'Follow-up'), profileId: 447202 });
    table.put({ ...storedAppointment('a2', 'New patient'), profileId: 447203 });
    // Swapped: 447202 took 447203's old name, so "New patient" → "First visit" is ambiguous by label alone.
    profiles = [{ id: 447202, name: 'New patient' }, { id: 447203, name: 'First visit' }];

    await runReconcileItem(item, ctx, deps());

    expect(table.get(APPOINTMENTS, 'a1')?.['Appt Profile']).toBe('New patient');
    expect(table.get(APPOINTMENTS, 'a2')?.['Appt Profile']).toBe('First visit');
    expect(table.get(APPOINTMENTS, 'a2')?.contentHash).toBe(storedAppointment('a2', 'First visit').contentHash);
  });

  it('leaves out a rename whose old name is now the current name of another profile (ambiguous), and composes chained renames', () => {
    const label = (_id: number, name: string) => name;
    expect(renamesBetween({ '1': 'A', '2': 'B' }, { '1': 'B', '2': 'C' }, label)).toEqual({ renames: [{ from: 'A', to: 'B' }], ambiguous: 1 });
    expect(renamesBetween({ '1': ['A', 'A2', 'B'] }, { '1': 'B' }, label)).toEqual({ renames: [{ from: 'A', to: 'B' }, { from: 'A2', to: 'B' }], ambiguous: 0 });
    expect(composeRenames([{ from: 'A', to: 'B' }], [{ from: 'B', to: 'C' }])).toEqual([{ from: 'A', to: 'C' }, { from: 'B', to: 'C' }]);
  });
});

describe('budget spent inside the sync path during a reconcile page', () => {
  it('ends the item (like a budget error from a list call) instead of deferring a copy to the next hour', async () => {
    table.put({ pk: TEAM, sk: 'RECONCILE', watermark: '2026-11-21T11:20:00.000Z', lastRunAt: 'x', lastRunId: 'x', doctorsRefreshedAt: '2026-11-21T06:00:00.000Z' });
    changedAppointments = [{ id: 9, updated_at: '2026-11-21T12:00:00' }] as never;
    // process() spent the budget on a referenced-patient / doctor fetch: the sync path answers 'defer'.
    const starved = deps({
      process: async (msg) => ({
        status: 'defer',
        delaySeconds: 2400,
        entry: { at: NOW.toISOString(), event: msg.event, deliveryId: msg.deliveryId, outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError', detail: 'team API budget exhausted' },
      }),
    });
    changedPatients = [{ id: 7 }];
    const result = await runReconcileItem(item, ctx, starved);
    expect(result).toEqual({ status: 'done' });
  });
});
