import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import type { BackfillJob } from '../../shared/backfill/backfill-job';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { budgetHourKey, nextHourStart } from '../../shared/budget/api-budget';
import { readIntegrationLog, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { getRecord, type StoredRecord } from '../../shared/store/records';
import { teamKey } from '../../shared/teams/team-store';
import { main } from '../../cli/main';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { pausePoller, platform, resumePoller, runScheduled } from './helpers/platform';
import { waitFor } from './helpers/wait-for';
import { PLATFORM_INFO_ENV } from './setup/platform-process';

/**
 * Backfill against the DrChrono sandbox, through the local platform: the OAuth callback's start item, the
 * `backfill` poller, bulk endpoints, the sync worker's write path, the real records table.
 */
type Json = Record<string, unknown>;

const ddb = () => documentClient();
const tables = () => platform().resources;
const sandbox = (path: string) => `${platform().sandboxUrl!}/_sandbox${path}`;
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const PROFILE_NAMES: Record<number, string> = { 447201: 'Annual Physical', 447202: 'Follow-up', 447203: 'New Patient', 447204: 'Telehealth' };

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out: out.join('\n') };
}

function job(teamId: string): Promise<BackfillJob | undefined> {
  return getBackfillJob(ddb(), tables().teamsTable, teamId);
}

function waitForJob(teamId: string, ok: (j: BackfillJob) => boolean, what: string, timeoutMs = 60_000): Promise<BackfillJob> {
  return waitFor(async () => {
    const j = await job(teamId);
    return j && ok(j) ? j : undefined;
  }, { timeoutMs, intervalMs: 200, description: what });
}

function record(teamId: string, entity: 'patient' | 'appointment' | 'employee', id: string): Promise<StoredRecord | undefined> {
  return getRecord(ddb(), tables().recordsTable, teamId, entity, id, { consistent: true });
}

async function logOf(teamId: string): Promise<IntegrationLogEntry[]> {
  return readIntegrationLog(ddb(), tables().integrationLogTable, teamId, { limit: 1000 });
}

async function sandboxList(kind: 'patients' | 'appointments'): Promise<Json[]> {
  return (await httpJson<Json[]>('GET', sandbox(`/${kind}`), undefined, 200)).body;
}

/** The sandbox's appointments the job's window covers (by scheduled day), as DrChrono's date_range selects them. */
function inWindow(j: BackfillJob, appointments: Json[]): Json[] {
  const first = j.chunks[0]!.start;
  const last = j.chunks.at(-1)!.end;
  return appointments.filter((a) => {
    const day = String(a.scheduled_time).slice(0, 10);
    return day >= first && day <= last;
  });
}

async function resetBudgetHour(teamId: string): Promise<void> {
  // What the top of the hour does: a new hour, a new (empty) counter.
  await ddb().send(new DeleteCommand({ TableName: tables().teamsTable, Key: { pk: teamId, sk: budgetHourKey(new Date()) } }));
}

describe('backfill on connect', () => {
  let team: ConnectedTeam;
  let done: BackfillJob;

  beforeAll(async () => {
    team = await connectTeam();
    done = await waitForJob(team.teamId, (j) => j.status === 'completed', 'the connect backfill to complete');
  }, 90_000);

  it('imports every sandbox patient with its fields, including verbose-only insurance and flags', async () => {
    const patients = await sandboxList('patients');
    expect(done.patients).toBe(patients.length);
    for (const p of patients) {
      const r = await record(team.teamId, 'patient', String(p.id));
      const ins = p.primary_insurance as Json | undefined;
      expect(r?.fields).toMatchObject({
        'Dr Chrono ID': String(p.id),
        'Chart ID': text(p.chart_id),
        'First Name': text(p.first_name),
        'Last Name': text(p.last_name),
        'Date of Birth': text(p.date_of_birth),
        Email: text(p.email),
        'Primary Provider': String(p.doctor),
        'Insurance Company': text(ins?.insurance_company),
      });
      const flags = ((p.patient_flags_attached as Json[] | undefined) ?? []).filter((f) => f.archived !== true);
      if (flags.length > 0) expect(r?.fields['Patient Flags']).not.toBeNull();
    }
  });

  it('imports the doctors as employees', async () => {
    expect(done.doctors).toBe(3);
    for (const id of [263812, 263813, 263814]) {
      const r = await record(team.teamId, 'employee', String(id));
      expect(r?.fields).toMatchObject({ 'Chrono Doctor ID': String(id) });
      expect(r?.fields['First Name']).toEqual(expect.any(String));
    }
  });

  it('imports the appointments of the window with profile names and patient Chart IDs, tombstones deleted ones, skips breaks', async () => {
    const patients = new Map((await sandboxList('patients')).map((p) => [p.id, p]));
    const appointments = inWindow(done, await sandboxList('appointments'));
    expect(done.appointments).toBe(appointments.length);
    for (const a of appointments) {
      const r = await record(team.teamId, 'appointment', String(a.id));
      if (a.appt_is_break === true) {
        expect(r).toBeUndefined();
        continue;
      }
      if (a.deleted_flag === true) {
        expect(r?.deleted).toBe(true);
        continue;
      }
      expect(r?.fields).toMatchObject({
        Patient: text(patients.get(a.patient)?.chart_id),
        Provider: String(a.doctor),
        'Appt Profile': PROFILE_NAMES[a.profile as number],
        'Appt Status': text(a.status),
        'Date of Service': a.scheduled_time,
        Duration: a.duration,
        'Claim ID': String(a.id),
      });
    }
  });

  it('records the start and the finish in the integration log, and team show reports 100 %', async () => {
    const entries = await logOf(team.teamId);
    expect(entries.filter((e) => e.event === 'BACKFILL_START')).toHaveLength(1);
    const finish = entries.find((e) => e.event === 'BACKFILL_FINISH');
    expect(finish).toMatchObject({ outcome: 'info' });
    expect(finish?.detail).toContain(`${done.patients} patients`);
    const shown = await cli('team', 'show', team.teamId);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/percent:\s+100/);
    expect(shown.out).toMatch(/status:\s+completed/);
  });

  it('an operator backfill replays everything as unchanged', async () => {
    const r = await cli('backfill', team.teamId);
    expect(r.code).toBe(0);
    const jobId = /backfill (op-\S+) queued/.exec(r.out)?.[1];
    const again = await waitForJob(team.teamId, (j) => j.jobId === jobId && j.status === 'completed', 'the operator backfill');
    expect(again).toMatchObject({ created: 0, updated: 0, failed: 0, patients: done.patients, appointments: done.appointments });
  }, 90_000);
});

