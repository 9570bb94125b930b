import { randomUUID } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mapAppointment, mapEmployee, mapPatient, type MappedRecord } from '../../../shared/mapping';
import { APPOINTMENT_FIELDS, EMPLOYEE_FIELDS, ENTITIES, FIELDS_BY_ENTITY, PATIENT_FIELDS } from '../../../shared/mapping/field-names';
import { readIntegrationLog, writeIntegrationLog, type IntegrationLogEntry } from '../../../shared/store/integration-log';
import { appointment, context, doctor, patient } from '../mapping/fixtures';
import { itemSize } from './item-size';

/**
 * The stored shape of the integration log (version 2): compact on the way in, identical entries on the way out.
 * Every test writes through writeIntegrationLog, hands the stored items back to readIntegrationLog and compares.
 */
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = new Date('2026-11-21T10:00:05.000Z');
const ONE_WRITE_UNIT_BYTES = 1024;

beforeEach(() => {
  mock.reset();
  mock.on(PutCommand).resolves({});
});

function storedItems(): Record<string, unknown>[] {
  return mock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
}

async function roundTrip(entries: IntegrationLogEntry[]): Promise<{ read: IntegrationLogEntry[]; items: Record<string, unknown>[] }> {
  await writeIntegrationLog(ddb, 'log', TEAM, entries, { now: NOW, groupId: randomUUID() });
  const items = storedItems();
  mock.on(QueryCommand).resolves({ Items: items });
  return { read: await readIntegrationLog(ddb, 'log', TEAM, { limit: 1000 }), items };
}

/** Entries a millisecond apart (newest last), so the read order (newest first) is known. */
function at(i: number): string {
  return new Date(NOW.getTime() - 60_000 + i).toISOString();
}

function newestFirst(entries: IntegrationLogEntry[]): IntegrationLogEntry[] {
  return [...entries].sort((a, b) => b.at.localeCompare(a.at));
}

function synced(i: number, entity: IntegrationLogEntry['entity'], fieldsWritten: string[], fieldsSkipped: string[] = []): IntegrationLogEntry {
  return { at: at(i), event: 'PATIENT_MODIFY', deliveryId: `d-${i}`, entity, drchronoId: String(104857600 + i), outcome: 'updated', fieldsWritten, fieldsSkipped };
}

