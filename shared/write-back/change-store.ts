import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { writeIfCondition } from '../aws/conditional-write';
import { CHANGE_OPS, CHANGE_STATUSES, WRITE_ENTITIES, type ChangeMessage, type FinalChangeStatus } from './change';

/**
 * The change item: one per accepted change, in the teams table (pk teamId, sk `CHANGE#<changeId>`), so team
 * removal erases it with the rest of the team. It holds ids, field names and the outcome, never values; the
 * app reads it through `GET /teams/{teamId}/changes/{changeId}` and the CLI waits on it.
 *
 * Written by the write API (pending) and ended once by the write-back worker: the first final outcome wins, so a
 * redelivered message that is processed again cannot change an outcome the app may already have read.
 */
export const CHANGE_SK_PREFIX = 'CHANGE#';
/** Outcomes are kept for 30 days; the integration log keeps its own entries for its own TTL. */
export const CHANGE_TTL_DAYS = 30;

export const ChangeItemSchema = z.looseObject({
  changeId: z.string(),
  teamId: z.string(),
  entity: z.enum(WRITE_ENTITIES),
  op: z.enum(CHANGE_OPS),
  key: z.nullable(z.string()),
  drchronoId: z.optional(z.nullable(z.string())),
  fieldsWritten: z.array(z.string()),
  baseVersion: z.nullable(z.string()),
  requestedAt: z.string(),
  status: z.enum(CHANGE_STATUSES),
  completedAt: z.optional(z.string()),
  /** rejected / conflict / failed: why, as DrChrono or the worker said it (field names, never values). */
  reason: z.optional(z.string()),
  /** DrChrono's field messages of a 400, by DrChrono field name. */
  fieldErrors: z.optional(z.record(z.string(), z.array(z.string()))),
  /** conflict: the version DrChrono's copy has now; applied: the version the record holds after the write. */
  currentVersion: z.optional(z.string()),
  /** Retryable failures so far (5xx, network); the worker ends the change as failed past its bound. */
  attempts: z.optional(z.number().check(z.int(), z.nonnegative())),
});
export type ChangeItem = z.infer<typeof ChangeItemSchema>;

export interface ChangeOutcome {
  status: FinalChangeStatus;
  /** The record's key once known (an appointment create learns its Claim ID from DrChrono). */
  key?: string;
  drchronoId?: string;
  reason?: string;
  fieldErrors?: Record<string, string[]>;
  currentVersion?: string;
}

function changeKey(teamId: string, changeId: string): { pk: string; sk: string } {
  return { pk: teamId, sk: `${CHANGE_SK_PREFIX}${changeId}` };
}

/** Stores the pending change; false when a change with this id exists already (the caller's id collided). */
export async function createChange(ddb: DynamoDBDocumentClient, table: string, m: ChangeMessage, now = new Date()): Promise<boolean> {
  const item = {
    ...changeKey(m.teamId, m.changeId),
    changeId: m.changeId,
    teamId: m.teamId,
    entity: m.entity,
    op: m.op,
    key: m.key,
    drchronoId: m.drchronoId,
    fieldsWritten: m.fieldsWritten,
    baseVersion: m.baseVersion,
    requestedAt: m.requestedAt,
    status: 'pending',
    attempts: 0,
    expiresAt: Math.floor(now.getTime() / 1000) + CHANGE_TTL_DAYS * 86_400,
  };
  return writeIfCondition(ddb.send(new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
}

export async function getChange(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string, consistent = true): Promise<ChangeItem | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: changeKey(teamId, changeId), ConsistentRead: consistent }));
  if (!out.Item) return undefined;
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = out.Item;
  return ChangeItemSchema.parse(rest);
}

/**
 * Ends a pending change. true: this call set the outcome; false: the change was already final (or is gone:
 * removed team, expired), and the stored outcome stands.
 */
export async function completeChange(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  changeId: string,
  outcome: ChangeOutcome,
  now = new Date(),
): Promise<boolean> {
  const sets: string[] = ['#status = :status', 'completedAt = :completedAt'];
  const values: Record<string, unknown> = { ':status': outcome.status, ':completedAt': now.toISOString(), ':pending': 'pending' };
  const optional: [keyof ChangeOutcome, string][] = [
    ['key', 'key'],
    ['drchronoId', 'drchronoId'],
    ['reason', 'reason'],
    ['fieldErrors', 'fieldErrors'],
    ['currentVersion', 'currentVersion'],
  ];
  const names: Record<string, string> = { '#status': 'status' };
  for (const [field, attr] of optional) {
    if (outcome[field] === undefined) continue;
    names[`#${attr}`] = attr;
    sets.push(`#${attr} = :${attr}`);
    values[`:${attr}`] = outcome[field];
  }
  return writeIfCondition(
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: changeKey(teamId, changeId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND #status = :pending',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    ),
  );
}

/** Counts one retryable failure of a pending change; returns the new count (undefined: not pending any more). */
export async function countChangeAttempt(ddb: DynamoDBDocumentClient, table: string, teamId: string, changeId: string): Promise<number | undefined> {
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: changeKey(teamId, changeId),
        UpdateExpression: 'ADD attempts :one',
        ConditionExpression: 'attribute_exists(pk) AND #status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':one': 1, ':pending': 'pending' },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.attempts ?? 0);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}
