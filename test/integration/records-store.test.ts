import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { documentClient } from '../../shared/aws/clients';
import { mapAppointment, mapPatient, type MappedRecord } from '../../shared/mapping';
import { findPatientByChartId, getRecord, listRecords, writeRecord } from '../../shared/store/records';
import { appointment, context, patient, withoutKeys } from '../unit/mapping/fixtures';
import { deliveryHistoryArb } from '../unit/mapping/record-deliveries';

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

  it('ends in the in-order state for any permutation and duplication of the deliveries', async () => {
    const finalState = async (teamId: string, records: MappedRecord[]) => {
      for (const r of records) await writer(teamId)(r);
      const ids = [...new Set(records.map((r) => `${r.entity}|${r.drchronoId}`))].sort();
      return Promise.all(
        ids.map(async (id) => {
          const [entity, drchronoId] = id.split('|') as [MappedRecord['entity'], string];
          const stored = await getRecord(ddb, table(), teamId, entity, drchronoId, { consistent: true });
          return { id, deleted: stored?.deleted, fields: stored?.fields };
        }),
      );
    };
    await fc.assert(
      fc.asyncProperty(deliveryHistoryArb, async ({ deliveries, shuffled }) => {
        const inOrder = await finalState(randomUUID(), deliveries);
        expect(await finalState(randomUUID(), shuffled)).toEqual(inOrder);
      }),
      { numRuns: 25 },
    );
  });
});
