import middy from '@middy/core';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { enqueueIngestMessage } from '../../shared/ingest/ingest-queue';
import { errorFields, logger } from '../../shared/logging/logger';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';
import { addWebhookCounts, webhookTeamState } from '../../shared/teams/team-store';
import { receiveWebhook, SILENT_OUTCOMES, type WebhookDeps } from '../../shared/webhook/receive-webhook';
import { WebhookTeamStateCache } from '../../shared/webhook/team-state-cache';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  INGEST_QUEUE_URL: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
});

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'webhook' });

/**
 * An hour, not 5 minutes: a quiet team's deliveries (minutes apart) then cost no GetSecretValue + KMS Decrypt each.
 * Staleness does not depend on it: every secret writer claims the team item's tokenVersion first, and a copy below
 * it is re-read within the team-state TTL (1 s); the overlap end is checked per request; disable and remove are
 * team state; a refused signature re-reads (docs/webhook.md "Secret rotation").
 */
export const WEBHOOK_SECRET_TTL_MS = 60 * 60_000;

/** Built on first use and kept for the container's life: the secret cache is what makes warm deliveries free. */
let deps: WebhookDeps | undefined;

/** Exported for the bench, which times receiveWebhook with these deps apart from the handler around it. */
export function containerDeps(): WebhookDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const secrets = new TeamSecretCache({
    client: secretsClient,
    prefix: env.TEAM_SECRET_PREFIX,
    ttlMs: WEBHOOK_SECRET_TTL_MS,
  });
  deps = {
    // Read before the secret, so an unknown team costs no Secrets Manager call either.
    teamState: new WebhookTeamStateCache({ read: (teamId, consistent) => webhookTeamState(documentClient(), env.TEAMS_TABLE, teamId, consistent) }),
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

/** One EMF line for this invocation's outcome; accepted deliveries (SILENT_OUTCOMES) print nothing. */
function countOutcome(name: string): void {
  metrics.addMetric(name, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}

async function webhook(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  // Lambda's request id and cold-start flag on any line this invocation prints (most print none).
  logger.addContext(context);
  try {
    const body = event.body ?? '';
    const result = await receiveWebhook(
      {
        teamId: event.pathParameters?.teamId,
        method: event.requestContext?.http?.method?.toUpperCase() ?? '',
        query: event.queryStringParameters ?? {},
        headers: lowerCaseHeaders(event.headers),
        rawBody: event.isBase64Encoded ? Buffer.from(body, 'base64') : body,
      },
      containerDeps(),
    );
    if (!SILENT_OUTCOMES.has(result.outcome)) countOutcome(`webhook_${result.outcome}`);
    return json(result.statusCode, result.body, result.headers);
  } catch (err) {
    // Configuration or unexpected errors: 503 so DrChrono redelivers; class and message only, never a stack.
    logger.error('webhook handler failed', errorFields(err));
    countOutcome('webhook_error');
    return json(503, JSON.stringify({ error: 'temporarily unavailable' }));
  }
}

/**
 * No middlewares: logger context and metrics are set above, only for what is printed (docs/webhook.md). No early
 * timeout either (a timer and a race per request): a delivery takes milliseconds, and a Lambda timeout is a 5xx
 * that DrChrono redelivers just the same.
 */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({ timeoutEarlyInMillis: 0 }).handler(webhook);
