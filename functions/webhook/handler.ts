import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { enqueueIngestMessage } from '../../shared/ingest/ingest-queue';
import { errorFields, logger } from '../../shared/logging/logger';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';
import { addWebhookCounts, webhookTeamState } from '../../shared/teams/team-store';
import { receiveWebhook, type WebhookDeps } from '../../shared/webhook/receive-webhook';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  INGEST_QUEUE_URL: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
});

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'webhook' });

/** Built on first use and kept for the container's life: the secret cache is what makes warm deliveries free. */
let deps: WebhookDeps | undefined;

function containerDeps(): WebhookDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const secrets = new TeamSecretCache({
    client: secretsClient,
    prefix: env.TEAM_SECRET_PREFIX,
    ttlMs: 5 * 60_000,
  });
  deps = {
    // Read before the secret, so an unknown team costs no Secrets Manager call either.
    teamState: (teamId) => webhookTeamState(documentClient(), env.TEAMS_TABLE, teamId),
    secrets,
    enqueue: (msg) => enqueueIngestMessage(sqsClient(), env.INGEST_QUEUE_URL, msg),
    countIgnored: (teamId, receivedAt) => addWebhookCounts(documentClient(), env.TEAMS_TABLE, teamId, { ignored: 1 }, receivedAt),
    now: () => new Date(),
  };
  return deps;
}

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function json(statusCode: number, body: string, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { ...headers, 'content-type': 'application/json' }, body };
}

async function webhook(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const body = event.body ?? '';
    const result = await receiveWebhook(
      {
        teamId: event.pathParameters?.teamId,
        method: event.requestContext?.http?.method?.toUpperCase() ?? '',
        query: event.queryStringParameters ?? {},
        headers: lowerCaseHeaders(event.headers),
        rawBody: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
      },
      containerDeps(),
    );
    metrics.addMetric(`webhook_${result.outcome}`, MetricUnit.Count, 1);
    return json(result.statusCode, result.body, result.headers);
  } catch (err) {
    // Configuration or unexpected errors: 503 so DrChrono redelivers; class and message only, never a stack.
    logger.error('webhook handler failed', errorFields(err));
    metrics.addMetric('webhook_error', MetricUnit.Count, 1);
    return json(503, JSON.stringify({ error: 'temporarily unavailable' }));
  }
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(webhook);
