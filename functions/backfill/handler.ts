import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { runWorkItem, type BackfillWorkerDeps } from '../../shared/backfill/backfill-worker';
import { parseWorkItem } from '../../shared/team-job/work-item';
import { BACKFILL_QUEUE } from '../../shared/config/queue-settings';
import { DrChronoBulkClient } from '../../shared/drchrono/bulk';
import { DrChronoClient } from '../../shared/drchrono/client';
import { logger } from '../../shared/logging/logger';
import { runDeletionCheckItem } from '../../shared/reconcile/deletion-check';
import { runReconcileItem } from '../../shared/reconcile/reconcile-team';
import { IntegrationLogTtlDaysSchema } from '../../shared/config/integration-log-ttl';
import { applyDeferral, deferralsOf, planDeferral, receiveCountOf } from '../../shared/sync/deferral';
import { processIngestMessage, type ProcessDeps } from '../../shared/sync/process-ingest-message';
import { SyncContextCache } from '../../shared/sync/sync-context';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  RECORDS_TABLE: z.string().check(z.minLength(1)),
  INTEGRATION_LOG_TABLE: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  BACKFILL_QUEUE_URL: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z.optional(z.string().check(z.url())),
  INTEGRATION_LOG_TTL_DAYS: IntegrationLogTtlDaysSchema,
});

/** Thrown to make Powertools report a record as a batch item failure; carries no PHI. */
class BackfillRecordFailure extends Error {
  override name = 'BackfillRecordFailure';
}

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'backfill' });

/** Built on first use and kept for the container's life: secrets, team config and profile names are cached. */
let deps: BackfillWorkerDeps | undefined;

function containerDeps(): BackfillWorkerDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const secrets = new TeamSecretCache({ client: secretsClient, prefix: env.TEAM_SECRET_PREFIX });
  const context = new SyncContextCache({ ddb: documentClient, teamsTable: env.TEAMS_TABLE });
  const clientOpts = (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) => ({
    baseUrl: env.DRCHRONO_BASE_URL,
    accessToken: o.accessToken,
    beforeCall: o.beforeCall,
    timeoutMs: 30_000,
  });
  const processDeps: ProcessDeps = {
    ddb: documentClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    secrets,
    context,
    drchrono: (o) => new DrChronoClient(clientOpts(o)),
  };
  const built: BackfillWorkerDeps = {
    ddb: documentClient(),
    sqs: sqsClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    integrationLogTable: env.INTEGRATION_LOG_TABLE,
    backfillQueueUrl: env.BACKFILL_QUEUE_URL,
    integrationLogTtlDays: env.INTEGRATION_LOG_TTL_DAYS,
    secrets,
    process: (msg) => processIngestMessage(msg, processDeps),
    drchrono: (o) => ({ api: new DrChronoClient(clientOpts(o)), bulk: new DrChronoBulkClient(clientOpts(o)) }),
    reconcile: (item, ctx) => runReconcileItem(item, ctx, built),
    deletionCheck: (item, ctx) => runDeletionCheckItem(item, ctx, { ...built, countMetric: (name) => metrics.addMetric(name, MetricUnit.Count, 1) }),
  };
  deps = built;
  return built;
}

async function handleRecord(record: SQSRecord, context: Context): Promise<void> {
  const d = containerDeps();
  const receiveCount = receiveCountOf(record);
  const item = parseWorkItem(record.body);
  if (!item) {
    logger.error('backfill: invalid work item', { messageId: record.messageId, receiveCount });
    throw new BackfillRecordFailure(`message ${record.messageId} is not a backfill work item`);
  }
  const ids = { teamId: item.teamId, type: item.type, messageId: record.messageId };
  const finalAttempt = receiveCount >= BACKFILL_QUEUE.maxReceiveCount;
  const remainingMs = typeof context.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined;
  const result = await runWorkItem(item, { messageId: record.messageId, groupId: `${context.awsRequestId}-${record.messageId}`, finalAttempt, remainingMs }, d);
  if (result.status === 'done') return;
  if (result.status === 'defer') {
    const plan = planDeferral({ delaySeconds: result.delaySeconds, receiveCount, maxReceiveCount: BACKFILL_QUEUE.maxReceiveCount, deferrals: deferralsOf(record) });
    if (plan.action === 'give-up') throw new BackfillRecordFailure(`message ${record.messageId} deferred too many times`);
    // Kept in flight (visibility) or re-sent as a copy near the DLQ limit, so a long pause never reaches the DLQ.
    const keep = await applyDeferral(d.sqs, d.backfillQueueUrl, record, plan);
    logger.info('backfill: work item deferred', { ...ids, plan: plan.action, seconds: result.delaySeconds });
    if (keep) throw new BackfillRecordFailure(`message ${record.messageId} deferred`);
    return;
  }
  throw new BackfillRecordFailure(`message ${record.messageId} failed; SQS retries it`);
}

async function backfill(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // A bad configuration fails the whole invocation with its message once, instead of a failure per record; the
  // records still come back and reach the DLQ after maxReceiveCount if the configuration is not fixed.
  containerDeps();
  const processor = new BatchProcessor(EventType.SQS);
  return processPartialResponse(event, (record: SQSRecord) => handleRecord(record, context), processor, {
    context,
    throwOnFullBatchFailure: false,
  });
}

export const handler = middy<SQSEvent, SQSBatchResponse>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(backfill);
