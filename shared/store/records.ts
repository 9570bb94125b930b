import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RECORDS_CHART_ID_INDEX } from '../config/resource-names';
import { ENTITIES, FIELDS_BY_ENTITY, type Entity } from '../mapping/field-names';
import type { FieldValue, MappedRecord } from '../mapping/mapped-record';
import { contentHash, decideWrite, recordVersion, supersededKeys, versionKey, type StoredVersionState, type WriteOutcome } from './record-version';

/**
 * The records table: one item per DrChrono object, pk `<teamId>#<entity>`, sk the DrChrono id. Attributes are
 * the user-facing field names plus the bookkeeping below. Every event costs exactly one conditional write on
 * the record itself; the condition is record-version.ts's decideWrite, and the old item returned by the write
 * (ALL_OLD, also on a failed condition) classifies the outcome without a read.
 *
 * Items are billed per started KB of names and values, so nothing is stored twice or empty: an empty field is
 * absent (REMOVEd, not SET to null; readers report it as null), the entity is read from pk, `deleted` exists
 * only on tombstones, `syncedAt` is epoch milliseconds. This keeps a typical patient at one write unit.
 */
export const BOOKKEEPING_ATTRIBUTES = [
  'pk',
  'sk',
  'version',
  'deleted',
  'contentHash',
  'lastDeliveryId',
  'syncedAt',
  'chartKey',
  'patientDrchronoId',
  'patientVersion',
  'profileId',
  'chartFanOut',
  'chartFanOutFrom',
  'chartFanOutVersion',
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The team part of chartKey: the team UUID's 16 bytes as base64url, 22 characters instead of 36. */
function chartKeyTeam(teamId: string): string {
  return UUID.test(teamId) ? Buffer.from(teamId.replace(/-/g, ''), 'hex').toString('base64url') : teamId;
}

/** The byChartId index key, `<team>#<Chart ID>`, team-scoped because the index spans all teams. */
export function chartKey(teamId: string, chartId: string): string {
  return `${chartKeyTeam(teamId)}#${chartId}`;
}

/** The Chart ID in a stored chartKey of this team; undefined when there is none. */
export function chartIdOf(stored: unknown, teamId: string): string | undefined {
  if (typeof stored !== 'string') return undefined;
  const prefix = `${chartKeyTeam(teamId)}#`;
  return stored.startsWith(prefix) ? stored.slice(prefix.length) : undefined;
}

function incomingState(record: MappedRecord) {
  return { version: record.version, deleted: record.deleted === true, contentHash: contentHash(hashedContent(record)) };
}

type HashedRecord = Pick<MappedRecord, 'entity' | 'fields' | 'key' | 'deleted'>;

/**
 * The content hash writeRecord stores for a record with these fields (shared/sync/fetched-state-covers.ts
 * recomputes it from a stored item to prove the item holds exactly one mapped state).
 */
export function storedContentHash(record: HashedRecord): string {
  return contentHash(hashedContent(record));
}

/**
 * What a record's content hash covers: the written fields, and for a live patient its Chart ID (chartKey is
 * written whether or not the team maps "Chart ID"), so two states differing only in Chart ID are never
 * 'unchanged' (a same-second pair is a tie, settled by a fetch). Added only when the mapped fields do not
 * already carry it, so a team that maps "Chart ID" keeps the hashes it has.
 */
function hashedContent(record: HashedRecord): Readonly<Record<string, unknown>> {
  if (record.entity !== 'patient' || record.deleted) return record.fields;
  if ('Chart ID' in record.fields && record.fields['Chart ID'] === (record.key || null)) return record.fields;
  return { ...record.fields, chartKey: record.key };
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
 * What a write found on the record before it (from ALL_OLD, no extra read): enough for the patient Chart ID
 * fan-out (patient-references.ts) to tell whether the appointments still carry an older Chart ID.
 */
export interface PreviousRecordState {
  /** The write replaced this state (its condition held); false when it was refused (stale, tie, after deletion). */
  replaced: boolean;
  /** The stored Chart ID (from chartKey); '' when the record had none. */
  chartId: string;
  /** Patients: a Chart ID fan-out to the appointments was started and not finished (`chartFanOut`). */
  chartFanOutPending: boolean;
  /**
   * Appointments: the patient the record named and the patient version its "Patient" came from (absent when
   * none): tells the writer whether its write changed "Patient" at all (patient-references.ts).
   */
  patientDrchronoId?: string;
  patientVersion?: string;
  /** Appointments: the "Patient" it held ('' when empty). */
  patientChartId?: string;
}

/** writeRecord, plus what the record held before (undefined when there was no record). */
export async function writeRecordReportingPrevious(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: WriteRecordInput,
): Promise<{ outcome: WriteOutcome; previous?: PreviousRecordState }> {
  let previous: PreviousRecordState | undefined;
  const outcome = await writeRecordInternal(ddb, table, input, (p) => (previous = p));
  return previous ? { outcome, previous } : { outcome };
}

/**
 * Write one mapped record under the order guard. Returns what happened:
 * created / updated / unchanged (duplicate, or newer state with the same content) / stale-skipped (older or
 * after deletion) / deleted / tie (incomparable with the stored state and different: nothing written; the
 * caller resolves it by fetching the object, see record-version.ts). Fields not in record.fieldsWritten keep
 * their stored values.
 */
export async function writeRecord(ddb: DynamoDBDocumentClient, table: string, input: WriteRecordInput): Promise<WriteOutcome> {
  return writeRecordInternal(ddb, table, input);
}

async function writeRecordInternal(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: WriteRecordInput,
  onPrevious?: (previous: PreviousRecordState) => void,
): Promise<WriteOutcome> {
  const { teamId, record, deliveryId, syncedAt } = input;
  if (record.skipReason) throw new Error(`a ${record.skipReason} is not stored (${record.entity} ${record.drchronoId})`);
  const incoming = incomingState(record);
  const key = { pk: recordPk(teamId, record.entity), sk: record.drchronoId };
  try {
    if (incoming.deleted && record.entity === 'patient') {
      const out = await ddb.send(new UpdateCommand({ TableName: table, Key: key, ...patientTombstoneExpression(incoming.contentHash, record, deliveryId, syncedAt) }));
      if (out.Attributes) onPrevious?.(previousState(true, out.Attributes, teamId));
      return 'deleted';
    }
    if (incoming.deleted) {
      // A tombstone: the key field and bookkeeping only, so the final state does not depend on delivery order.
      await ddb.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...presentFields(record.fields),
            ...key,
            version: versionKey(record.version),
            deleted: true,
            contentHash: incoming.contentHash,
            lastDeliveryId: deliveryId,
            syncedAt: syncedAtMs(syncedAt),
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
    onPrevious?.(previousState(true, out.Attributes, teamId));
    return storedState(out.Attributes)?.contentHash === incoming.contentHash ? 'unchanged' : 'updated';
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    if (err.Item) {
      const { chartKey: ck, chartFanOut, patientDrchronoId, patientVersion, Patient } = err.Item;
      const unwrapped = { chartKey: ck?.S, chartFanOut: chartFanOut?.BOOL, patientDrchronoId: patientDrchronoId?.S, patientVersion: patientVersion?.S, Patient: Patient?.S };
      onPrevious?.(previousState(false, unwrapped, teamId));
    }
    return decideWrite(storedStateFromAttributeValues(err.Item), incoming).outcome;
  }
}

/**
 * A deleted patient (DrChrono sends no webhook: found by a 404 or the deletion check) keeps its Chart ID, so
 * `records <team> patient <Chart ID>` still finds it and shows it deleted, and drops every other field. Its
 * version is the observation of the deletion (no updated_at exists for a deleted patient); it plays no part in
 * ordering, because deletion is terminal: DrChrono never undeletes a patient, so nothing applies after it,
 * whatever its updated_at. An Update rather than a Put, so the Chart ID we hold survives a 404 that carries none.
 */
function patientTombstoneExpression(hash: string, record: MappedRecord, deliveryId: string, syncedAt: string) {
  const names: Record<string, string> = { '#version': 'version', '#deleted': 'deleted', '#contentHash': 'contentHash' };
  const removes: string[] = [];
  (FIELDS_BY_ENTITY.patient ?? []).forEach((field, i) => {
    if (field === 'Chart ID') return;
    names[`#f${i}`] = field;
    removes.push(`#f${i}`);
  });
  return {
    UpdateExpression: `SET #version = :v, #deleted = :true, #contentHash = :h, lastDeliveryId = :delivery, syncedAt = :syncedAt REMOVE ${removes.join(', ')}`,
    ConditionExpression: 'attribute_not_exists(pk) OR NOT (#deleted = :true)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':v': versionKey(record.version), ':true': true, ':h': hash, ':delivery': deliveryId, ':syncedAt': syncedAtMs(syncedAt) },
    // The old item: whether its appointments must be cleared (patient-references.ts tombstonePatient).
    ReturnValues: 'ALL_OLD' as const,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** The tombstone of a patient DrChrono no longer has (404 on GET, or missing from a complete listing and then 404). */
export function patientTombstone(drchronoId: string, observedAt: string): MappedRecord {
  // A deletion version (`z#`): above every live version, so appointments' `patientVersion < :pv` carries it.
  return { entity: 'patient', drchronoId, key: '', fields: {}, fieldsWritten: [], fieldsSkipped: [], version: { ...recordVersion(null, observedAt, 'fetched'), deletion: true }, deleted: true };
}

/** One page of a team's record ids of one entity, with what the deletion check needs (no field values). */
export async function listRecordStates(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entity: Entity,
  startKey?: Record<string, unknown>,
): Promise<{ records: { drchronoId: string; deleted: boolean; syncedAtMs?: number }[]; nextKey?: Record<string, unknown> }> {
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': recordPk(teamId, entity) },
      ProjectionExpression: 'sk, #deleted, syncedAt',
      ExpressionAttributeNames: { '#deleted': 'deleted' },
      ExclusiveStartKey: startKey,
    }),
  );
  const records = (out.Items ?? []).map((i) => ({ drchronoId: String(i.sk), deleted: i.deleted === true, ...(typeof i.syncedAt === 'number' ? { syncedAtMs: i.syncedAt } : {}) }));
  return out.LastEvaluatedKey ? { records, nextKey: out.LastEvaluatedKey } : { records };
}

/** From the old item as a document (ReturnValues) or with its AttributeValues unwrapped (failed condition). */
function previousState(replaced: boolean, item: Record<string, unknown>, teamId: string): PreviousRecordState {
  const { patientDrchronoId, patientVersion } = item;
  return {
    replaced,
    chartId: chartIdOf(item.chartKey, teamId) ?? '',
    chartFanOutPending: item.chartFanOut === true,
    ...(typeof patientDrchronoId === 'string' ? { patientDrchronoId, patientChartId: typeof item.Patient === 'string' ? item.Patient : '' } : {}),
    ...(typeof patientVersion === 'string' ? { patientVersion } : {}),
  };
}

/** Empty fields are not stored: absent reads as empty (toStoredRecord). */
function presentFields(fields: Record<string, FieldValue>): Record<string, FieldValue> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
}

function syncedAtMs(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError('syncedAt is not an ISO time');
  return ms;
}

function upsertExpression(teamId: string, record: MappedRecord, hash: string, deliveryId: string, syncedAt: string) {
  const names: Record<string, string> = { '#version': 'version', '#deleted': 'deleted', '#contentHash': 'contentHash' };
  const superseded = supersededKeys(record.version);
  const values: Record<string, unknown> = {
    ':v': versionKey(record.version),
    ':below': superseded.below,
    ':true': true,
    ':h': hash,
    ':delivery': deliveryId,
    ':syncedAt': syncedAtMs(syncedAt),
  };
  const sets = ['#version = :v', '#contentHash = :h', 'lastDeliveryId = :delivery', 'syncedAt = :syncedAt'];
  const removes: string[] = [];
  record.fieldsWritten.forEach((field, i) => {
    // Field names carry spaces and slashes ("Disable SMS/Txt"), so every one goes through a placeholder.
    names[`#f${i}`] = field;
    const value = record.fields[field] ?? null;
    // Empty clears: the attribute goes, which readers report as null (absent sources are not in fieldsWritten).
    if (value === null) {
      removes.push(`#f${i}`);
    } else {
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    }
  });
  if (record.entity === 'appointment') {
    // A live appointment carries no `deleted` (absent = false; tombstones are terminal, so none is ever cleared).
    if (record.patientDrchronoId) {
      sets.push('patientDrchronoId = :patient');
      values[':patient'] = record.patientDrchronoId;
    } else {
      removes.push('patientDrchronoId');
    }
    // Which patient state "Patient" came from: a Chart ID fan-out only applies over an older one.
    if (record.patientVersion) {
      sets.push('patientVersion = :patientVersion');
      values[':patientVersion'] = record.patientVersion;
    } else {
      removes.push('patientVersion');
    }
    // The profile "Appt Profile" was labelled from: reconcile relabels by id after a rename (renamed-names.ts).
    if (typeof record.profileId === 'number') {
      sets.push('profileId = :profileId');
      values[':profileId'] = record.profileId;
    } else if (record.profileId === null) {
      removes.push('profileId');
    }
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

function entityOf(pk: string): Entity {
  const suffix = pk.slice(pk.lastIndexOf('#') + 1);
  if ((ENTITIES as readonly string[]).includes(suffix)) return suffix as Entity;
  throw new RangeError('record key names no known entity');
}

function toStoredRecord(item: Record<string, unknown>): StoredRecord {
  const pk = String(item.pk);
  const entity = entityOf(pk);
  const deleted = item.deleted === true;
  const fields: Record<string, FieldValue> = {};
  // Absent = empty: a live record reports every field of its entity, null where nothing is stored. A
  // tombstone reports only what it keeps (its key field).
  if (!deleted) for (const name of FIELDS_BY_ENTITY[entity] ?? []) fields[name] = null;
  for (const [name, value] of Object.entries(item)) if (!BOOKKEEPING.has(name)) fields[name] = value as FieldValue;
  const chart = chartIdOf(item.chartKey, pk.slice(0, pk.lastIndexOf('#')));
  const syncedAt = typeof item.syncedAt === 'number' ? new Date(item.syncedAt).toISOString() : undefined;
  return {
    entity,
    drchronoId: String(item.sk),
    fields,
    version: String(item.version ?? ''),
    deleted,
    ...(typeof item.lastDeliveryId === 'string' ? { lastDeliveryId: item.lastDeliveryId } : {}),
    ...(typeof syncedAt === 'string' ? { syncedAt } : {}),
    ...(chart !== undefined ? { chartId: chart } : {}),
    ...(entity === 'appointment' && !deleted ? { patientDrchronoId: (item.patientDrchronoId as string | undefined) ?? null } : {}),
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

/** A stored record with the bookkeeping the sync worker's decisions need (never shown to users). */
export interface StoredRecordState {
  record: StoredRecord;
  /** The content hash its write stored (storedContentHash of the state it holds). */
  contentHash?: string;
  /** Patients: a Chart ID fan-out to the appointments was started and not finished. */
  chartFanOutPending: boolean;
}

/** One record, strongly consistent, with its bookkeeping (StoredRecordState); undefined when there is none. */
export async function getRecordState(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entity: Entity,
  drchronoId: string,
): Promise<StoredRecordState | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: recordPk(teamId, entity), sk: drchronoId }, ConsistentRead: true }));
  if (!out.Item) return undefined;
  const hash = out.Item.contentHash;
  return { record: toStoredRecord(out.Item), ...(typeof hash === 'string' ? { contentHash: hash } : {}), chartFanOutPending: out.Item.chartFanOut === true };
}

