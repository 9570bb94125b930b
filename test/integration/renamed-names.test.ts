import { randomUUID } from 'node:crypto';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import { DEFAULT_TEAM_SYNC_CONFIG, mapAppointment } from '../../shared/mapping';
import { relabelRecord } from '../../shared/reconcile/renamed-names';
import { getRecord, recordPk, writeRecord } from '../../shared/store/records';
import { appointment, context } from '../unit/mapping/fixtures';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { platform, runScheduled } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * A renamed appointment profile (DrChrono fires no webhook, and no appointment's updated_at changes) reaches the
 * records through reconcile's daily name refresh, and the relabel is order-safe on DynamoDB's real conditions.
 */
type Json = Record<string, unknown>;

const ddb = () => documentClient();
const tables = () => platform().resources;
const sandbox = (path: string) => `${platform().sandboxUrl!}/_sandbox${path}`;
/** Renamed back after the test: other suites share the sandbox and expect the names they found. */
const PROFILE = 447204;
let OLD_NAME: string;
let NEW_NAME: string;

async function reconcileState(teamId: string): Promise<Json | undefined> {
  return (await ddb().send(new GetCommand({ TableName: tables().teamsTable, Key: { pk: teamId, sk: 'RECONCILE' }, ConsistentRead: true }))).Item;
}

describe('reconcile after an appointment profile rename', () => {
  let team: ConnectedTeam;

  beforeAll(async () => {
    team = await connectTeam(); // waits for the connect backfill to complete
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
    // The name it has now (a convergence soak may have renamed it before).
    const data = (await httpJson<{ profiles: { id: number; name: string }[] }>('GET', sandbox('/data'), undefined, 200)).body;
    OLD_NAME = data.profiles.find((p) => p.id === PROFILE)!.name;
    NEW_NAME = `${OLD_NAME} (renamed)`;
  }, 90_000);

  afterAll(async () => {
    await httpJson('PATCH', sandbox(`/appointment_profiles/${PROFILE}`), { name: OLD_NAME }, 200);
  });

  it('relabels the appointments written with the old name once the daily refresh has passed', async () => {
    const appt = (
      await httpJson<Json>('POST', sandbox('/appointments'), { patient: 104857601, doctor: 263812, profile: PROFILE, scheduled_time: '2026-12-03T09:00:00', duration: 30, exam_room: 1, office: 118732 }, 201)
    ).body;
    await runScheduled('reconcile');
    const before = await waitFor(async () => {
      const r = await getRecord(ddb(), tables().recordsTable, team.teamId, 'appointment', String(appt.id), { consistent: true });
      const s = await reconcileState(team.teamId);
      return r && s?.names && !s.window ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, description: 'the appointment and the first name refresh' });
    expect(before.fields['Appt Profile']).toBe(OLD_NAME);

    await httpJson('PATCH', sandbox(`/appointment_profiles/${PROFILE}`), { name: NEW_NAME }, 200);
    // A day later: the daily refresh is due again.
    await ddb().send(
      new UpdateCommand({
        TableName: tables().teamsTable,
        Key: { pk: team.teamId, sk: 'RECONCILE' },
        UpdateExpression: 'SET #n.checkedAt = :old',
        ExpressionAttributeNames: { '#n': 'names' },
        ExpressionAttributeValues: { ':old': new Date(Date.now() - 25 * 3_600_000).toISOString() },
      }),
    );
    await runScheduled('reconcile');

    const after = await waitFor(async () => {
      const r = await getRecord(ddb(), tables().recordsTable, team.teamId, 'appointment', String(appt.id), { consistent: true });
      return r?.fields['Appt Profile'] === NEW_NAME ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, description: 'the relabelled appointment' });
    // The DrChrono state it holds is the same one: only the name changed.
    expect(after.version).toBe(before.version);
    expect(after.fields).toEqual({ ...before.fields, 'Appt Profile': NEW_NAME });
    const cache = (await ddb().send(new GetCommand({ TableName: tables().teamsTable, Key: { pk: team.teamId, sk: 'PROFILES' }, ConsistentRead: true }))).Item;
    expect((cache?.names as Json)[String(PROFILE)]).toBe(NEW_NAME);
  }, 90_000);
});

describe('relabelling one record on DynamoDB', () => {
  const teamId = randomUUID();
  const table = () => tables().recordsTable;
  const names = (n: string) => context({ profileNames: new Map([[447201, n]]) });
  const write = (record: ReturnType<typeof mapAppointment>, d: string) => writeRecord(ddb(), table(), { teamId, record, deliveryId: d, syncedAt: new Date().toISOString() });
  const raw = async (id: string) => (await ddb().send(new GetCommand({ TableName: table(), Key: { pk: recordPk(teamId, 'appointment'), sk: id }, ConsistentRead: true }))).Item!;

  it('does not apply over a newer state written after the record was read', async () => {
    await write(mapAppointment(appointment({ id: 'r1', updated_at: '2024-01-15T10:00:00' }), names('Annual Physical')), 'd1');
    const read = await raw('r1');
    const newer = mapAppointment(appointment({ id: 'r1', updated_at: '2024-01-15T11:00:00', profile: 447201 }), names('Annual Physical (new)'));
    expect(await write(newer, 'd2')).toBe('updated');

    expect(await relabelRecord(ddb(), table(), teamId, 'appointment', read, [{ from: 'Annual Physical', to: 'Yearly' }], DEFAULT_TEAM_SYNC_CONFIG, 'x')).toBeUndefined();
    expect((await raw('r1'))['Appt Profile']).toBe('Annual Physical (new)');
  });

  it('stores the content hash writeRecord would: a duplicate delivery mapped with the new name is unchanged, not a tie', async () => {
    const v1 = appointment({ id: 'r2', updated_at: '2024-01-15T10:00:00' });
    await write(mapAppointment(v1, names('Annual Physical')), 'd1');
    expect(await relabelRecord(ddb(), table(), teamId, 'appointment', await raw('r2'), [{ from: 'Annual Physical', to: 'Yearly' }], DEFAULT_TEAM_SYNC_CONFIG, 'x')).toEqual(['Appt Profile']);
    expect(await write(mapAppointment(v1, names('Yearly')), 'd3')).toBe('unchanged');
  });
});
