import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { exchangeAuthorizationCode } from '../../shared/drchrono/token-client';
import { OAUTH_CALLBACK_PATH } from '../../shared/http/routes';
import { errorFields, logger } from '../../shared/logging/logger';
import { ConnectLinkKeyCache, readConnectLinkKeys } from '../../shared/oauth/connect-link-key';
import { completeAuthorization, startAuthorization, type OAuthFlowDeps } from '../../shared/oauth/oauth-flow';
import { oauthPage } from '../../shared/oauth/oauth-pages';
import { connectionUserFromProfile } from '../../shared/oauth/team-connection';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z._default(z.string().check(z.url()), 'https://drchrono.com'),
  OAUTH_REDIRECT_URI: z.string().check(z.url()),
  BACKFILL_QUEUE_URL: z.optional(z.string().check(z.minLength(1))),
  /** The connect-link signing keys' secret (shared/oauth/connect-link-key.ts). */
  CONNECT_LINK_KEY_SECRET_ID: z.string().check(z.minLength(1)),
});

const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DrChronoSync', serviceName: 'oauth' });

const AUTHORIZE_PREFIX = '/integration-oauth/authorize/';
/**
 * The admin waits on the callback page and API Gateway gives up at 30 s: one token exchange (never retried: the
 * code is single-use) plus one user lookup, each bounded.
 */
const CALLBACK_HTTP_TIMEOUT_MS = 6_000;

let deps: OAuthFlowDeps | undefined;

function containerDeps(): OAuthFlowDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const cache = new TeamSecretCache({ client: secretsClient, prefix: env.TEAM_SECRET_PREFIX });
  // Cached per container (5 min; a key id it does not know re-reads at most every 5 s): see connect-link-key.ts.
  const linkKeys = new ConnectLinkKeyCache({ load: () => readConnectLinkKeys(secretsClient(), env.CONNECT_LINK_KEY_SECRET_ID) });
  deps = {
    ddb: documentClient(),
    secrets: secretsClient(),
    sqs: sqsClient(),
    teamsTable: env.TEAMS_TABLE,
    teamSecretPrefix: env.TEAM_SECRET_PREFIX,
    drchronoBaseUrl: env.DRCHRONO_BASE_URL,
    redirectUri: env.OAUTH_REDIRECT_URI,
    backfillQueueUrl: env.BACKFILL_QUEUE_URL,
    readClientSecretCached: (teamId) => cache.get(teamId),
    connectLinkKey: (keyId) => linkKeys.key(keyId),
    countMetric: (name) => metrics.addMetric(name, MetricUnit.Count, 1),
    exchangeCode: (args) => exchangeAuthorizationCode({ ...args, timeoutMs: CALLBACK_HTTP_TIMEOUT_MS }),
    fetchCurrentUser: async ({ baseUrl, accessToken }) => {
      const client = new DrChronoClient({ baseUrl, accessToken: async () => accessToken, timeoutMs: CALLBACK_HTTP_TIMEOUT_MS, maxRetries: 1 });
      return connectionUserFromProfile(await client.currentUser());
    },
  };
  return deps;
}

async function oauth(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const path = event.rawPath ?? '';
    if (path === OAUTH_CALLBACK_PATH) return await completeAuthorization(containerDeps(), event.queryStringParameters ?? {}, event.cookies);
    if (path.startsWith(AUTHORIZE_PREFIX)) {
      // No decoding of the raw path: a malformed escape would throw; an undecoded id simply fails the UUID check.
      return await startAuthorization(
        containerDeps(),
        event.pathParameters?.teamId ?? path.slice(AUTHORIZE_PREFIX.length),
        event.queryStringParameters ?? {},
      );
    }
    return oauthPage('invalid');
  } catch (err) {
    // Class and message only: never the query (it holds the code and state) or a stack.
    logger.error('oauth handler failed', errorFields(err));
    return oauthPage('server_error');
  }
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(oauth);