/**
 * Every patient record whose current Chart ID is chartId: the live ones, and one deleted one if any. The index is
 * keys-only and eventually consistent, so each hit is re-read and checked (a Chart ID that just moved to another
 * patient must not match). DrChrono does not enforce unique Chart IDs: a clinic can hold two live patients with one.
 */
export async function findPatientsByChartId(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  chartId: string,
): Promise<{ live: StoredRecord[]; deleted: StoredRecord | undefined }> {
  const live: StoredRecord[] = [];
  let deleted: StoredRecord | undefined;
  if (!chartId) return { live, deleted };
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        IndexName: RECORDS_CHART_ID_INDEX,
        KeyConditionExpression: 'chartKey = :ck',
        ExpressionAttributeValues: { ':ck': chartKey(teamId, chartId) },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const hit of out.Items ?? []) {
      const record = await getRecord(ddb, table, teamId, 'patient', String(hit.sk), { consistent: true });
      if (record?.chartId !== chartId) continue;
      if (!record.deleted) live.push(record);
      else deleted ??= record;
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return { live, deleted };
}

/** The patient record whose current Chart ID is chartId, for reads: a live patient wins over a deleted one. */
export async function findPatientByChartId(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  chartId: string,
): Promise<StoredRecord | undefined> {
  const { live, deleted } = await findPatientsByChartId(ddb, table, teamId, chartId);
  return live[0] ?? deleted;
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
