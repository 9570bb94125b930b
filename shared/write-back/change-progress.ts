import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeIfCondition } from '../aws/conditional-write';
import { CHANGE_SK_PREFIX, type ChangeItem } from './change-store';

/**
 * The write-back worker's own bookkeeping on a change item (beside change-store.ts, which the write API shares):
 * what it needs to never apply a change twice across redeliveries.
 *
 *  - `createAttemptedAt`: set BEFORE an appointment POST. A redelivery that finds it set but no `createdId` may be
 *    one whose POST reached DrChrono (a crash, a timeout after DrChrono created it): it looks for the appointment
 *    before POSTing again.
 *  - `createdId`: set right after the POST answered 201, before anything else can fail.
 *  - `writeAttemptedAt`: set BEFORE a PATCH / DELETE (and a patient POST). A redelivery that finds it without
 *    `writtenAt` may follow a write DrChrono applied (a crash, a timeout): it compares DrChrono's copy with the
 *    payload before its conflict check, which would otherwise see our own write as someone else's.
 *  - `writtenAt`: set right after DrChrono answered 2xx to that write. A redelivery that finds it never checks for a
 *    conflict nor writes again: it only reads DrChrono's state back, stores it and ends the change `applied`.
 *  - `loggedAt`: set after the change's final integration-log entry was written; a redelivered final change
 *    without it writes its entry then (the log write of the first delivery failed).
 */
function key(teamId: string, changeId: string): { pk: string; sk: string } {
  return { pk: teamId, sk: `${CHANGE_SK_PREFIX}${changeId}` };
}

async function setIf(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, attr: string, value: string, condition: string): Promise<boolean> {
  return writeIfCondition(
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key(teamId, changeId),
        UpdateExpression: `SET #a = :v`,
        ConditionExpression: `attribute_exists(pk) AND ${condition}`,
        ExpressionAttributeNames: { '#a': attr, '#status': 'status' },
        ExpressionAttributeValues: { ':v': value, ':pending': 'pending' },
      }),
    ),
  );
}

/** Before an appointment POST. false: the change is not pending any more (or gone). */
export function markCreateAttempted(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, at: Date): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'createAttemptedAt', at.toISOString(), '#status = :pending');
}

/** After an appointment POST answered 201: the created appointment's id, at once. */
export function recordCreatedId(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, drchronoId: string): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'createdId', drchronoId, '#status = :pending');
}

/** Before a PATCH / DELETE / patient POST. false: the change is not pending any more (or gone). */
export function markWriteAttempted(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, at: Date): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'writeAttemptedAt', at.toISOString(), '#status = :pending');
}

/** After DrChrono answered 2xx to the write: from now on the change is only read back and ended `applied`. */
export function markWritten(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, at: Date): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'writtenAt', at.toISOString(), '#status = :pending');
}

/** After the final outcome's log entry was written. */
export function markChangeLogged(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, at: Date): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'loggedAt', at.toISOString(), '#status <> :pending');
}

/** Any mark meaning DrChrono may hold this change already (a create or a write was sent). */
export function mayHaveBeenWritten(p: ChangeProgress): boolean {
  return Boolean(p.createAttemptedAt || p.createdId || p.writeAttemptedAt || p.writtenAt);
}

export interface ChangeProgress {
  createAttemptedAt?: string;
  createdId?: string;
  writeAttemptedAt?: string;
  writtenAt?: string;
  loggedAt?: string;
}

/** The worker's bookkeeping attributes of a change item (ChangeItemSchema passes unknown attributes through). */
export function changeProgress(item: ChangeItem): ChangeProgress {
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const out: ChangeProgress = {};
  const a = s(item.createAttemptedAt);
  const c = s(item.createdId);
  const l = s(item.loggedAt);
  const wa = s(item.writeAttemptedAt);
  const w = s(item.writtenAt);
  if (a) out.createAttemptedAt = a;
  if (c) out.createdId = c;
  if (wa) out.writeAttemptedAt = wa;
  if (w) out.writtenAt = w;
  if (l) out.loggedAt = l;
  return out;
}
