import middy from '@middy/core';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { errorFields, logger } from '../../shared/logging/logger';
import { receiveWebhook, SILENT_OUTCOMES } from '../../shared/webhook/receive-webhook';
import { containerDeps } from './deps';

export { WEBHOOK_SECRET_TTL_MS } from './deps';

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'webhook' });

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
