import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient } from '../../shared/aws/clients';
import { refreshAccessToken } from '../../shared/drchrono/token-client';
import { logger } from '../../shared/logging/logger';
import { DEFAULT_REFRESH_CONCURRENCY, DEFAULT_REFRESH_WINDOW_MINUTES, MINUTE_MS } from '../../shared/oauth/refresh-index';
import { runRefreshSweep, type RefreshSweepSummary } from '../../shared/oauth/refresh-sweep';
import { writeIntegrationLog } from '../../shared/store/integration-log';
import { IntegrationLogTtlDaysSchema } from '../../shared/config/integration-log-ttl';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z._default(z.string().check(z.url()), 'https://drchrono.com'),
  INTEGRATION_LOG_TABLE: z.string().check(z.minLength(1)),
  INTEGRATION_LOG_TTL_DAYS: IntegrationLogTtlDaysSchema,
  // Well inside DrChrono's 48 h token life: a team gets many sweeps (and backoffs) before its token expires.
  TOKEN_REFRESH_WINDOW_MINUTES: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(47 * 60)), DEFAULT_REFRESH_WINDOW_MINUTES),
  TOKEN_REFRESH_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(500)), DEFAULT_REFRESH_CONCURRENCY),
});

/** A token request is given this long; the lease (2 min) always outlives it. */
const TOKEN_TIMEOUT_MS = 15_000;
/** Stop starting teams when the invocation has less than this left; they stay due for the next run. */
const STOP_MARGIN_MS = 30_000;

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'token-refresh' });

async function tokenRefresh(_event: unknown, context: Context): Promise<RefreshSweepSummary> {
  const env = EnvSchema.parse(process.env);
  const ddb = documentClient();
  return runRefreshSweep({
    ddb,
    secrets: secretsClient(),
    teamsTable: env.TEAMS_TABLE,
    teamSecretPrefix: env.TEAM_SECRET_PREFIX,
    drchronoBaseUrl: env.DRCHRONO_BASE_URL,
    refreshAccessToken: (args) => refreshAccessToken({ ...args, timeoutMs: TOKEN_TIMEOUT_MS }),
    windowMs: env.TOKEN_REFRESH_WINDOW_MINUTES * MINUTE_MS,
    concurrency: env.TOKEN_REFRESH_CONCURRENCY,
    owner: `token-refresh:${context.awsRequestId}`,
    shouldStop: () => typeof context.getRemainingTimeInMillis === 'function' && context.getRemainingTimeInMillis() < STOP_MARGIN_MS + TOKEN_TIMEOUT_MS,
    countMetric: (name) => metrics.addMetric(name, MetricUnit.Count, 1),
    writeLog: async (teamId, entry) => {
      await writeIntegrationLog(ddb, env.INTEGRATION_LOG_TABLE, teamId, [entry], { ttlDays: env.INTEGRATION_LOG_TTL_DAYS, groupId: context.awsRequestId });
    },
  });
}

export const handler = middy<unknown, RefreshSweepSummary>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(tokenRefresh);
