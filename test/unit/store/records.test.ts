import { ConditionalCheckFailedException, DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { mapAppointment, mapPatient, type MappedRecord } from '../../../shared/mapping';
import { contentHash, versionKey } from '../../../shared/store/record-version';
import { findPatientByChartId, getRecord, listRecords, writeRecord } from '../../../shared/store/records';
import { appointment, context, patient } from '../mapping/fixtures';

const TABLE = 'records';
const TEAM = '6f1c2a4e-0000-4000-8000-000000000001';
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);

const write = (record: MappedRecord) => writeRecord(ddb, TABLE, { teamId: TEAM, record, deliveryId: 'd-1', syncedAt: '2024-01-16T12:00:01.000Z' });

function conditionFailed(item?: Record<string, unknown>): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item ? { Item: item as never } : {}) });
}

beforeEach(() => ddbMock.reset());

describe('writeRecord', () => {
  const record = mapPatient(patient(), context());

  it('sends exactly one conditional UpdateItem on the record itself', async () => {
    ddbMock.on(UpdateCommand).resolves({});

    await write(record);

    expect(ddbMock.calls()).toHaveLength(1);
    const input = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.Key).toEqual({ pk: `${TEAM}#patient`, sk: '104857601' });
    expect(input.ConditionExpression).toBe('attribute_not_exists(pk) OR (NOT (#deleted = :true) AND #version < :below)');
    // A delivered state supersedes only states of earlier seconds.
    expect(input.ExpressionAttributeValues?.[':below']).toBe('u#2024-01-15T10:30:00.000000000#');
    expect(input.ExpressionAttributeValues?.[':v']).toBe(versionKey(record.version));
    expect(input.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('lets a fetched state also replace earlier fetches and earlier deliveries of its second', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    const fetchedRecord = mapPatient(patient(), context({ authority: 'fetched', observedAt: '2024-01-16T12:00:05.000Z' }));

    await write(fetchedRecord);

    const input = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe(
      'attribute_not_exists(pk) OR (NOT (#deleted = :true) AND (#version < :below OR (#version > :fetchedAfter AND #version < :fetchedBefore)))',
    );
    expect(input.ExpressionAttributeValues).toMatchObject({
      ':below': 'u#2024-01-15T10:30:00.000000000#0#2024-01-16T12:00:05.000Z',
      ':fetchedAfter': 'u#2024-01-15T10:30:00.000000000#1#',
      ':fetchedBefore': 'u#2024-01-15T10:30:00.000000000#1#2024-01-16T12:00:05.000Z',
    });
  });

  it('gives patient states that differ only in an unmapped Chart ID different content hashes (a same-second pair is a tie, not "unchanged")', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    const config = structuredClone(context().config);
    config.fields.patient = ['First Name', 'Last Name'];
    const hashOf = async (chartId: string) => {
      ddbMock.reset();
      ddbMock.on(UpdateCommand).resolves({});
      await write(mapPatient(patient({ chart_id: chartId }), context({ config })));
      return ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues?.[':h'];
    };
    expect(await hashOf('OLD0001')).not.toBe(await hashOf('NEW0001'));
  });

  it('keeps the content hash of a team that maps "Chart ID" (the Chart ID is hashed once, as a field)', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    await write(record);
    expect(record.fields['Chart ID']).toBe(record.key);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues?.[':h']).toBe(contentHash(record.fields));
  });

  it('writes each field under its user-facing name, and the Chart ID index key', async () => {
    ddbMock.on(UpdateCommand).resolves({});

    await write(record);

    const input = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    const names = input.ExpressionAttributeNames ?? {};
    const values = input.ExpressionAttributeValues ?? {};
    const written = Object.fromEntries(
      Object.entries(names)
        .filter(([placeholder]) => placeholder.startsWith('#f'))
        .map(([placeholder, name]) => [name, values[`:${placeholder.slice(1)}`]]),
    );
    expect(written).toEqual(record.fields);
    // The team part is the UUID's 16 bytes in base64url.
    expect(values[':chartKey']).toBe('bxwqTgAAQACAAAAAAAAAAQ#DOJA000001');
  });

  it('removes a field DrChrono sent empty instead of storing null', async () => {
    ddbMock.on(UpdateCommand).resolves({});

    await write(mapPatient(patient({ email: '' }), context()));

    const input = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    const placeholder = Object.entries(input.ExpressionAttributeNames ?? {}).find(([, name]) => name === 'Email')![0];
    expect(input.UpdateExpression).toMatch(new RegExp(`REMOVE .*${placeholder}\\b`));
    expect(input.UpdateExpression).not.toMatch(new RegExp(`${placeholder} =`));
    expect(Object.values(input.ExpressionAttributeValues ?? {})).not.toContain(null);
  });

  it('leaves fields it did not map untouched', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    const lean = mapPatient({ ...patient(), primary_insurance: undefined }, context());

    await write(lean);

    const names = Object.values(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeNames ?? {});
    expect(names).not.toContain('Insurance Company');
  });

  it('takes a patient without a Chart ID out of the Chart ID index', async () => {
    ddbMock.on(UpdateCommand).resolves({});

    await write(mapPatient(patient({ chart_id: '' }), context()));

    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toMatch(/REMOVE .*\bchartKey\b/);
  });

  it('reports created when there was no old item', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    await expect(write(record)).resolves.toBe('created');
  });

  it('reports updated when the old item held other content', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: { version: 'u#2000-01-01T00:00:00.000000000', contentHash: 'other' } });
    await expect(write(record)).resolves.toBe('updated');
  });

  it('reports unchanged when a newer state carries the same content', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: { version: 'u#2000-01-01T00:00:00.000000000', contentHash: contentHash(record.fields) } });
    await expect(write(record)).resolves.toBe('unchanged');
  });

  it('reports stale-skipped when the condition fails on a newer stored version', async () => {
    ddbMock.on(UpdateCommand).rejects(conditionFailed({ version: { S: 'u#2099-01-01T00:00:00.000000000' }, contentHash: { S: 'x' } }));
    await expect(write(record)).resolves.toBe('stale-skipped');
  });

  it('reports unchanged when the condition fails on the same delivery already stored', async () => {
    ddbMock.on(UpdateCommand).rejects(conditionFailed({ version: { S: versionKey(record.version) }, contentHash: { S: contentHash(record.fields) } }));
    await expect(write(record)).resolves.toBe('unchanged');
  });

  it('reports a tie when the condition fails on a different state with the same updated_at', async () => {
    const sameSecond = versionKey({ ...record.version, observedAt: '2024-01-16T11:59:00.000Z' });
    ddbMock.on(UpdateCommand).rejects(conditionFailed({ version: { S: sameSecond }, contentHash: { S: 'other' } }));
    await expect(write(record)).resolves.toBe('tie');
    expect(ddbMock.calls()).toHaveLength(1);
  });

  it('reports unchanged when the condition fails on the same content with the same updated_at', async () => {
    const sameSecond = versionKey({ ...record.version, observedAt: '2024-01-16T11:59:00.000Z' });
    ddbMock.on(UpdateCommand).rejects(conditionFailed({ version: { S: sameSecond }, contentHash: { S: contentHash(record.fields) } }));
    await expect(write(record)).resolves.toBe('unchanged');
  });

  it('reports stale-skipped when the condition fails on a deleted appointment', async () => {
    const modify = mapAppointment(appointment(), context());
    ddbMock.on(UpdateCommand).rejects(conditionFailed({ version: { S: 'o#2024-01-01T00:00:00.000Z' }, deleted: { BOOL: true } }));
    await expect(write(modify)).resolves.toBe('stale-skipped');
  });

  it('writes a delete as one conditional PutItem of a tombstone', async () => {
    ddbMock.on(PutCommand).resolves({});
    const deletion = mapAppointment({ id: '246813579' }, context({ event: 'APPOINTMENT_DELETE' }));

    await expect(write(deletion)).resolves.toBe('deleted');

    expect(ddbMock.calls()).toHaveLength(1);
    const input = ddbMock.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('NOT (#deleted = :true)');
    expect(input.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
    expect(input.Item).toMatchObject({ pk: `${TEAM}#appointment`, sk: '246813579', deleted: true, 'Claim ID': '246813579' });
    expect(input.Item).not.toHaveProperty('Reason');
  });

  it('reports a delete of an already deleted appointment as unchanged', async () => {
    ddbMock.on(PutCommand).rejects(conditionFailed({ deleted: { BOOL: true } }));
    await expect(write(mapAppointment({ id: '1' }, context({ event: 'APPOINTMENT_DELETE' })))).resolves.toBe('unchanged');
  });

  it('refuses to store a break', async () => {
    await expect(write(mapAppointment(appointment({ appt_is_break: true }), context()))).rejects.toThrow(/break/);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('rethrows DynamoDB errors other than a failed condition', async () => {
    ddbMock.on(UpdateCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    await expect(write(record)).rejects.toThrow(ProvisionedThroughputExceededException);
  });
});

describe('getRecord', () => {
  it('separates user-facing fields from bookkeeping, reporting every absent field as empty', async () => {
    ddbMock.on(GetCommand).resolves({
      Item: { pk: `${TEAM}#employee`, sk: '7', version: 'u#x', contentHash: 'h', 'First Name': 'Alex', NPI: '1234567893', syncedAt: 1763744791051 },
    });

    await expect(getRecord(ddb, TABLE, TEAM, 'employee', '7')).resolves.toEqual({
      entity: 'employee',
      drchronoId: '7',
      fields: { 'First Name': 'Alex', 'Last Name': null, 'Work Phone': null, 'Personal Phone': null, 'Chrono Doctor ID': null, NPI: '1234567893', 'Work Email': null },
      version: 'u#x',
      deleted: false,
      syncedAt: new Date(1763744791051).toISOString(),
    });
  });

  it('reports only the key field of an appointment tombstone', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { pk: `${TEAM}#appointment`, sk: '9', version: 'o#t', deleted: true, 'Claim ID': '9' } });

    await expect(getRecord(ddb, TABLE, TEAM, 'appointment', '9')).resolves.toMatchObject({ deleted: true, fields: { 'Claim ID': '9' } });
    expect((await getRecord(ddb, TABLE, TEAM, 'appointment', '9'))?.fields).toEqual({ 'Claim ID': '9' });
  });

  it('returns undefined for an unknown record', async () => {
    ddbMock.on(GetCommand).resolves({});
    await expect(getRecord(ddb, TABLE, TEAM, 'employee', '1')).resolves.toBeUndefined();
  });
});

