import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { budgetHourKey } from '../../shared/budget/api-budget';
import { documentClient } from '../../shared/aws/clients';
import { getRecord } from '../../shared/store/records';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { platform, pollerStats, runScheduled } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * The hourly reconcile against the sandbox: a change made while webhook delivery is off is in the store after one
 * reconcile run, and running it again changes nothing.
 */
type Json = Record<string, unknown>;

const ddb = () => documentClient();
const tables = () => platform().resources;
const sandbox = (path: string) => `${platform().sandboxUrl!}/_sandbox${path}`;

async function reconcileState(teamId: string): Promise<Json | undefined> {
  return (await ddb().send(new GetCommand({ TableName: tables().teamsTable, Key: { pk: teamId, sk: 'RECONCILE' }, ConsistentRead: true }))).Item;
}

describe('scheduled reconcile', () => {
  let team: ConnectedTeam;

  beforeAll(async () => {
    team = await connectTeam(); // waits for the connect backfill to complete
    // Webhook delivery off for this app: only reconcile can bring changes in.
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
  }, 90_000);

  it('brings in a patient and an appointment whose webhooks never arrived, after one run', async () => {
    const patient = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Recon', last_name: 'Ciled', doctor: 263812, email: 'recon@example.com' }, 201)).body;
    const appointment = (
      await httpJson<Json>('POST', sandbox('/appointments'), { patient: patient.id, doctor: 263812, profile: 447202, scheduled_time: '2026-12-01T09:00:00', duration: 30, exam_room: 1, office: 118732 }, 201)
    ).body;
    expect(await getRecord(ddb(), tables().recordsTable, team.teamId, 'patient', String(patient.id))).toBeUndefined();

    await runScheduled('reconcile');
    const stored = await waitFor(() => getRecord(ddb(), tables().recordsTable, team.teamId, 'patient', String(patient.id), { consistent: true }), {
      timeoutMs: 30_000,
      intervalMs: 250,
      description: 'the reconciled patient',
    });
    expect(stored.fields).toMatchObject({ 'First Name': 'Recon', 'Last Name': 'Ciled', Email: 'recon@example.com', 'Chart ID': patient.chart_id });
    const appt = await waitFor(() => getRecord(ddb(), tables().recordsTable, team.teamId, 'appointment', String(appointment.id), { consistent: true }), {
      timeoutMs: 30_000,
      description: 'the reconciled appointment',
    });
    expect(appt.fields).toMatchObject({ Patient: patient.chart_id, 'Appt Profile': 'Follow-up', 'Claim ID': String(appointment.id) });
    // The same tick's daily check re-reads every patient (this team maps flags) and may write the patient first;
    // either way the reconcile window completes and counts what it changed.
    const state = await waitFor(async () => {
      const s = await reconcileState(team.teamId);
      return s?.lastRunAt !== undefined && Number(s.lastChanged) >= 1 ? s : undefined;
    }, { timeoutMs: 30_000, description: 'the reconcile watermark' });
    expect(state).toMatchObject({ practiceTimeZone: 'US/Pacific' });
    expect(stored.lastDeliveryId).toMatch(/^reconcile:/);
  }, 60_000);

  it('a second run replays the overlap without changing anything', async () => {
    const before = await reconcileState(team.teamId);
    await runScheduled('reconcile');
    const after = await waitFor(async () => {
      const s = await reconcileState(team.teamId);
      return s && s.lastRunAt !== before?.lastRunAt ? s : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, description: 'the second reconcile run' });
    expect(Number(after.lastPatients)).toBeGreaterThanOrEqual(1);
    expect(after.lastChanged).toBe(0);
    expect(String(after.watermark) > String(before?.watermark)).toBe(true);
  }, 60_000);
});

describe('reconcile after a gap larger than an hour of budget', () => {
  let team: ConnectedTeam;

  beforeAll(async () => {
    team = await connectTeam(); // waits for the connect backfill to complete
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
  }, 90_000);

  it('moves forward every hour until the watermark reaches the present', async () => {
    // 25 appointments changed while no webhook arrived: two pages of 20, plus the patients page and the daily
    // doctors list. At 3 calls an hour the backfill share is 2, so no single hour can read the whole window.
    const changedAt = new Date();
    for (let i = 0; i < 25; i++) {
      await httpJson('POST', sandbox('/appointments'), { patient: 104857601, doctor: 263812, profile: 447202, scheduled_time: `2026-12-${String(2 + (i % 20)).padStart(2, '0')}T10:00:00`, duration: 15, exam_room: 1, office: 118732, reason: `gap ${i}` }, 201);
    }
    await ddb().send(new UpdateCommand({ TableName: tables().teamsTable, Key: { pk: team.teamId, sk: 'TEAM' }, UpdateExpression: 'SET apiBudgetPerHour = :n', ExpressionAttributeValues: { ':n': 3 } }));
    // Today's deletion check is done, so every call of these hours is reconcile's.
    await ddb().send(new PutCommand({ TableName: tables().teamsTable, Item: { pk: team.teamId, sk: 'DELETION_CHECK', lastCompletedAt: new Date().toISOString(), rev: 1 } }));

    const hours: (string | undefined)[] = [];
    for (let hour = 0; hour < 6; hour++) {
      // The top of the hour: a new, empty budget counter.
      await ddb().send(new DeleteCommand({ TableName: tables().teamsTable, Key: { pk: team.teamId, sk: budgetHourKey(new Date()) } }));
      const before = await pollerStats('backfill');
      const tick = await runScheduled<{ enqueued: number; backfillsResumed: number }>('reconcile');
      // Every item of this tick (all connected teams') has been handled: done, or deferred to the next hour.
      await waitFor(async () => {
        const s = await pollerStats('backfill');
        return s.succeeded + s.failed >= before.succeeded + before.failed + tick.enqueued + tick.backfillsResumed;
      }, { timeoutMs: 30_000, intervalMs: 200, description: 'the hourly items' });
      const state = await reconcileState(team.teamId);
      hours.push(state?.window ? `window ${(state.window as Json).entity} after ${(state.window as Json).pages} pages` : `watermark ${String(state?.watermark)}`);
      if (!state?.window && String(state?.watermark) >= changedAt.toISOString()) break;
    }
    const state = await reconcileState(team.teamId);
    expect(state?.window).toBeUndefined();
    expect(String(state?.watermark) >= changedAt.toISOString()).toBe(true);
    // It took more than one hour, and every hour moved the window forward.
    expect(hours.length).toBeGreaterThan(1);
    expect(new Set(hours).size).toBe(hours.length);
    const appointments = (await httpJson<Json[]>('GET', sandbox('/appointments'), undefined, 200)).body.filter((a) => String(a.reason).startsWith('gap '));
    for (const a of appointments) {
      expect(await getRecord(ddb(), tables().recordsTable, team.teamId, 'appointment', String(a.id), { consistent: true })).toBeDefined();
    }
  }, 180_000);
});
