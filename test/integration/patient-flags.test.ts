import { documentClient } from '../../shared/aws/clients';
import { readIntegrationLog } from '../../shared/store/integration-log';
import { getRecord, type StoredRecord } from '../../shared/store/records';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * Patient flags through the local pipeline: the sandbox attaches, changes and removes a flag (firing
 * PATIENT_FLAG_CREATE / the change event, carrying the flag with a patient reference and leaving the patient's
 * updated_at as it was) and the record's "Patient Flags" and "Patient Flags and Descriptions" follow.
 */
type Json = Record<string, unknown>;
const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const ddb = documentClient();

describe('patient flags through the local pipeline', () => {
  let team: ConnectedTeam;
  let patientId: number;

  const record = () => getRecord(ddb, platform().resources.recordsTable, team.teamId, 'patient', String(patientId), { consistent: true });
  const waitForFlags = (ok: (r: StoredRecord) => boolean, what: string) =>
    waitFor(async () => {
      const r = await record();
      return r && ok(r) ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, description: what });

  beforeAll(async () => {
    team = await connectTeam();
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), {
      callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`),
      secretToken: team.webhookSecret,
      // The console's spelling of the change event, as a clinic would tick it.
      events: ['PATIENT_CREATE', 'PATIENT_MODIFY', 'PATIENT_FLAG_CREATE', 'PATIENT_FLAG_MODIFY'],
      active: true,
      verboseObjects: false,
    }, 200);
    const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
    if (!verified.body.ok) throw new Error('webhook verification failed');
    const p = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Flag', last_name: 'Test', doctor: 263812, patient_flags: [], patient_flags_attached: [] }, 201)).body;
    patientId = Number(p.id);
    await waitForFlags((r) => r.fields['Patient Flags'] === null, 'the patient record without flags');
  });

  afterAll(async () => {
    if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
  });

  it('attaching, changing and removing a flag updates both flag fields, though the patient\'s updated_at does not move', async () => {
    const before = (await httpJson<Json>('GET', sandbox(`/patients/${patientId}`), undefined, 200)).body.updated_at;
    const flag = (await httpJson<Json>('POST', sandbox(`/patients/${patientId}/flags`), { flag_type: 5522, flag_text: 'Uses a walker' }, 201)).body;
    expect((await httpJson<Json>('GET', sandbox(`/patients/${patientId}`), undefined, 200)).body.updated_at).toBe(before);

    await waitForFlags((r) => JSON.stringify(r.fields['Patient Flags']) === JSON.stringify(['Fall Risk']), 'the attached flag');
    expect((await record())?.fields['Patient Flags and Descriptions']).toEqual(['Fall Risk: Uses a walker']);

    await httpJson('PATCH', sandbox(`/patients/${patientId}/flags/${String(flag.id)}`), { flag_text: 'Uses a cane' }, 200);
    await waitForFlags((r) => JSON.stringify(r.fields['Patient Flags and Descriptions']) === JSON.stringify(['Fall Risk: Uses a cane']), 'the changed flag text');

    await httpJson('DELETE', sandbox(`/patients/${patientId}/flags/${String(flag.id)}`), undefined, 200);
    const cleared = await waitForFlags((r) => r.fields['Patient Flags'] === null, 'the removed flag');
    expect(cleared.fields['Patient Flags and Descriptions']).toBeNull();

    const log = await readIntegrationLog(ddb, platform().resources.integrationLogTable, team.teamId, { limit: 100 });
    const flagEntries = log.filter((e) => e.event?.startsWith('PATIENT_FLAG_'));
    expect(flagEntries.map((e) => e.event).sort()).toEqual(['PATIENT_FLAG_CREATE', 'PATIENT_FLAG_MODIFY', 'PATIENT_FLAG_MODIFY']);
    for (const e of flagEntries) {
      expect(e).toMatchObject({ entity: 'patient', drchronoId: String(patientId), outcome: 'updated' });
      expect(e.detail).toContain('patient flags re-read');
    }
  });
});
