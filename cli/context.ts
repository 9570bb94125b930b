import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { CliError } from './cli-error';
import { resourceNames } from '../shared/config/resource-names';
import { oauthRedirectUri, webhookUrl } from '../shared/http/routes';

/**
 * Where the CLI points: the local platform (default, from `.local/platform.json`) or a deployed stack
 * (`--target aws`, from CloudFormation outputs with `--stack`, or from the Lambda env variable names).
 */
export type CliTarget = 'local' | 'aws';

export interface CliResources {
  stage: string;
  teamsTable: string;
  recordsTable: string;
  integrationLogTable: string;
  teamSecretPrefix: string;
  ingestQueueUrl?: string;
  backfillQueueUrl?: string;
  /** The write-back FIFO queue: `team remove --erase` erases the team's messages from its DLQ. */
  writeBackQueueUrl?: string;
  /** The work queues' DLQs (`dlq list|redrive`). */
  ingestDlqUrl?: string;
  backfillDlqUrl?: string;
  writeBackDlqUrl?: string;
  apiBaseUrl?: string;
  oauthRedirectUri?: string;
  /** Webhook URL with a `{teamId}` placeholder. */
  webhookUrlTemplate?: string;
  /** The DrChrono sandbox (local only). */
  sandboxUrl?: string;
  /** KMS key for new team secrets (deployed stacks). */
  kmsKeyId?: string;
  /** The connect-link signing keys' secret (shared/oauth/connect-link-key.ts). */
  connectLinkKeySecret?: string;
  /** The API's region, for SigV4-signed write API requests (`records set|create|delete`). */
  region?: string;
}

export interface CliContext {
  target: CliTarget;
  resources: CliResources;
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  sqs: SQSClient;
  /** Terminal output; tests pass their own. */
  out(line: string): void;
  err(line: string): void;
}

export interface GlobalOptions {
  target?: string;
  stack?: string;
  platformFile?: string;
  region?: string;
}

export { CliError } from './cli-error';

/** `.local/platform.json`, written by `npm start` (local/platform-info.ts `PlatformInfo`). Unknown keys are ignored. */
const PlatformInfoSchema = z.looseObject({
  stage: z.string(),
  region: z.string(),
  apiBaseUrl: z.string(),
  webhookUrlTemplate: z.optional(z.string()),
  oauthRedirectUri: z.optional(z.string()),
  sandboxUrl: z.nullish(z.string()),
  endpoints: z.looseObject({ dynamodb: z.string(), sqs: z.string(), secretsManager: z.string() }),
  resources: z.looseObject({
    teamsTable: z.string(),
    recordsTable: z.string(),
    integrationLogTable: z.string(),
    teamSecretPrefix: z.string(),
    connectLinkKeySecret: z.optional(z.string()),
  }),
  queueUrls: z.looseObject({ ingest: z.string(), backfill: z.string(), writeBack: z.optional(z.string()), ingestDlq: z.optional(z.string()), backfillDlq: z.optional(z.string()), writeBackDlq: z.optional(z.string()) }),
});
type PlatformInfo = z.infer<typeof PlatformInfoSchema>;

export function platformFilePath(opts: GlobalOptions, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, opts.platformFile ?? env.DRCHRONO_SYNC_PLATFORM_FILE ?? join('.local', 'platform.json'));
}

export function resourcesFromPlatformInfo(raw: unknown): { info: PlatformInfo; resources: CliResources } {
  const parsed = PlatformInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
    throw new CliError(`platform info is incomplete (${fields}); restart the platform with \`npm start\``);
  }
  const info = parsed.data;
  return {
    info,
    resources: {
      stage: info.stage,
      teamsTable: info.resources.teamsTable,
      recordsTable: info.resources.recordsTable,
      integrationLogTable: info.resources.integrationLogTable,
      teamSecretPrefix: info.resources.teamSecretPrefix,
      ingestQueueUrl: info.queueUrls.ingest,
      backfillQueueUrl: info.queueUrls.backfill,
      writeBackQueueUrl: info.queueUrls.writeBack,
      ingestDlqUrl: info.queueUrls.ingestDlq ?? dlqUrlOf(info.queueUrls.ingest),
      backfillDlqUrl: info.queueUrls.backfillDlq ?? dlqUrlOf(info.queueUrls.backfill),
      writeBackDlqUrl: info.queueUrls.writeBackDlq ?? dlqUrlOf(info.queueUrls.writeBack),
      apiBaseUrl: info.apiBaseUrl,
      oauthRedirectUri: info.oauthRedirectUri,
      webhookUrlTemplate: info.webhookUrlTemplate,
      sandboxUrl: info.sandboxUrl ?? undefined,
      connectLinkKeySecret: info.resources.connectLinkKeySecret ?? resourceNames(info.stage).connectLinkKeySecret,
      region: info.region,
    },
  };
}

