import type { ResourceNames } from '../shared/config/resource-names';
import { OAUTH_CALLBACK_PATH, WEBHOOK_PATH_TEMPLATE } from '../shared/http/routes';

/**
 * What a running local platform publishes (`.local/platform.json`, the --ready-file, the banner), and the
 * Lambda environment derived from it. The platform and the integration-test setup both use
 * handlerEnvironment(), so handlers see the same variables whether invoked by the platform or by a test.
 */
export interface PlatformInfo {
  stage: string;
  region: string;
  pid: number;
  persistent: boolean;
  stateDir?: string;
  apiBaseUrl: string;
  webhookUrlTemplate: string;
  oauthRedirectUri: string;
  sandboxUrl: string | null;
  endpoints: { dynamodb: string; sqs: string; secretsManager: string };
  resources: ResourceNames;
  queueUrls: { ingest: string; ingestDlq: string; backfill: string; backfillDlq: string; writeBack: string; writeBackDlq: string };
  /** only with LOCAL_TEST_FUNCTIONS=1 */
  testQueueUrls?: { queue: string; dlq: string };
}

export function webhookUrlTemplate(apiBaseUrl: string): string {
  return `${apiBaseUrl}${WEBHOOK_PATH_TEMPLATE}`;
}

export function oauthRedirectUriFor(apiBaseUrl: string): string {
  return `${apiBaseUrl}${OAUTH_CALLBACK_PATH}`;
}

/** The Lambda contract variables of docs/architecture.md, pointed at the local emulators. */
export function handlerEnvironment(info: PlatformInfo): Record<string, string> {
  return {
    AWS_REGION: info.region,
    AWS_DEFAULT_REGION: info.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: info.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: info.endpoints.sqs,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: info.endpoints.secretsManager,
    STAGE: info.stage,
    TEAMS_TABLE: info.resources.teamsTable,
    RECORDS_TABLE: info.resources.recordsTable,
    INTEGRATION_LOG_TABLE: info.resources.integrationLogTable,
    INGEST_QUEUE_URL: info.queueUrls.ingest,
    BACKFILL_QUEUE_URL: info.queueUrls.backfill,
    WRITE_BACK_QUEUE_URL: info.queueUrls.writeBack,
    TEAM_SECRET_PREFIX: info.resources.teamSecretPrefix,
    CONNECT_LINK_KEY_SECRET_ID: info.resources.connectLinkKeySecret,
    // No sandbox means no DrChrono locally: a closed port fails fast instead of calling the real service.
    DRCHRONO_BASE_URL: info.sandboxUrl ?? 'http://127.0.0.1:9',
    OAUTH_REDIRECT_URI: info.oauthRedirectUri,
    POWERTOOLS_SERVICE_NAME: process.env.POWERTOOLS_SERVICE_NAME ?? 'drchrono-sync',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    POWERTOOLS_METRICS_NAMESPACE: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'drchrono-sync',
  };
}
