import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { seedData } from '../../../local/drchrono-sandbox/seed';
import { serialize } from '../../../local/drchrono-sandbox/serializer';
import { mapAppointment, mapPatient, type MappedRecord } from '../../../shared/mapping';
import { writeRecord } from '../../../shared/store/records';
import { appointment, context, patient } from '../mapping/fixtures';
import { itemFromUpdate, itemSize } from './item-size';

/**
 * DynamoDB bills a write per started KB of the item (names and values), so a record over 1,024 bytes costs two
 * write units on every event. These tests rebuild the item writeRecord's one UpdateItem leaves and size it by
 * DynamoDB's rule (test/integration/records-store.test.ts checks the same against DynamoDB Local's own count).
 */
const TEAM = '6f1c2a4e-0000-4000-8000-000000000001';
const ONE_WRITE_UNIT_BYTES = 1024;
// A DrChrono delivery id is opaque; the sandbox numbers them. 16 characters leaves room above that.
const DELIVERY_ID = 'd'.repeat(16);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);

beforeEach(() => {
  ddbMock.reset();
  ddbMock.on(UpdateCommand).resolves({});
});

async function storedItem(record: MappedRecord): Promise<Record<string, unknown>> {
  await writeRecord(ddb, 'records', { teamId: TEAM, record, deliveryId: DELIVERY_ID, syncedAt: '2026-11-21T17:06:31.051Z' });
  return itemFromUpdate(ddbMock.commandCalls(UpdateCommand).at(-1)!.args[0].input);
}

describe('record item size', () => {
  const seeded = seedData(Date.UTC(2026, 10, 21)).patients.map((p) => mapPatient(serialize('patient', p, true), context()));

  it('keeps every seeded sandbox patient, every field mapped and verbose, within one write unit', async () => {
    const sizes = [];
    for (const record of seeded) sizes.push(itemSize(await storedItem(record)));

    expect(sizes).toHaveLength(12);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(ONE_WRITE_UNIT_BYTES);
  });

  it('stores no attribute for an empty field, so clearing a field makes the item smaller', async () => {
    const full = await storedItem(mapPatient(patient(), context()));
    const cleared = await storedItem(mapPatient(patient({ email: '' }), context()));

    expect(cleared).not.toHaveProperty('Email');
    expect(itemSize(full) - itemSize(cleared)).toBe(Buffer.byteLength('Email') + Buffer.byteLength(String(full.Email)));
  });

  it('carries no bookkeeping the key already holds', async () => {
    const item = await storedItem(seeded[0]!);

    expect(item).not.toHaveProperty('entity');
    expect(String(item.contentHash)).toHaveLength(22);
    expect(typeof item.syncedAt).toBe('number');
    // The team id in chartKey is the UUID's 16 bytes, not its 36-character text.
    expect(String(item.chartKey)).toBe(`bxwqTgAAQACAAAAAAAAAAQ#${String(item['Chart ID'])}`);
  });

  it('stores a live appointment without a deleted flag', async () => {
    const item = await storedItem(mapAppointment(appointment(), context()));

    expect(item).not.toHaveProperty('deleted');
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).not.toMatch(/#deleted =/);
  });
});