describe('integration log storage', () => {
  it.each(ENTITIES)('round-trips every single %s field, written and skipped, as a bitmask', async (entity) => {
    const fields = FIELDS_BY_ENTITY[entity];
    const entries = fields.map((f, i) => synced(i, entity, [f], [f]));
    const { read, items } = await roundTrip(entries);
    expect(read).toEqual(newestFirst(entries));
    expect(JSON.stringify(items)).not.toContain(fields[0]);
  });

  it.each(ENTITIES)('round-trips all %s fields and an every-other-field subset', async (entity) => {
    const fields = [...FIELDS_BY_ENTITY[entity]];
    const odd = fields.filter((_, i) => i % 2 === 1);
    const even = fields.filter((_, i) => i % 2 === 0);
    const entries = [synced(0, entity, fields, []), synced(1, entity, odd, even)];
    const { read, items } = await roundTrip(entries);
    expect(read).toEqual(newestFirst(entries));
    const stored = (items[0]!.e as { w: unknown; s: unknown }[])[0]!;
    expect(typeof stored.w).toBe('string');
    expect(stored.s).toBe('');
  });

  it('stores what the mappers produce (written and skipped, in call order) as bitmasks', async () => {
    const records: MappedRecord[] = [
      mapPatient(patient({ email: undefined, cell_phone: undefined }), context()),
      mapAppointment(appointment(), context()),
      mapEmployee(doctor({ npi_number: undefined }), context()),
    ];
    const entries = records.map((r, i) => ({ ...synced(i, r.entity, r.fieldsWritten, r.fieldsSkipped) }));
    expect(entries[0]!.fieldsSkipped).toContain('Email');
    const { read, items } = await roundTrip(entries);
    expect(read).toEqual(newestFirst(entries));
    for (const stored of items[0]!.e as { w: unknown; s: unknown }[]) {
      expect(typeof stored.w).toBe('string');
      expect(typeof stored.s).toBe('string');
    }
  });

  it('keeps unknown, repeated and out-of-order field names verbatim', async () => {
    const entries = [
      synced(0, 'patient', ['Chart ID', 'Favourite Colour']),
      synced(1, 'patient', ['Email', 'Email']),
      synced(2, 'appointment', ['Reason', 'Patient']),
      synced(3, 'team', ['Chart ID']),
      { ...synced(4, undefined, ['Chart ID']), entity: undefined },
    ].map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as IntegrationLogEntry);
    const { read, items } = await roundTrip(entries);
    expect(read).toEqual(newestFirst(entries));
    expect((items[0]!.e as { w: unknown }[]).every((s) => Array.isArray(s.w))).toBe(true);
  });

  it('round-trips failed, deferred and skipped-field entries with their error class, message and detail', async () => {
    const entries: IntegrationLogEntry[] = [
      { at: at(0), event: 'PATIENT_MODIFY', deliveryId: 'd-0', drchronoId: '7', outcome: 'failed', errorClass: 'DrChronoServerError', errorMessage: 'GET /api/patients/{id}: server error', detail: 'moving to the DLQ after 5 receives' },
      { at: at(1), event: 'APPOINTMENT_CREATE', deliveryId: 'd-1', entity: 'appointment', drchronoId: '8', outcome: 'deferred', errorClass: 'TeamNotConnected', errorMessage: 'team status is registered', detail: 'waiting for the team to connect' },
      { ...synced(2, 'patient', ['Chart ID', 'First Name'], [...PATIENT_FIELDS.slice(2)]), outcome: 'created' },
      { ...synced(3, 'patient', [], ['Insurance Company', 'Secondary Insurance']), outcome: 'unchanged' },
      { at: at(4), event: 'token_refresh', entity: 'team', outcome: 'info', detail: 'refreshed' },
    ];
    const { read } = await roundTrip(entries);
    expect(read).toEqual(newestFirst(entries));
  });

  it('stores each distinct event once per item and entries by index', async () => {
    const entries = [synced(0, 'patient', []), { ...synced(1, 'appointment', []), event: 'APPOINTMENT_MODIFY' }, synced(2, 'patient', [])];
    const { read, items } = await roundTrip(entries);
    expect(items[0]!.ev).toEqual(['PATIENT_MODIFY', 'APPOINTMENT_MODIFY']);
    expect(read.map((e) => e.event)).toEqual(['PATIENT_MODIFY', 'APPOINTMENT_MODIFY', 'PATIENT_MODIFY']);
  });

  it('stores ISO times as offsets from the sort key and keeps any other time text verbatim', async () => {
    const entries: IntegrationLogEntry[] = [
      { ...synced(0, 'patient', []), at: '2026-11-21T09:59:58.123Z' },
      { ...synced(1, 'patient', []), at: '2026-11-21T10:00:07Z' },
      { ...synced(2, 'patient', []), at: 'not a time' },
    ];
    const { read, items } = await roundTrip(entries);
    expect((items[0]!.e as { t: unknown }[]).map((s) => s.t)).toEqual([-6877, '2026-11-21T10:00:07Z', 'not a time']);
    expect(read).toEqual(newestFirst(entries));
  });

  it('fits a batch of 10 patient entries with every field written into one 1 KB write unit', async () => {
    const entries = Array.from({ length: 10 }, (_, i) => ({ ...synced(i * 317, 'patient', [...PATIENT_FIELDS]), deliveryId: randomUUID() }));
    const { read, items } = await roundTrip(entries);
    expect(items).toHaveLength(1);
    // sk carries the Lambda awsRequestId (a UUID), the delivery ids are UUIDs: longer than DrChrono's in practice.
    expect(itemSize(items[0]!)).toBeLessThanOrEqual(ONE_WRITE_UNIT_BYTES);
    expect(read).toEqual(newestFirst(entries));
  });

  it('shows a field position past the known list (written by newer code) instead of dropping the entry', async () => {
    const mask = Buffer.from([1, 0, 0, 0, 0, 1]).toString('base64url'); // positions 0 and 40
    mock.on(QueryCommand).resolves({ Items: [{ pk: TEAM, sk: `${NOW.toISOString()}#r`, v: 2, ev: ['DOCTOR_MODIFY'], e: [{ t: 0, e: 0, k: 2, o: 1, w: mask }] }] });
    const [entry] = await readIntegrationLog(ddb, 'log', TEAM);
    expect(entry!.fieldsWritten).toEqual([EMPLOYEE_FIELDS[0], '#40']);
  });

  it('skips a version 2 group whose indexes point outside the known lists, and reads the rest', async () => {
    mock.on(QueryCommand).resolves({
      Items: [
        { pk: TEAM, sk: '2026-11-21T10:00:09.000Z#a', v: 2, ev: ['PATIENT_MODIFY'], e: [{ t: 0, e: 0, o: 99 }] },
        { pk: TEAM, sk: '2026-11-21T10:00:08.000Z#b', v: 2, ev: ['PATIENT_MODIFY'], e: [{ t: 0, e: 3, o: 0 }] },
        { pk: TEAM, sk: '2026-11-21T10:00:07.000Z#c', v: 2, ev: ['PATIENT_MODIFY'], e: [{ t: 0, e: 0, o: 0, i: '5' }] },
      ],
    });
    const out = await readIntegrationLog(ddb, 'log', TEAM);
    expect(out).toEqual([{ at: '2026-11-21T10:00:07.000Z', event: 'PATIENT_MODIFY', drchronoId: '5', outcome: 'created' }]);
  });
});