/** The deployed stack's outputs (see lib/), by output key. */
export function resourcesFromStackOutputs(outputs: Record<string, string>, stage: string): CliResources {
  const names = resourceNames(stage);
  const required = (key: string): string => {
    const v = outputs[key];
    if (!v) throw new CliError(`stack output ${key} is missing; is this a drchrono-sync stack?`);
    return v;
  };
  return {
    stage,
    teamsTable: required('TeamsTableName'),
    recordsTable: outputs.RecordsTableName ?? names.recordsTable,
    integrationLogTable: outputs.IntegrationLogTableName ?? names.integrationLogTable,
    teamSecretPrefix: required('TeamSecretPrefix'),
    ingestQueueUrl: outputs.IngestQueueUrl,
    backfillQueueUrl: outputs.BackfillQueueUrl,
    writeBackQueueUrl: outputs.WriteBackQueueUrl,
    ingestDlqUrl: outputs.IngestDlqUrl ?? dlqUrlOf(outputs.IngestQueueUrl),
    backfillDlqUrl: outputs.BackfillDlqUrl ?? dlqUrlOf(outputs.BackfillQueueUrl),
    writeBackDlqUrl: outputs.WriteBackDlqUrl ?? dlqUrlOf(outputs.WriteBackQueueUrl),
    apiBaseUrl: outputs.ApiBaseUrl,
    oauthRedirectUri: outputs.OAuthRedirectUri,
    webhookUrlTemplate: outputs.WebhookUrlTemplate,
    kmsKeyId: outputs.TeamSecretsKmsKeyArn,
    connectLinkKeySecret: outputs.ConnectLinkKeySecretName ?? names.connectLinkKeySecret,
  };
}

/** Resources from the Lambda contract's env variable names; names not set fall back to STAGE's defaults. */
export function resourcesFromEnv(env: NodeJS.ProcessEnv): CliResources {
  const stage = env.STAGE;
  const names = stage ? resourceNames(stage) : undefined;
  const teamsTable = env.TEAMS_TABLE ?? names?.teamsTable;
  const teamSecretPrefix = env.TEAM_SECRET_PREFIX ?? names?.teamSecretPrefix;
  if (!teamsTable || !teamSecretPrefix) {
    throw new CliError('--target aws needs --stack <name>, or STAGE (or TEAMS_TABLE and TEAM_SECRET_PREFIX) in the environment', 2);
  }
  return {
    stage: stage ?? 'unknown',
    teamsTable,
    recordsTable: env.RECORDS_TABLE ?? names?.recordsTable ?? '',
    integrationLogTable: env.INTEGRATION_LOG_TABLE ?? names?.integrationLogTable ?? '',
    teamSecretPrefix,
    ingestQueueUrl: env.INGEST_QUEUE_URL,
    backfillQueueUrl: env.BACKFILL_QUEUE_URL,
    writeBackQueueUrl: env.WRITE_BACK_QUEUE_URL,
    ingestDlqUrl: env.INGEST_DLQ_URL ?? dlqUrlOf(env.INGEST_QUEUE_URL),
    backfillDlqUrl: env.BACKFILL_DLQ_URL ?? dlqUrlOf(env.BACKFILL_QUEUE_URL),
    writeBackDlqUrl: env.WRITE_BACK_DLQ_URL ?? dlqUrlOf(env.WRITE_BACK_QUEUE_URL),
    apiBaseUrl: env.API_BASE_URL,
    oauthRedirectUri: env.OAUTH_REDIRECT_URI,
    webhookUrlTemplate: env.WEBHOOK_URL_TEMPLATE,
    sandboxUrl: env.SANDBOX_URL,
    kmsKeyId: env.TEAM_SECRETS_KMS_KEY_ID,
    connectLinkKeySecret: env.CONNECT_LINK_KEY_SECRET_ID ?? names?.connectLinkKeySecret,
  };
}

