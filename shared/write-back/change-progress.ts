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

/** After the final outcome's log entry was written. */
export function markChangeLogged(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, at: Date): Promise<boolean> {
  return setIf(ddb, table, teamId, changeId, 'loggedAt', at.toISOString(), '#status <> :pending');
}

export interface ChangeProgress {
  createAttemptedAt?: string;
  createdId?: string;
  loggedAt?: string;
}

/** The worker's bookkeeping attributes of a change item (ChangeItemSchema passes unknown attributes through). */
export function changeProgress(item: ChangeItem): ChangeProgress {
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const out: ChangeProgress = {};
  const a = s(item.createAttemptedAt);
  const c = s(item.createdId);
  const l = s(item.loggedAt);
  if (a) out.createAttemptedAt = a;
  if (c) out.createdId = c;
  if (l) out.loggedAt = l;
  return out;
}