describe('findPatientByChartId', () => {
  it('ignores an index hit whose record has moved to another Chart ID', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [{ pk: `${TEAM}#patient`, sk: '1', chartKey: `${TEAM}#CH-1` }] });
    ddbMock.on(GetCommand).resolves({ Item: { pk: `${TEAM}#patient`, sk: '1', entity: 'patient', version: 'v', chartKey: `${TEAM}#CH-2` } });

    await expect(findPatientByChartId(ddb, TABLE, TEAM, 'CH-1')).resolves.toBeUndefined();
  });

  it('finds the patient through the Chart ID index', async () => {
    const key = 'bxwqTgAAQACAAAAAAAAAAQ#CH-1';
    ddbMock.on(QueryCommand).resolves({ Items: [{ pk: `${TEAM}#patient`, sk: '1', chartKey: key }] });
    ddbMock.on(GetCommand).resolves({ Item: { pk: `${TEAM}#patient`, sk: '1', version: 'v', chartKey: key } });

    await expect(findPatientByChartId(ddb, TABLE, TEAM, 'CH-1')).resolves.toMatchObject({ drchronoId: '1', chartId: 'CH-1' });
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(1);
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({ IndexName: 'byChartId', ExpressionAttributeValues: { ':ck': key } });
  });

});

describe('listRecords', () => {
  it('pages until the limit and returns the key to continue from', async () => {
    const item = (sk: string) => ({ pk: `${TEAM}#employee`, sk, entity: 'employee', version: 'v' });
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [item('1')], LastEvaluatedKey: { pk: 'p', sk: '1' } })
      .resolvesOnce({ Items: [item('2')], LastEvaluatedKey: { pk: 'p', sk: '2' } });

    const page = await listRecords(ddb, TABLE, TEAM, 'employee', { limit: 2 });

    expect(page.records.map((r) => r.drchronoId)).toEqual(['1', '2']);
    expect(page.nextKey).toEqual({ pk: 'p', sk: '2' });
  });
});