describe('field order (append-only: stored masks are positions in it)', () => {
  // The orders masks were first written with. New fields may only be appended after these.
  const STORED_ORDER = {
    patient: [
      'Dr Chrono ID', 'Chart ID', 'First Name', 'Middle Name', 'Last Name', 'Date of Birth', 'Sex', 'Patient SSN', 'Language', 'Status',
      'Home Phone', 'Cell Phone', 'Email', 'Disable SMS/Txt', 'Address', 'Emergency Contact Name', 'Emergency Contact Phone',
      'Emergency Contact Relation', 'Primary Provider', 'Patient Flags', 'Patient Flags and Descriptions', 'Date of Last Appointment',
      'Insurance Company', 'Insurance ID Number', 'Insurance Group Number', 'Secondary Insurance', 'Secondary Insurance ID Number',
      'Secondary Insurance Group Number', 'Responsible Party Name', 'Responsible Party Relation', 'Responsible Party Email',
      'Responsible Party Phone',
    ],
    appointment: ['Patient', 'Provider', 'Appt Profile', 'Appt Status', 'Date of Service', 'Reason', 'Duration', 'Claim ID'],
    employee: ['First Name', 'Last Name', 'Work Phone', 'Personal Phone', 'Chrono Doctor ID', 'NPI', 'Work Email'],
  };

  it('keeps every field at the position stored masks use', () => {
    expect(PATIENT_FIELDS.slice(0, STORED_ORDER.patient.length)).toEqual(STORED_ORDER.patient);
    expect(APPOINTMENT_FIELDS.slice(0, STORED_ORDER.appointment.length)).toEqual(STORED_ORDER.appointment);
    expect(EMPLOYEE_FIELDS.slice(0, STORED_ORDER.employee.length)).toEqual(STORED_ORDER.employee);
  });
});
