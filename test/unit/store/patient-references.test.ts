import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { appointmentPatientCheck, fanOutPatientChartId, readPatientReference, tombstonePatient } from '../../../shared/store/patient-references';
import { chartKey } from '../../../shared/store/records';

const TABLE = 'records';
const TEAM = '6f1c2a4e-0000-4000-8000-000000000001';
const PATIENT_KEY = { pk: `${TEAM}#patient`, sk: '104857601' };
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);

const tombstone = (mapsAppointmentPatient = true) =>
  tombstonePatient(ddb, TABLE, { teamId: TEAM, patientId: '104857601', observedAt: '2026-11-21T10:16:00.000Z', deliveryId: 'd-1', syncedAt: '2026-11-21T10:16:01.000Z', mapsAppointmentPatient });

beforeEach(() => {
  ddbMock.reset();
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(GetCommand).resolves({ Item: { chartKey: chartKey(TEAM, 'DOJA000001'), version: 'z#2026-11-21T10:16:00.000Z', deleted: true } });
  ddbMock.on(QueryCommand).resolves({ Items: [{ sk: 'A1', Patient: 'DOJA000001', patientVersion: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:15:00.000Z' }] });
});

const appointmentUpdates = () => ddbMock.commandCalls(UpdateCommand, { TableName: TABLE, Key: { pk: `${TEAM}#appointment`, sk: 'A1' } });

describe('readPatientReference', () => {
  it('reads a tombstoned patient as deleted with no Chart ID, though the tombstone keeps chartKey', async () => {
    expect(await readPatientReference(ddb, TABLE, TEAM, '104857601')).toEqual({ chartId: '', version: 'z#2026-11-21T10:16:00.000Z', deleted: true });
  });
});

describe('tombstonePatient', () => {
  it('does not fan out for a patient that was never stored (no appointment can name it)', async () => {
    expect(await tombstone()).toEqual({ outcome: 'deleted' });
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it('finishes a clear cut short, when a retried delivery finds the patient already deleted with chartFanOut set', async () => {
    ddbMock.on(UpdateCommand, { TableName: TABLE, Key: PATIENT_KEY }).callsFake(async (input: { UpdateExpression?: string }) => {
      if (!String(input.UpdateExpression).includes('#deleted = :true')) return {};
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { version: { S: 'z#2026-11-21T10:00:00.000Z' }, deleted: { BOOL: true }, chartFanOut: { BOOL: true }, chartKey: { S: chartKey(TEAM, 'DOJA000001') } },
      });
    });
    expect(await tombstone()).toEqual({ outcome: 'unchanged', cleared: 1 });
    expect(appointmentUpdates()[0]!.args[0].input.UpdateExpression).toContain('REMOVE #patient');
  });

  it('does not touch appointments for a team that does not map appointment "Patient"', async () => {
    ddbMock.on(UpdateCommand, { TableName: TABLE, Key: PATIENT_KEY }).resolves({ Attributes: { ...PATIENT_KEY, chartKey: chartKey(TEAM, 'DOJA000001') } });
    expect(await tombstone(false)).toEqual({ outcome: 'deleted' });
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('fanOutPatientChartId: resumable on a large appointment partition', () => {
  const V = 'u#2024-01-15T11:00:00.000000000#0#2026-11-21T10:15:00.000Z';
  const live = () => ddbMock.on(GetCommand, { TableName: TABLE, Key: PATIENT_KEY }).resolves({ Item: { chartKey: chartKey(TEAM, 'NEW-1'), version: V } });
  const queries = () => ddbMock.commandCalls(QueryCommand).map((c) => c.args[0].input);

  it('saves where it got to after each page, for the patient version it carries', async () => {
    live();
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ sk: 'A1', Patient: 'OLD-1', patientVersion: 'u#1' }], LastEvaluatedKey: { pk: `${TEAM}#appointment`, sk: 'A1' } })
      .resolves({ Items: [{ sk: 'A2', Patient: 'OLD-1', patientVersion: 'u#1' }] });
    expect(await fanOutPatientChartId(ddb, TABLE, TEAM, '104857601')).toEqual({ updated: 2 });
    const saves = ddbMock.commandCalls(UpdateCommand, { TableName: TABLE, Key: PATIENT_KEY }).map((c) => c.args[0].input).filter((i) => String(i.UpdateExpression).includes('chartFanOutFrom ='));
    expect(saves).toHaveLength(1);
    expect(saves[0]!.ExpressionAttributeValues).toEqual({ ':from': { pk: `${TEAM}#appointment`, sk: 'A1' }, ':v': V });
    expect(saves[0]!.ConditionExpression).toBe('#version = :v');
  });

  it('continues a fan-out of the same patient state from the saved page instead of restarting', async () => {
    live();
    ddbMock.on(UpdateCommand, { TableName: TABLE, Key: PATIENT_KEY }).resolves({ Attributes: { chartFanOut: true, chartFanOutVersion: V, chartFanOutFrom: { pk: `${TEAM}#appointment`, sk: 'A5000' } } });
    await fanOutPatientChartId(ddb, TABLE, TEAM, '104857601');
    expect(queries()[0]!.ExclusiveStartKey).toEqual({ pk: `${TEAM}#appointment`, sk: 'A5000' });
  });

  it('starts from the beginning when the saved progress is for an older patient state', async () => {
    live();
    ddbMock.on(UpdateCommand, { TableName: TABLE, Key: PATIENT_KEY }).resolves({ Attributes: { chartFanOut: true, chartFanOutVersion: 'u#older', chartFanOutFrom: { pk: `${TEAM}#appointment`, sk: 'A5000' } } });
    await fanOutPatientChartId(ddb, TABLE, TEAM, '104857601');
    expect(queries()[0]!.ExclusiveStartKey).toBeUndefined();
  });
});

describe('appointmentPatientCheck: what an appointment write still owes "Patient"', () => {
  const P = '104857601';
  const [V1, V2, V3] = ['u#2024-01-10T08:00:00.000000000#0#x', 'u#2024-01-12T08:00:00.000000000#0#x', 'u#2024-01-14T08:00:00.000000000#0#x'];
  const ours = { chartId: 'A', version: V2 };
  const held = (patientVersion: string | undefined, patientChartId = 'A', patientDrchronoId = P) => ({ patientDrchronoId, patientChartId, ...(patientVersion ? { patientVersion } : {}) });

  it.each([
    ['an applied write that left the pair as it was', 'none', true, held(V2), ours],
    ['an applied write that only raised the stamp (the patient changed, not its Chart ID)', 'none', true, held(V1), ours],
    ['an applied write that cleared an empty "Patient" again', 'none', true, held(V1, ''), { chartId: '', version: V2 }],
    ['an applied create (no old item)', 'refresh', true, undefined, ours],
    ['an applied write over another Chart ID of an older state', 'refresh', true, held(V1, 'OLD'), ours],
    ['an applied write over a newer stamp (a fan-out landed after the read)', 'refresh', true, held(V3, 'NEW'), ours],
    ['an applied write over a newer stamp with the same Chart ID', 'refresh', true, held(V3), ours],
    ['an applied write that moved the appointment to this patient', 'refresh', true, held(V2, 'A', '7'), ours],
    ['an applied write whose Chart ID came from DrChrono (no stamp)', 'refresh', true, held(V2), { chartId: 'A', version: undefined }],
    ['a refused write finding our Chart ID', 'none', false, held(V1), ours],
    ['a refused write finding another Chart ID of an older state', 'set', false, held(V1, 'OLD'), ours],
    ['a refused write finding the same patient with no stamp', 'set', false, held(undefined, 'OLD'), ours],
    ['a refused write finding a newer stamp', 'none', false, held(V3, 'NEW'), ours],
    ['a refused write finding another patient', 'none', false, held(V1, 'OLD', '7'), ours],
    ['a refused write finding a tombstone (no patient)', 'none', false, {}, ours],
    ['a refused write without a stamp finding the same patient', 'refresh', false, held(V1, 'OLD'), { chartId: 'A', version: undefined }],
  ] as const)('%s: %s', (_what, expected, applied, found, used) => {
    expect(appointmentPatientCheck({ applied, ...(found ? { found } : {}) }, P, used)).toBe(expected);
  });
});
