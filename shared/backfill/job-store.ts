import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeIfCondition } from '../aws/conditional-write';
import { BACKFILL_SK, BackfillJobSchema, type BackfillJob } from './backfill-job';

/**
 * The backfill job item (teams table, pk teamId, sk `BACKFILL`). Every write is conditional on the job id and
 * the step the writer read, so two workers holding the same work item cannot both advance the job.
 * Progress numbers are top-level attributes, which `drchrono-sync team show` prints as they are.
 */
export async function getBackfillJob(ddb: DynamoDBDocumentClient, table: string, teamId: string): Promise<BackfillJob | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: BACKFILL_SK }, ConsistentRead: true }));
  if (!out.Item) return undefined;
  const parsed = BackfillJobSchema.safeParse(out.Item);
  // An unreadable item (older format) is treated as absent: a new job replaces it.
  return parsed.success ? parsed.data : undefined;
}

function item(job: BackfillJob): Record<string, unknown> {
  return { ...job, pk: job.teamId, sk: BACKFILL_SK };
}

/**
 * Create a job, replacing `replacing` (the job id read before) or nothing. False when another writer got there
 * first, in which case the caller re-reads.
 */
export async function putNewJob(ddb: DynamoDBDocumentClient, table: string, job: BackfillJob, replacing: string | undefined): Promise<boolean> {
  return writeIfCondition(
    ddb.send(
      new PutCommand({
        TableName: table,
        Item: item(job),
        ...(replacing === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'jobId = :old', ExpressionAttributeValues: { ':old': replacing } }),
      }),
    ),
  );
}

/** Write `next` if the stored job is still `jobId` at `fromStep`. False when someone else moved it. */
export async function commitJob(ddb: DynamoDBDocumentClient, table: string, next: BackfillJob, fromStep: number): Promise<boolean> {
  return writeIfCondition(
    ddb.send(
      new PutCommand({
        TableName: table,
        Item: item(next),
        ConditionExpression: 'jobId = :j AND step = :s',
        ExpressionAttributeValues: { ':j': next.jobId, ':s': fromStep },
      }),
    ),
  );
}

/** Record that the work item for `step` is on the queue (never moves backwards). */
export async function markEnqueued(ddb: DynamoDBDocumentClient, table: string, teamId: string, jobId: string, step: number): Promise<void> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: teamId, sk: BACKFILL_SK },
        UpdateExpression: 'SET enqueuedStep = :s',
        ConditionExpression: 'jobId = :j AND enqueuedStep < :s',
        ExpressionAttributeValues: { ':j': jobId, ':s': step },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}
