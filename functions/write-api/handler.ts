import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { errorFields, logger } from '../../shared/logging/logger';
import { SyncContextCache } from '../../shared/sync/sync-context';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';
import { planWrite } from '../../shared/write-back/reverse-map';
import { handleWriteApi, type WriteApiDeps } from '../../shared/write-back/write-api';
import { OfficeCache, WRITE_LOOKUP_CLIENT, writeLookups } from '../../shared/write-back/write-lookups';

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  RECORDS_TABLE: z.string().check(z.minLength(1)),
  WRITE_BACK_QUEUE_URL: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
  DRCHRONO_BASE_URL: z.optional(z.string().check(z.url())),
});

/** Built on first use and kept for the container's life: secrets, name lists and office lists are cached in it. */
let deps: WriteApiDeps | undefined;

function containerDeps(): WriteApiDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const lookupDeps = {
    ddb: documentClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    secrets: new TeamSecretCache({ client: secretsClient, prefix: env.TEAM_SECRET_PREFIX }),
    names: new SyncContextCache({ ddb: documentClient, teamsTable: env.TEAMS_TABLE }),
    offices: new OfficeCache(),
    drchrono: (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) =>
      new DrChronoClient({ ...WRITE_LOOKUP_CLIENT, baseUrl: env.DRCHRONO_BASE_URL, accessToken: o.accessToken, beforeCall: o.beforeCall }),
  };
  deps = {
    ddb: documentClient(),
    sqs: sqsClient(),
    teamsTable: env.TEAMS_TABLE,
    recordsTable: env.RECORDS_TABLE,
    writeBackQueueUrl: env.WRITE_BACK_QUEUE_URL,
    planWrite,
    lookups: (team) => writeLookups(team, lookupDeps),
  };
  return deps;
}

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

async function writeApi(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const body = event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    return await handleWriteApi(
      {
        method: event.requestContext.http.method.toUpperCase(),
        routePath: event.routeKey.slice(event.routeKey.indexOf(' ') + 1),
        params: event.pathParameters ?? {},
        headers: lowerCaseHeaders(event.headers),
        body,
      },
      containerDeps(),
    );
  } catch (err) {
    // Class only: messages can quote the input, which is PHI.
    logger.error('write-api request failed', { routeKey: event.routeKey, errorClass: errorFields(err).errorClass });
    return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error' }) };
  }
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().use(injectLambdaContext(logger)).handler(writeApi);
