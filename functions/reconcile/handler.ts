import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context, ScheduledEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, sqsClient } from '../../shared/aws/clients';
import { logger } from '../../shared/logging/logger';
import { scheduleReconcile, type ScheduleReconcileResult } from '../../shared/reconcile/schedule-reconcile';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  BACKFILL_QUEUE_URL: z.string().check(z.minLength(1)),
  INTEGRATION_LOG_TABLE: z.string().check(z.minLength(1)),
});

let env: z.infer<typeof EnvSchema> | undefined;

/** Hourly: one reconcile work item per connected team on the backfill queue, the backfill watchdog, the webhook counts roll-up. */
async function reconcile(_event: ScheduledEvent, context: Context): Promise<ScheduleReconcileResult> {
  env ??= EnvSchema.parse(process.env);
  return scheduleReconcile({
    ddb: documentClient(),
    sqs: sqsClient(),
    teamsTable: env.TEAMS_TABLE,
    backfillQueueUrl: env.BACKFILL_QUEUE_URL,
    integrationLogTable: env.INTEGRATION_LOG_TABLE,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
}

export const handler = middy<ScheduledEvent, ScheduleReconcileResult>().use(injectLambdaContext(logger)).handler(reconcile);
