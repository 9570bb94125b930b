import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { INGEST_QUEUE } from '../../shared/config/queue-settings';
import { DeferredDrChronoClient } from '../../shared/drchrono/deferred-client';
import { logger } from '../../shared/logging/logger';
import { IntegrationLogTtlDaysSchema } from '../../shared/config/integration-log-ttl';
import { processIngestMessage, type ProcessDeps } from '../../shared/sync/process-ingest-message';
import { InvocationDeadlineExceededError } from '../../shared/sync/invocation-deadline';
import { SyncBatch, type SyncBatchSummary } from '../../shared/sync/sync-batch';
import { DELIVERIES_FAILED_METRIC } from '../../shared/sync/sync-metrics';
import { SyncContextCache } from '../../shared/sync/sync-context';
import { TeamLimiter } from '../../shared/sync/team-limiter';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  RECORDS_TABLE: z.string().check(z.minLength(1)),
  INTEGRATION_LOG_TABLE: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  INGEST_QUEUE_URL: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z.optional(z.string().check(z.url())),
  INTEGRATION_LOG_TTL_DAYS: IntegrationLogTtlDaysSchema,
});
type Env = z.infer<typeof EnvSchema>;

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'sync' });

/** Built on first use and kept for the container's life: secrets, team config, profile names, known doctors. */
let container: { env: Env; deps: ProcessDeps; limiter: TeamLimiter } | undefined;

function containerState(): NonNullable<typeof container> {
  if (container) return container;
  const env = EnvSchema.parse(process.env);
  const secrets = new TeamSecretCache({ client: secretsClient, prefix: env.TEAM_SECRET_PREFIX });
  const deps: ProcessDeps = {
    ddb: documentClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    secrets,
    context: new SyncContextCache({ ddb: documentClient, teamsTable: env.TEAMS_TABLE }),
    // Most messages never call DrChrono: the client and axios load on the first call (deferred-client.ts).
    drchrono: (o) => new DeferredDrChronoClient({ baseUrl: env.DRCHRONO_BASE_URL, accessToken: o.accessToken, beforeCall: o.beforeCall }),
  };
  container = { env, deps, limiter: new TeamLimiter() };
  return container;
}

async function sync(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const { env, deps, limiter } = containerState();
  const batch = new SyncBatch({
    ddb: deps.ddb,
    sqs: sqsClient(),
    integrationLogTable: env.INTEGRATION_LOG_TABLE,
    ingestQueueUrl: env.INGEST_QUEUE_URL,
    maxReceiveCount: INGEST_QUEUE.maxReceiveCount,
    integrationLogTtlDays: env.INTEGRATION_LOG_TTL_DAYS,
    // A message still waiting for its team's slot when the deadline passes must not start in a later invocation.
    process: (msg, signal) =>
      limiter.run(msg.teamId, async () => {
        if (signal.aborted) throw new InvocationDeadlineExceededError();
        return processIngestMessage(msg, deps);
      }),
    remainingMs: typeof context.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined,
  });
  const processor = new BatchProcessor(EventType.SQS);
  // A batch where every record failed or was deferred is still a normal answer, not an invocation error.
  const response = await processPartialResponse(event, batch.handleRecord, processor, { context, throwOnFullBatchFailure: false });
  const unlogged = await batch.flush(context.awsRequestId);
  // The invocation's one line: the metric the alarm reads (0 included: an empty flush would print a warning
  // line instead) and the batch's counts as metadata. No line per delivery: each is in the integration log.
  metrics.addMetric(DELIVERIES_FAILED_METRIC, MetricUnit.Count, batch.failedDeliveries);
  addBatchSummary(batch.summary());
  // A new object: Powertools answers a batch without failures with a shared constant, never mutate it.
  return { batchItemFailures: [...response.batchItemFailures, ...unlogged.map((itemIdentifier) => ({ itemIdentifier }))] };
}

/** Powertools types metadata values as strings but writes any JSON value into the EMF line as given. */
function addBatchSummary(summary: SyncBatchSummary): void {
  for (const [key, value] of Object.entries(summary)) metrics.addMetadata(key, value as string);
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(sync);
