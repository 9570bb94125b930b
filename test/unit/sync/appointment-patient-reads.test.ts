import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { processIngestMessage, type ProcessResult } from '../../../shared/sync/process-ingest-message';
import { chartKey } from '../../../shared/store/records';
import { appointmentObj, harness, message, TEAM } from './helpers';

/**
 * DynamoDB requests of an appointment delivery that maps "Patient" (docs/mapping.md, "Patient" stays current):
 * the patient item is read once before the write, and again after it only when the write may have left
 * "Patient" behind (patient-references.ts appointmentPatientCheck).
 */
const PATIENT_KEY = { pk: `${TEAM}#patient`, sk: '104857601' };
const APPOINTMENT_KEY = { pk: `${TEAM}#appointment`, sk: '246813579' };
// Patient record versions, oldest first (versionKey form).
const P0 = 'u#2024-01-10T08:00:00.000000000#0#2026-11-21T09:00:00.000Z';
const P1 = 'u#2024-01-12T08:00:00.000000000#0#2026-11-21T09:30:00.000Z';
const P2 = 'u#2024-01-14T08:00:00.000000000#0#2026-11-21T10:14:30.000Z';
const patientItem = (chartId: string, version: string) => ({ Item: { ...PATIENT_KEY, chartKey: chartKey(TEAM, chartId), version } });

function setup() {
  const h = harness();
  // The appointment's doctor is known: no employee look-up beyond the per-container one.
  h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });
  h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves(patientItem('DOJA000001', P1));
  return h;
}

function patientReads(h: ReturnType<typeof harness>): number {
  return h.ddbMock.commandCalls(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).length;
}

/** The appointment writes: the record write first, then any conditional "Patient" update (setAppointmentPatient). */
function appointmentUpdates(h: ReturnType<typeof harness>) {
  return h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY }).map((c) => c.args[0].input);
}

const patientSets = (h: ReturnType<typeof harness>) => appointmentUpdates(h).filter((u) => u.ConditionExpression?.startsWith('patientDrchronoId = :pid'));

function outcome(r: ProcessResult) {
  if (r.status !== 'done') throw new Error(`expected done, got ${r.status}`);
  return r.entries[0]!.outcome;
}

/** The stored appointment, as the record write's condition failure returns it. */
function refused(item: Record<string, string>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])),
  });
}

