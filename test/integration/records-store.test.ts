import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { seedData } from '../../local/drchrono-sandbox/seed';
import { serialize } from '../../local/drchrono-sandbox/serializer';
import { documentClient } from '../../shared/aws/clients';
import { mapAppointment, mapPatient, type MappedRecord } from '../../shared/mapping';
import { findPatientByChartId, getRecord, listRecords, writeRecord } from '../../shared/store/records';
import { appointment, context, patient, withoutKeys } from '../unit/mapping/fixtures';
import { deliveryHistoryArb, processDeliveries, type DeliveryHistory, type StoredState } from '../unit/mapping/record-deliveries';

/**
 * The records store against DynamoDB Local (started by the integration global setup, which exports
 * AWS_ENDPOINT_URL_DYNAMODB and RECORDS_TABLE). Every test uses fresh team ids, so runs never interfere.
 */
const table = (): string => {
  const name = process.env.RECORDS_TABLE;
  if (!name) throw new Error('RECORDS_TABLE is not set: the integration global setup did not run');
  return name;
};
const ddb = documentClient();

let n = 0;
function writer(teamId: string) {
  return (record: MappedRecord) => writeRecord(ddb, table(), { teamId, record, deliveryId: `d-${++n}`, syncedAt: new Date().toISOString() });
}

