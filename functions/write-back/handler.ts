import middy from '@middy/core';
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { WRITE_BACK_QUEUE } from '../../shared/config/queue-settings';
import { DrChronoClient } from '../../shared/drchrono/client';
import { logger } from '../../shared/logging/logger';
import { IntegrationLogTtlDaysSchema } from '../../shared/config/integration-log-ttl';
import { SyncContextCache } from '../../shared/sync/sync-context';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';
import {
  applyChange,
  WRITE_BACK_CALL_RETRIES,
  WRITE_BACK_CALL_TIMEOUT_MS,
  WRITE_BACK_RETRY_MAX_DELAY_MS,
  type ApplyDeps,
} from '../../shared/write-back/apply-change';
import { WriteBackBatch } from '../../shared/write-back/write-back-batch';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  RECORDS_TABLE: z.string().check(z.minLength(1)),
  INTEGRATION_LOG_TABLE: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  WRITE_BACK_QUEUE_URL: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z.optional(z.string().check(z.url())),
  INTEGRATION_LOG_TTL_DAYS: IntegrationLogTtlDaysSchema,
});
type Env = z.infer<typeof EnvSchema>;

/** Built on first use and kept for the container's life: secrets, profile names, known doctors. */
let container: { env: Env; deps: ApplyDeps } | undefined;

function containerState(): NonNullable<typeof container> {
  if (container) return container;
  const env = EnvSchema.parse(process.env);
  const deps: ApplyDeps = {
    ddb: documentClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    secrets: new TeamSecretCache({ client: secretsClient, prefix: env.TEAM_SECRET_PREFIX }),
    context: new SyncContextCache({ ddb: documentClient, teamsTable: env.TEAMS_TABLE }),
    drchrono: (o) =>
      new DrChronoClient({
        baseUrl: env.DRCHRONO_BASE_URL,
        accessToken: o.accessToken,
        beforeCall: o.beforeCall,
        timeoutMs: WRITE_BACK_CALL_TIMEOUT_MS,
        maxRetries: WRITE_BACK_CALL_RETRIES,
        retryMaxDelayMs: WRITE_BACK_RETRY_MAX_DELAY_MS,
      }),
  };
  container = { env, deps };
  return container;
}

async function writeBack(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const { env, deps: shared } = containerState();
  const remainingMs = typeof context.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined;
  const deps: ApplyDeps = { ...shared, ...(remainingMs ? { remainingMs } : {}) };
  const batch = new WriteBackBatch({
    ddb: deps.ddb,
    sqs: sqsClient(),
    teamsTable: env.TEAMS_TABLE,
    integrationLogTable: env.INTEGRATION_LOG_TABLE,
    queueUrl: env.WRITE_BACK_QUEUE_URL,
    maxReceiveCount: WRITE_BACK_QUEUE.maxReceiveCount,
    integrationLogTtlDays: env.INTEGRATION_LOG_TTL_DAYS,
    apply: (msg) => applyChange(msg, deps),
    ...(remainingMs ? { remainingMs } : {}),
  });
  // FIFO: one record at a time, in order; a failed or deferred record holds back the rest of ITS group only.
  const processor = new SqsFifoPartialProcessorAsync();
  const response = await processPartialResponse(event, batch.handleRecord, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false });
  await batch.releaseSkipped(event.Records, response.batchItemFailures.map((f) => f.itemIdentifier));
  const unlogged = await batch.flush(context.awsRequestId);
  return { batchItemFailures: [...response.batchItemFailures, ...unlogged.map((itemIdentifier) => ({ itemIdentifier }))] };
}

export const handler = middy<SQSEvent, SQSBatchResponse>().use(injectLambdaContext(logger)).handler(writeBack);
