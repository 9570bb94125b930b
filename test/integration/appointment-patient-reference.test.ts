import { randomUUID } from 'node:crypto';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { main } from '../../cli/main';
import { documentClient } from '../../shared/aws/clients';
import { mapAppointment, mapPatient } from '../../shared/mapping';
import { readIntegrationLog } from '../../shared/store/integration-log';
import {
  chartFanOutPending,
  fanOutPatientChartId,
  readPatientReference,
  refreshAppointmentPatient,
  setAppointmentPatient,
} from '../../shared/store/patient-references';
import { getRecord, recordPk, writeRecordReportingPrevious, type StoredRecord } from '../../shared/store/records';
import { appointment, context, patient } from '../unit/mapping/fixtures';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { waitFor } from './helpers/wait-for';

/**
 * An appointment's "Patient" names the CURRENT Chart ID of its CURRENT patient, or is empty with a log entry
 * saying why: against DynamoDB Local (the store's conditional writes) and through the whole local pipeline.
 */
const ddb = documentClient();
const table = () => platform().resources.recordsTable;
let n = 0;

async function write(teamId: string, record: ReturnType<typeof mapPatient>) {
  return writeRecordReportingPrevious(ddb, table(), { teamId, record, deliveryId: `d-${++n}`, syncedAt: new Date().toISOString() });
}

const patientState = (chart: string, updatedAt: string, id = 104857601) => mapPatient(patient({ id, chart_id: chart, updated_at: updatedAt }), context());
const appointmentOf = (id: string, patientId: number, chart: string, version?: string) =>
  mapAppointment(
    appointment({ id, patient: patientId, updated_at: '2024-01-15T09:00:00' }),
    context({ patientChartIds: new Map([[patientId, chart]]), ...(version ? { patientVersions: new Map([[patientId, version]]) } : {}) }),
  );

async function stored(teamId: string, id: string): Promise<StoredRecord> {
  const r = await getRecord(ddb, table(), teamId, 'appointment', id, { consistent: true });
  if (!r) throw new Error(`appointment ${id} not stored`);
  return r;
}

describe('appointment "Patient" reference in the records store', () => {
  it('fans a Chart ID change out to the patient\'s live appointments only, and clears the pending flag', async () => {
    const teamId = randomUUID();
    await write(teamId, patientState('OLD-1', '2024-01-15T10:00:00'));
    const v1 = (await readPatientReference(ddb, table(), teamId, '104857601'))!.version;
    await write(teamId, appointmentOf('A1', 104857601, 'OLD-1', v1));
    await write(teamId, appointmentOf('A2', 104857601, 'OLD-1', v1));
    await write(teamId, appointmentOf('B1', 104857602, 'OTHER'));

    const changed = await write(teamId, patientState('NEW-1', '2024-01-15T11:00:00'));
    expect(changed.outcome).toBe('updated');
    expect(chartFanOutPending(changed.previous, 'NEW-1')).toBe(true);
    expect(await fanOutPatientChartId(ddb, table(), teamId, '104857601')).toEqual({ updated: 2 });

    expect((await stored(teamId, 'A1')).fields.Patient).toBe('NEW-1');
    expect((await stored(teamId, 'A2')).fields.Patient).toBe('NEW-1');
    expect((await stored(teamId, 'B1')).fields.Patient).toBe('OTHER');
    const item = await ddb.send(new GetCommand({ TableName: table(), Key: { pk: recordPk(teamId, 'patient'), sk: '104857601' }, ConsistentRead: true }));
    expect(item.Item).not.toHaveProperty('chartFanOut');
    // Run again (a retried delivery): nothing left to do.
    expect(await fanOutPatientChartId(ddb, table(), teamId, '104857601')).toEqual({ updated: 0 });
  });

  it('never lets an older patient state overwrite a newer Chart ID, in either order', async () => {
    const teamId = randomUUID();
    await write(teamId, appointmentOf('A1', 104857601, 'FIRST'));
    const newer = { chartId: 'NEWER', version: 'u#2024-01-15T12:00:00.000000000#0#2026-01-01T00:00:00.000Z' };
    const older = { chartId: 'OLDER', version: 'u#2024-01-15T11:00:00.000000000#0#2026-01-01T00:00:00.000Z' };

    expect(await setAppointmentPatient(ddb, table(), teamId, 'A1', '104857601', newer)).toBe(true);
    expect(await setAppointmentPatient(ddb, table(), teamId, 'A1', '104857601', older)).toBe(false);
    expect(await setAppointmentPatient(ddb, table(), teamId, 'A1', '104857601', newer)).toBe(false);
    expect((await stored(teamId, 'A1')).fields.Patient).toBe('NEWER');
    // An appointment that moved to another patient is not touched by the old patient's fan-out.
    expect(await setAppointmentPatient(ddb, table(), teamId, 'A1', '999', { chartId: 'X', version: 'u#9' })).toBe(false);
  });

  it('brings an appointment written from a stale read of its patient up to date after the write', async () => {
    const teamId = randomUUID();
    await write(teamId, patientState('OLD-1', '2024-01-15T10:00:00'));
    const v1 = (await readPatientReference(ddb, table(), teamId, '104857601'))!.version;
    // The Chart ID changes (and fans out) between the appointment's read of the patient and its write.
    await write(teamId, patientState('NEW-1', '2024-01-15T11:00:00'));
    await fanOutPatientChartId(ddb, table(), teamId, '104857601');
    await write(teamId, appointmentOf('A1', 104857601, 'OLD-1', v1));
    expect((await stored(teamId, 'A1')).fields.Patient).toBe('OLD-1');

    expect(await refreshAppointmentPatient(ddb, table(), teamId, 'A1', '104857601', v1)).toBe(true);
    expect((await stored(teamId, 'A1')).fields.Patient).toBe('NEW-1');
  });

  it('picks up a fan-out that was cut short on the next write of the patient, a duplicate included', async () => {
    const teamId = randomUUID();
    const state = patientState('NEW-1', '2024-01-15T11:00:00');
    await write(teamId, state);
    // As left by a fan-out that crashed after flagging the patient.
    await ddb.send(new UpdateCommand({ TableName: table(), Key: { pk: recordPk(teamId, 'patient'), sk: '104857601' }, UpdateExpression: 'SET chartFanOut = :t', ExpressionAttributeValues: { ':t': true } }));
    const again = await write(teamId, state);
    expect(again.outcome).toBe('unchanged');
    expect(chartFanOutPending(again.previous, 'NEW-1')).toBe(true);
  });
});