describe('records store on DynamoDB', () => {
  it('creates, dedupes, updates and refuses older state for one patient', async () => {
    const teamId = randomUUID();
    const write = writer(teamId);
    const v1 = mapPatient(patient({ updated_at: '2024-01-15T10:30:00' }), context());
    const v2 = mapPatient(patient({ updated_at: '2024-01-15T11:00:00', email: 'jane@new.example.com' }), context());

    expect(await write(v1)).toBe('created');
    expect(await write(v1)).toBe('unchanged');
    expect(await write(v2)).toBe('updated');
    expect(await write(v1)).toBe('stale-skipped');

    const stored = await getRecord(ddb, table(), teamId, 'patient', '104857601', { consistent: true });
    expect(stored?.fields).toEqual(v2.fields);
  });

  it('stores every mapped field under its exact user-facing name and value', async () => {
    const teamId = randomUUID();
    const record = mapPatient(patient(), context());
    await writer(teamId)(record);

    const stored = await getRecord(ddb, table(), teamId, 'patient', '104857601', { consistent: true });
    expect(stored?.fields).toEqual(record.fields);
    expect(stored?.fields['Patient Flags']).toEqual(['VIP']);
    expect(stored?.fields['Disable SMS/Txt']).toBe(false);
  });

  it('clears a field DrChrono empties and keeps one whose source was absent', async () => {
    const teamId = randomUUID();
    const write = writer(teamId);
    await write(mapPatient(patient(), context()));
    const lean = withoutKeys(patient({ updated_at: '2024-02-01T00:00:00', email: '' }), 'primary_insurance');
    expect(await write(mapPatient(lean, context()))).toBe('updated');

    const stored = await getRecord(ddb, table(), teamId, 'patient', '104857601', { consistent: true });
    expect(stored?.fields.Email).toBeNull();
    expect(stored?.fields['Insurance Company']).toBe('Blue Cross Blue Shield');
  });

  it('bills one write unit on the table for each seeded sandbox patient, every field mapped and verbose', async () => {
    // A client of its own that asks DynamoDB Local for the capacity each write consumed on the table itself
    // (a create also writes the keys-only Chart ID index: one more unit, whatever the item's size).
    const tableUnits: number[] = [];
    const measured = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    measured.middlewareStack.add(
      (next) => async (args) => {
        (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'INDEXES';
        const out = await next(args);
        const units = (out.output as { ConsumedCapacity?: { Table?: { CapacityUnits?: number } } }).ConsumedCapacity?.Table?.CapacityUnits;
        if (units !== undefined) tableUnits.push(units);
        return out;
      },
      { step: 'initialize', name: 'consumedCapacity' },
    );
    const teamId = randomUUID();
    const patients = seedData(Date.now()).patients;
    for (const p of patients) {
      const record = mapPatient(serialize('patient', p, true), context());
      await writeRecord(measured, table(), { teamId, record, deliveryId: 'd'.repeat(16), syncedAt: new Date().toISOString() });
    }

    expect(tableUnits).toEqual(patients.map(() => 1));
  });

  it('reads a field it removed for being empty as null, and finds the patient by Chart ID', async () => {
    const teamId = randomUUID();
    await writer(teamId)(mapPatient(patient({ email: '', middle_name: null }), context()));

    const stored = await findPatientByChartId(ddb, table(), teamId, 'DOJA000001');
    expect(stored?.fields).toMatchObject({ Email: null, 'Middle Name': null, 'First Name': 'Jane' });
  });

  it('keeps one record when the Chart ID changes, findable by the new Chart ID only', async () => {
    const teamId = randomUUID();
    const write = writer(teamId);
    await write(mapPatient(patient(), context()));
    await write(mapPatient(patient({ chart_id: 'DOJA000099', updated_at: '2024-02-01T00:00:00' }), context()));

    expect((await listRecords(ddb, table(), teamId, 'patient')).records).toHaveLength(1);
    expect(await findPatientByChartId(ddb, table(), teamId, 'DOJA000099')).toMatchObject({ drchronoId: '104857601' });
    expect(await findPatientByChartId(ddb, table(), teamId, 'DOJA000001')).toBeUndefined();
  });

  it('does not resurrect a deleted appointment with a late modify', async () => {
    const teamId = randomUUID();
    const write = writer(teamId);
    await write(mapAppointment(appointment(), context()));

    expect(await write(mapAppointment({ id: '246813579' }, context({ event: 'APPOINTMENT_DELETE' })))).toBe('deleted');
    expect(await write(mapAppointment({ id: '246813579' }, context({ event: 'APPOINTMENT_DELETE' })))).toBe('unchanged');
    expect(await write(mapAppointment(appointment({ updated_at: '2030-01-01T00:00:00' }), context()))).toBe('stale-skipped');

    const stored = await getRecord(ddb, table(), teamId, 'appointment', '246813579', { consistent: true });
    expect(stored).toMatchObject({ deleted: true, fields: { 'Claim ID': '246813579' } });
  });

  it('resolves two same-second states through a tie and a fetch, in one conditional write each', async () => {
    const teamId = randomUUID();
    const write = writer(teamId);
    const sameSecond = { updated_at: '2024-01-15T10:30:00' };
    const older = mapPatient(patient({ ...sameSecond, email: 'older@example.com' }), context({ observedAt: '2024-01-16T12:00:00.000Z' }));
    const newer = mapPatient(patient({ ...sameSecond, email: 'newer@example.com' }), context({ observedAt: '2024-01-16T12:00:01.000Z' }));
    const fetched = (sentAt: string) => mapPatient(patient({ ...sameSecond, email: 'newer@example.com' }), context({ observedAt: sentAt, authority: 'fetched' }));

    expect(await write(older)).toBe('created');
    expect(await write(newer)).toBe('tie');
    expect(await write(older)).toBe('unchanged');
    expect(await write(fetched('2024-01-16T12:00:02.000Z'))).toBe('updated');
    // Received before that fetch was sent: the fetch is at least as new.
    expect(await write(older)).toBe('stale-skipped');
    // Received after it: may be a later change of the same second, so it ties again.
    expect(await write(mapPatient(patient({ ...sameSecond, email: 'older@example.com' }), context({ observedAt: '2024-01-16T12:00:03.000Z' })))).toBe('tie');
    expect(await write(fetched('2024-01-16T12:00:01.500Z'))).toBe('stale-skipped');
    expect(await write(fetched('2024-01-16T12:00:04.000Z'))).toBe('unchanged');

    const stored = await getRecord(ddb, table(), teamId, 'patient', '104857601', { consistent: true });
    expect(stored?.fields.Email).toBe('newer@example.com');
    expect(stored?.version).toBe('u#2024-01-15T10:30:00.000000000#1#2024-01-16T12:00:04.000Z');
  });

  it("ends in DrChrono's current state for any permutation and duplication of the deliveries, same-second changes included", async () => {
    const finalState = async (teamId: string, history: DeliveryHistory) => {
      await processDeliveries(history, writer(teamId));
      const state = new Map<string, StoredState>();
      for (const id of history.expected.keys()) {
        const [entity, drchronoId] = id.split('#') as [MappedRecord['entity'], string];
        const stored = await getRecord(ddb, table(), teamId, entity, drchronoId, { consistent: true });
        if (stored) state.set(id, { deleted: stored.deleted, fields: stored.fields });
      }
      return state;
    };
    await fc.assert(
      fc.asyncProperty(deliveryHistoryArb, async (history) => {
        expect(await finalState(randomUUID(), history)).toEqual(history.expected);
      }),
      { numRuns: 25 },
    );
  });
});
