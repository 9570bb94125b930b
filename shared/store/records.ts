import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RECORDS_CHART_ID_INDEX } from '../config/resource-names';
import type { Entity } from '../mapping/field-names';
import type { FieldValue, MappedRecord } from '../mapping/mapped-record';
import { contentHash, decideWrite, supersededKeys, versionKey, type StoredVersionState, type WriteOutcome } from './record-version';

/**
 * The records table: one item per DrChrono object, pk `<teamId>#<entity>`, sk the DrChrono id. Attributes are
 * the user-facing field names plus the bookkeeping below. Every event costs exactly one conditional write on
 * the record itself; the condition is record-version.ts's decideWrite, and the old item returned by the write
 * (ALL_OLD, also on a failed condition) classifies the outcome without a read.
 */
export const BOOKKEEPING_ATTRIBUTES = [
  'pk',
  'sk',
  'entity',
  'version',
  'deleted',
  'contentHash',
  'lastDeliveryId',
  'syncedAt',
  'chartKey',
  'patientDrchronoId',
] as const;
const BOOKKEEPING = new Set<string>(BOOKKEEPING_ATTRIBUTES);

export interface StoredRecord {
  entity: Entity;
  drchronoId: string;
  /** User-facing fields as stored. */
  fields: Record<string, FieldValue>;
  /** versionKey() of the stored state. */
  version: string;
  deleted: boolean;
  lastDeliveryId?: string;
  syncedAt?: string;
  /** Patients: the current Chart ID (from chartKey), even when the team does not map "Chart ID". */
  chartId?: string;
  /** Appointments: the patient's DrChrono id. */
  patientDrchronoId?: string | null;
}

export interface WriteRecordInput {
  teamId: string;
  record: MappedRecord;
  deliveryId: string;
  /** ISO time of this write (bookkeeping only; never part of the order guard). */
  syncedAt: string;
}

export function recordPk(teamId: string, entity: Entity): string {
  return `${teamId}#${entity}`;
}

export function chartKey(teamId: string, chartId: string): string {
  return `${teamId}#${chartId}`;
}

function incomingState(record: MappedRecord) {
  return { version: record.version, deleted: record.deleted === true, contentHash: contentHash(record.fields) };
}

/** The order-guard attributes of an old item as a document (ReturnValues) or raw AttributeValues (failed condition). */
function storedState(item: Record<string, unknown> | undefined): StoredVersionState | undefined {
  return item ? { version: String(item.version ?? ''), deleted: item.deleted === true, contentHash: item.contentHash as string | undefined } : undefined;
}

function storedStateFromAttributeValues(item: Record<string, AttributeValue> | undefined): StoredVersionState | undefined {
  if (!item) return undefined;
  return {
    version: item.version?.S ?? '',
    deleted: item.deleted?.BOOL === true,
    ...(item.contentHash?.S !== undefined ? { contentHash: item.contentHash.S } : {}),
  };
}

/**
 * Write one mapped record under the order guard. Returns what happened:
 * created / updated / unchanged (duplicate, or newer state with the same content) / stale-skipped (older or
 * after deletion) / deleted / tie (incomparable with the stored state and different: nothing written; the
 * caller resolves it by fetching the object, see record-version.ts). Fields not in record.fieldsWritten keep
 * their stored values.
 */
export async function writeRecord(ddb: DynamoDBDocumentClient, table: string, input: WriteRecordInput): Promise<WriteOutcome> {
  const { teamId, record, deliveryId, syncedAt } = input;
  if (record.skipReason) throw new Error(`a ${record.skipReason} is not stored (${record.entity} ${record.drchronoId})`);
  const incoming = incomingState(record);
  const key = { pk: recordPk(teamId, record.entity), sk: record.drchronoId };
  try {
    if (incoming.deleted) {
      // A tombstone: the key field and bookkeeping only, so the final state does not depend on delivery order.
      await ddb.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...record.fields,
            ...key,
            entity: record.entity,
            version: versionKey(record.version),
            deleted: true,
            contentHash: incoming.contentHash,
            lastDeliveryId: deliveryId,
            syncedAt,
          },
          ConditionExpression: 'NOT (#deleted = :true)',
          ExpressionAttributeNames: { '#deleted': 'deleted' },
          ExpressionAttributeValues: { ':true': true },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'deleted';
    }
    const out = await ddb.send(new UpdateCommand({ TableName: table, Key: key, ...upsertExpression(teamId, record, incoming.contentHash, deliveryId, syncedAt) }));
    // The condition held, so this is a write whatever the old version was.
    if (!out.Attributes) return 'created';
    return storedState(out.Attributes)?.contentHash === incoming.contentHash ? 'unchanged' : 'updated';
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    return decideWrite(storedStateFromAttributeValues(err.Item), incoming).outcome;
  }
}