describe('backfill interrupted midway', () => {
  it('completes after the worker restarts, counting every record once', async () => {
    await pausePoller('backfill');
    let team: ConnectedTeam;
    try {
      team = await connectTeam({ waitForBackfill: false });
      // Slow DrChrono down so the worker can be stopped between steps.
      await httpJson('PATCH', sandbox(`/apps/${team.clientId}`), { latencyMs: 150 }, 200);
    } finally {
      await resumePoller('backfill');
    }
    await waitForJob(team.teamId, (j) => j.phase === 'appointments', 'the backfill to reach appointments');
    await pausePoller('backfill');
    let stopped: BackfillJob;
    try {
      stopped = (await job(team.teamId))!;
      expect(stopped.status).toBe('running');
      expect(stopped.percent).toBeLessThan(100);
      // Nothing moves while the worker is stopped.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await job(team.teamId))!.step).toBe(stopped.step);
    } finally {
      await resumePoller('backfill');
    }

    const done = await waitForJob(team.teamId, (j) => j.status === 'completed', 'the backfill to complete after the restart');
    expect(done.step).toBeGreaterThan(stopped.step);
    const patients = await sandboxList('patients');
    expect(done.patients).toBe(patients.length);
    expect(done.appointments).toBe(inWindow(done, await sandboxList('appointments')).length);
    // Exactly one 'created' per record: nothing was imported twice.
    const created = (await logOf(team.teamId)).filter((e) => e.outcome === 'created');
    const keys = created.map((e) => `${e.entity}:${e.drchronoId}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of patients) expect(await record(team.teamId, 'patient', String(p.id))).toBeDefined();
    await httpJson('PATCH', sandbox(`/apps/${team.clientId}`), { latencyMs: 0 }, 200);
  }, 120_000);
});

describe('backfill under a spent API budget', () => {
  it('pauses when the budget is exhausted and resumes on its own once the hour resets', async () => {
    const team = await connectTeam();
    await waitForJob(team.teamId, (j) => j.status === 'completed', 'the connect backfill');
    // 7 calls/hour leaves backfill 5 (webhooks keep 20 %); a --since backfill of a team mapping flags needs 7.
    await ddb().send(new UpdateCommand({ TableName: tables().teamsTable, Key: teamKey(team.teamId), UpdateExpression: 'SET apiBudgetPerHour = :n', ExpressionAttributeValues: { ':n': 7 } }));
    await resetBudgetHour(team.teamId);

    const r = await cli('backfill', team.teamId, '--since', '2000-01-01');
    expect(r.code).toBe(0);
    const jobId = /backfill (op-\S+) queued/.exec(r.out)?.[1];
    const paused = await waitForJob(team.teamId, (j) => j.jobId === jobId && j.status === 'paused', 'the backfill to pause');
    expect(paused).toMatchObject({ pauseReason: 'team API budget exhausted', phase: 'appointments' });
    expect(paused.pausedUntil).toBe(nextHourStart(new Date(paused.updatedAt)).toISOString());
    const pauseEntry = (await logOf(team.teamId)).find((e) => e.event === 'BACKFILL_PAUSE');
    expect(pauseEntry).toMatchObject({ outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' });

    // The hour rolls over; the hourly tick finds the paused job with budget again.
    await resetBudgetHour(team.teamId);
    await runScheduled('reconcile');
    const done = await waitForJob(team.teamId, (j) => j.jobId === jobId && j.status === 'completed', 'the backfill to resume and complete');
    expect(done.patients).toBe((await sandboxList('patients')).length);
    expect(done.failed).toBe(0);
  }, 120_000);
});