async function readStackOutputs(stackName: string, region: string | undefined): Promise<Record<string, string>> {
  // Loaded only for --stack: the CloudFormation client is a dev dependency and slow to import.
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient(region ? { region } : {});
  let stack;
  try {
    stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (err) {
    throw new CliError(`cannot read stack ${stackName}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!stack) throw new CliError(`stack ${stackName} not found`);
  const outputs: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
  return outputs;
}

export function resolveTarget(opts: GlobalOptions, env: NodeJS.ProcessEnv): CliTarget {
  const t = opts.target ?? env.DRCHRONO_SYNC_TARGET ?? 'local';
  if (t !== 'local' && t !== 'aws') throw new CliError(`unknown target "${t}": use local or aws`, 2);
  return t;
}

export interface CreateContextOptions extends GlobalOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export async function createCliContext(opts: CreateContextOptions = {}): Promise<CliContext> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const out = opts.out ?? ((line: string) => console.log(line));
  const err = opts.err ?? ((line: string) => console.error(line));
  const target = resolveTarget(opts, env);

  if (target === 'local') {
    const file = platformFilePath(opts, env, cwd);
    if (!existsSync(file)) {
      throw new CliError(`the local platform is not running (${file} not found): start it with \`npm start\`, or use --target aws`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new CliError(`${file} is not valid JSON: restart the platform with \`npm start\``);
    }
    const { info, resources } = resourcesFromPlatformInfo(raw);
    // The emulators accept any credentials; fixed ones keep the CLI independent of the user's AWS profile.
    const base = { region: info.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    return {
      target,
      resources,
      ddb: documentClientFor(new DynamoDBClient({ ...base, endpoint: info.endpoints.dynamodb })),
      secrets: new SecretsManagerClient({ ...base, endpoint: info.endpoints.secretsManager }),
      sqs: new SQSClient({ ...base, endpoint: info.endpoints.sqs, useQueueUrlAsEndpoint: false }),
      out,
      err,
    };
  }

  const region = opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const found = opts.stack
    ? resourcesFromStackOutputs(await readStackOutputs(opts.stack, region), env.STAGE ?? stageFromStackName(opts.stack))
    : resourcesFromEnv(env);
  const resources: CliResources = { ...found, region: region ?? regionOfApiUrl(found.apiBaseUrl) };
  const base = region ? { region } : {};
  return {
    target,
    resources,
    ddb: documentClientFor(new DynamoDBClient(base)),
    secrets: new SecretsManagerClient(base),
    // Same reason as shared/aws/clients.ts: keep requests on the configured endpoint when one is set.
    sqs: new SQSClient({ ...base, useQueueUrlAsEndpoint: false }),
    out,
    err,
  };
}

function documentClientFor(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * A work queue's DLQ URL: the same URL with `-dlq` appended to the queue name (before `.fifo` for a FIFO queue),
 * the naming contract of shared/config/resource-names.ts that the stack and the local platform both follow.
 */
export function dlqUrlOf(queueUrl: string | undefined): string | undefined {
  if (!queueUrl) return undefined;
  const url = queueUrl.replace(/\/+$/, '');
  return url.endsWith('.fifo') ? `${url.slice(0, -'.fifo'.length)}-dlq.fifo` : `${url}-dlq`;
}

/** The region in an API Gateway default endpoint (`https://<id>.execute-api.<region>.amazonaws.com`); undefined for a custom domain. */
export function regionOfApiUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/** `drchrono-sync-dev` → `dev`; anything else keeps the stack name as the stage label. */
function stageFromStackName(stack: string): string {
  const m = /^drchrono-sync-(.+)$/.exec(stack);
  return m?.[1] ?? stack;
}

/** The URL DrChrono should call for this team, when the target knows its API address. */
export function teamWebhookUrl(resources: CliResources, teamId: string): string | undefined {
  if (resources.webhookUrlTemplate) return resources.webhookUrlTemplate.replace('{teamId}', teamId);
  return resources.apiBaseUrl ? webhookUrl(resources.apiBaseUrl, teamId) : undefined;
}

/** The OAuth redirect URI to register in DrChrono, when known. */
export function redirectUri(resources: CliResources): string | undefined {
  return resources.oauthRedirectUri ?? (resources.apiBaseUrl ? oauthRedirectUri(resources.apiBaseUrl) : undefined);
}