// ------------------------------------------------------------------ through the local pipeline

const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
type Json = Record<string, unknown>;

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: () => undefined });
  return { code, out: out.join('\n') };
}

describe('appointment "Patient" through the local pipeline', () => {
  let team: ConnectedTeam;
  let appointmentId: string;
  let patientId: number;
  let chartId: string;

  beforeAll(async () => {
    team = await connectTeam();
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), {
      callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`),
      secretToken: team.webhookSecret,
      events: ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'],
      active: true,
      verboseObjects: false,
    }, 200);
    const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
    if (!verified.body.ok) throw new Error('webhook verification failed');
    const p = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Ref', last_name: 'Test', doctor: 263812, chart_id: `REF-${randomUUID().slice(0, 8)}` }, 201)).body;
    patientId = Number(p.id);
    chartId = String(p.chart_id);
    await waitFor(() => getRecord(ddb, table(), team.teamId, 'patient', String(patientId), { consistent: true }), { timeoutMs: 30_000, description: 'the patient record' });
    const a = (await httpJson<Json>('POST', sandbox('/appointments'), { patient: patientId, doctor: 263812, reason: 'Ref', duration: 15 }, 201)).body;
    appointmentId = String(a.id);
    await waitFor(async () => (await getRecord(ddb, table(), team.teamId, 'appointment', appointmentId, { consistent: true }))?.fields.Patient === chartId || undefined, {
      timeoutMs: 30_000,
      description: 'the appointment naming the patient',
    });
  });

  afterAll(async () => {
    if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
  });

  it('renames the patient in its appointments when the Chart ID changes, and a late appointment delivery does not undo it', async () => {
    const newChart = `${chartId}-B`;
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { chart_id: newChart }, 200);
    const rec = await waitFor(
      async () => {
        const r = await getRecord(ddb, table(), team.teamId, 'appointment', appointmentId, { consistent: true });
        return r?.fields.Patient === newChart ? r : undefined;
      },
      { timeoutMs: 30_000, description: 'the appointment naming the new Chart ID' },
    );
    expect(rec.patientDrchronoId).toBe(String(patientId));

    // The appointment's own (older) delivery arrives again, late: it must not bring the old Chart ID back.
    const deliveries = (await httpJson<{ id: string }[]>('GET', sandbox(`/deliveries?clientId=${team.clientId}&objectId=${appointmentId}&event=APPOINTMENT_CREATE`), undefined, 200)).body;
    await httpJson('POST', sandbox(`/deliveries/${deliveries[0]!.id}/redeliver`), undefined, 200);
    await waitFor(async () => ((await readIntegrationLog(ddb, platform().resources.integrationLogTable, team.teamId, { limit: 200 })).filter((e) => e.deliveryId === deliveries[0]!.id).length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the redelivery processed',
    });
    expect((await getRecord(ddb, table(), team.teamId, 'appointment', appointmentId, { consistent: true }))?.fields.Patient).toBe(newChart);

    const shown = await cli('records', team.teamId, 'appointment', appointmentId);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`  Patient: ${newChart}`);
    chartId = newChart;
  });

  it('empties Patient, with a log entry saying why, when the appointment moves to a patient without a Chart ID', async () => {
    const other = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'No', last_name: 'Chart', doctor: 263812, chart_id: '' }, 201)).body;
    await waitFor(() => getRecord(ddb, table(), team.teamId, 'patient', String(other.id), { consistent: true }), { timeoutMs: 30_000, description: 'the second patient' });
    await httpJson('PATCH', sandbox(`/appointments/${appointmentId}`), { patient: other.id }, 200);

    const rec = await waitFor(
      async () => {
        const r = await getRecord(ddb, table(), team.teamId, 'appointment', appointmentId, { consistent: true });
        return r?.patientDrchronoId === String(other.id) ? r : undefined;
      },
      { timeoutMs: 30_000, description: 'the moved appointment' },
    );
    expect(rec.fields.Patient).toBeNull();
    // The log is written after the record (one item per batch): wait for it rather than read once.
    const entry = await waitFor(
      async () =>
        (await readIntegrationLog(ddb, platform().resources.integrationLogTable, team.teamId, { limit: 200 })).find(
          (e) => e.event === 'APPOINTMENT_MODIFY' && e.drchronoId === appointmentId && e.outcome === 'updated' && e.fieldsWritten?.includes('Patient'),
        ),
      { timeoutMs: 30_000, description: 'the log entry of the move' },
    );
    expect(entry.fieldsWritten).toContain('Patient');
    expect(entry.detail).toContain(`Patient cleared: patient ${String(other.id)} has no Chart ID`);

    const shown = await cli('records', team.teamId, 'appointment', appointmentId);
    expect(shown.out).toMatch(/\n {2}Patient: \n/);
    expect(shown.out).not.toContain(chartId);
  });
});