describe('appointment deliveries: reads of the patient reference', () => {
  it('reads the patient once when the stored appointment already names it with the stamp just read (a modify, patient unchanged)', async () => {
    const h = setup();
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY })
      .resolves({ Attributes: { ...APPOINTMENT_KEY, version: 'u#2024-01-15T09:00:00.000000000#0#2026-11-21T10:00:00.000Z', contentHash: 'older', patientDrchronoId: '104857601', patientVersion: P1, Patient: 'DOJA000001' } });

    const r = await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

    expect(outcome(r)).toBe('updated');
    expect(patientReads(h)).toBe(1);
    expect(appointmentUpdates(h)).toHaveLength(1);
  });

  it('reads the patient once when its state moved on but its Chart ID did not (a modify after a patient modify)', async () => {
    const h = setup();
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY })
      .resolves({ Attributes: { ...APPOINTMENT_KEY, version: 'u#2024-01-15T09:00:00.000000000#0#2026-11-21T10:00:00.000Z', contentHash: 'older', patientDrchronoId: '104857601', patientVersion: P0, Patient: 'DOJA000001' } });

    await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

    expect(patientReads(h)).toBe(1);
    expect(appointmentUpdates(h)).toEqual([expect.objectContaining({ ExpressionAttributeValues: expect.objectContaining({ ':patientVersion': P1 }) })]);
  });

  it('reads the patient again after creating an appointment (a Chart ID fan-out may have run before it existed)', async () => {
    const h = setup();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolvesOnce(patientItem('DOJA000001', P1)).resolves(patientItem('NEWCHART', P2));

    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);

    expect(outcome(r)).toBe('created');
    expect(patientReads(h)).toBe(2);
    expect(patientSets(h)).toEqual([expect.objectContaining({ ExpressionAttributeValues: expect.objectContaining({ ':chart': 'NEWCHART', ':pv': P2 }) })]);
  });

  it('reads the patient again when the write replaced a newer stamp of the same patient (a fan-out landed between read and write)', async () => {
    const h = setup();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolvesOnce(patientItem('DOJA000001', P1)).resolves(patientItem('NEWCHART', P2));
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY })
      .resolves({ Attributes: { ...APPOINTMENT_KEY, version: 'u#2024-01-15T09:00:00.000000000#0#2026-11-21T10:00:00.000Z', contentHash: 'older', patientDrchronoId: '104857601', patientVersion: P2, Patient: 'NEWCHART' } });

    await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

    expect(patientReads(h)).toBe(2);
    expect(patientSets(h)).toEqual([expect.objectContaining({ ExpressionAttributeValues: expect.objectContaining({ ':chart': 'NEWCHART', ':pv': P2 }) })]);
  });

  it('reads the patient again when the appointment moved to this patient from another one', async () => {
    const h = setup();
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY })
      .resolves({ Attributes: { ...APPOINTMENT_KEY, version: 'u#2024-01-15T09:00:00.000000000#0#2026-11-21T10:00:00.000Z', contentHash: 'older', patientDrchronoId: '999', patientVersion: P1 } });

    await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

    expect(patientReads(h)).toBe(2);
  });

  it('reads the patient once and writes nothing more for a duplicate that finds the appointment at the stamp just read', async () => {
    const h = setup();
    const delivery = message('APPOINTMENT_MODIFY', appointmentObj());
    await processIngestMessage(delivery, h.deps);
    const stored = appointmentUpdates(h)[0]!;
    h.ddbMock.resetHistory();
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY }).rejects(
      refused({ version: String(stored.ExpressionAttributeValues![':v']), contentHash: String(stored.ExpressionAttributeValues![':h']), patientDrchronoId: '104857601', patientVersion: P1 }),
    );

    const r = await processIngestMessage({ ...delivery, receivedAt: '2026-11-21T10:15:00.000Z' }, h.deps);

    expect(outcome(r)).toBe('unchanged');
    expect(patientReads(h)).toBe(1);
    expect(appointmentUpdates(h)).toHaveLength(1);
  });

  it('brings up, without a second read, a stored newer appointment of the same patient left behind by a writer stopped before its re-check', async () => {
    const h = setup();
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY }).rejects(
      refused({ version: 'u#2024-02-01T00:00:00.000000000#0#2026-11-21T10:14:50.000Z', contentHash: 'newer', patientDrchronoId: '104857601', patientVersion: P0 }),
    );

    const r = await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

    expect(outcome(r)).toBe('stale-skipped');
    expect(patientReads(h)).toBe(1);
    expect(patientSets(h)).toEqual([expect.objectContaining({ ExpressionAttributeValues: expect.objectContaining({ ':chart': 'DOJA000001', ':pv': P1, ':pid': '104857601' }) })]);
  });

  it('leaves a stored newer appointment alone when it names another patient or a stamp at least as new', async () => {
    for (const stored of [
      { patientDrchronoId: '999', patientVersion: P0 },
      { patientDrchronoId: '104857601', patientVersion: P2 },
    ]) {
      const h = setup();
      h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: APPOINTMENT_KEY }).rejects(
        refused({ version: 'u#2024-02-01T00:00:00.000000000#0#2026-11-21T10:14:50.000Z', contentHash: 'newer', ...stored }),
      );

      const r = await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj()), h.deps);

      expect(outcome(r)).toBe('stale-skipped');
      expect(patientReads(h)).toBe(1);
      expect(appointmentUpdates(h)).toHaveLength(1);
    }
  });
});
