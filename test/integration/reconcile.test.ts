import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { getRecord } from '../../shared/store/records';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { platform, runScheduled } from './helpers/platform';
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
    team = await connectTeam();
    await waitFor(async () => (await getBackfillJob(ddb(), tables().teamsTable, team.teamId))?.status === 'completed', {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'the connect backfill',
    });
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
    const state = await waitFor(async () => {
      const s = await reconcileState(team.teamId);
      return s && Number(s.lastChanged) >= 2 ? s : undefined;
    }, { timeoutMs: 10_000, description: 'the reconcile watermark' });
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