function upsertExpression(teamId: string, record: MappedRecord, hash: string, deliveryId: string, syncedAt: string) {
  const names: Record<string, string> = { '#version': 'version', '#deleted': 'deleted', '#contentHash': 'contentHash' };
  const superseded = supersededKeys(record.version);
  const values: Record<string, unknown> = {
    ':v': versionKey(record.version),
    ':below': superseded.below,
    ':true': true,
    ':h': hash,
    ':entity': record.entity,
    ':delivery': deliveryId,
    ':syncedAt': syncedAt,
  };
  const sets = ['#version = :v', '#contentHash = :h', 'entity = :entity', 'lastDeliveryId = :delivery', 'syncedAt = :syncedAt'];
  const removes: string[] = [];
  record.fieldsWritten.forEach((field, i) => {
    // Field names carry spaces and slashes ("Disable SMS/Txt"), so every one goes through a placeholder.
    names[`#f${i}`] = field;
    values[`:f${i}`] = record.fields[field] ?? null;
    sets.push(`#f${i} = :f${i}`);
  });
  if (record.entity === 'appointment') {
    sets.push('#deleted = :false', 'patientDrchronoId = :patient');
    values[':false'] = false;
    values[':patient'] = record.patientDrchronoId ?? null;
  }
  if (record.entity === 'patient') {
    // An empty string cannot be an index key; a patient without a Chart ID simply leaves the index.
    if (record.key) {
      sets.push('chartKey = :chartKey');
      values[':chartKey'] = chartKey(teamId, record.key);
    } else {
      removes.push('chartKey');
    }
  }
  // Mirrors decideWrite: a new record, or a live one whose version this one supersedes (record-version.ts).
  let supersedes = '#version < :below';
  if (superseded.fetchedAfter !== undefined && superseded.fetchedBefore !== undefined) {
    supersedes = '(#version < :below OR (#version > :fetchedAfter AND #version < :fetchedBefore))';
    values[':fetchedAfter'] = superseded.fetchedAfter;
    values[':fetchedBefore'] = superseded.fetchedBefore;
  }
  return {
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: `attribute_not_exists(pk) OR (NOT (#deleted = :true) AND ${supersedes})`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_OLD' as const,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

function toStoredRecord(item: Record<string, unknown>): StoredRecord {
  const fields: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(item)) if (!BOOKKEEPING.has(name)) fields[name] = value as FieldValue;
  const pk = String(item.pk);
  const teamPrefix = pk.slice(0, pk.lastIndexOf('#') + 1);
  const chart = typeof item.chartKey === 'string' ? item.chartKey.slice(teamPrefix.length) : undefined;
  return {
    entity: item.entity as Entity,
    drchronoId: String(item.sk),
    fields,
    version: String(item.version ?? ''),
    deleted: item.deleted === true,
    ...(typeof item.lastDeliveryId === 'string' ? { lastDeliveryId: item.lastDeliveryId } : {}),
    ...(typeof item.syncedAt === 'string' ? { syncedAt: item.syncedAt } : {}),
    ...(chart !== undefined ? { chartId: chart } : {}),
    ...(item.patientDrchronoId !== undefined ? { patientDrchronoId: item.patientDrchronoId as string | null } : {}),
  };
}

export async function getRecord(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entity: Entity,
  drchronoId: string,
  options: { consistent?: boolean } = {},
): Promise<StoredRecord | undefined> {
  const out = await ddb.send(
    new GetCommand({ TableName: table, Key: { pk: recordPk(teamId, entity), sk: drchronoId }, ConsistentRead: options.consistent ?? false }),
  );
  return out.Item ? toStoredRecord(out.Item) : undefined;
}

/**
 * The patient record whose current Chart ID is chartId. The index is keys-only and eventually consistent, so
 * each hit is re-read and checked (a Chart ID that just moved to another patient must not match).
 */
export async function findPatientByChartId(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  chartId: string,
): Promise<StoredRecord | undefined> {
  if (!chartId) return undefined;
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      IndexName: RECORDS_CHART_ID_INDEX,
      KeyConditionExpression: 'chartKey = :ck',
      ExpressionAttributeValues: { ':ck': chartKey(teamId, chartId) },
    }),
  );
  for (const hit of out.Items ?? []) {
    const record = await getRecord(ddb, table, teamId, 'patient', String(hit.sk), { consistent: true });
    if (record?.chartId === chartId) return record;
  }
  return undefined;
}

export interface ListRecordsOptions {
  /** Maximum records returned (default 50). */
  limit?: number;
  /** nextKey of a previous page. */
  startKey?: Record<string, unknown>;
}

/** One page of a team's records of one entity, in DrChrono id order (as strings). */
export async function listRecords(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entity: Entity,
  options: ListRecordsOptions = {},
): Promise<{ records: StoredRecord[]; nextKey?: Record<string, unknown> }> {
  const limit = options.limit ?? 50;
  const records: StoredRecord[] = [];
  let start = options.startKey;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': recordPk(teamId, entity) },
        Limit: limit - records.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) records.push(toStoredRecord(item));
    start = out.LastEvaluatedKey;
  } while (start && records.length < limit);
  return start ? { records, nextKey: start } : { records };
}
