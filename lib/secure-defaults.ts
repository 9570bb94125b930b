import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { INGEST_QUEUE } from '../shared/config/queue-settings';
import { DEFAULT_INTEGRATION_LOG_TTL_DAYS } from '../shared/config/integration-log-ttl';
import { FUNCTION_NAMES, FUNCTION_SETTINGS, type LambdaFunctionName } from '../shared/config/function-settings';
import type { RefreshMetricName } from '../shared/oauth/refresh-team';
import { DELIVERIES_FAILED_METRIC } from '../shared/sync/sync-metrics';
import { DELETION_CHECK_BLOCKED_METRIC, type DeletionCheckMetricName } from '../shared/reconcile/deletion-check-metrics';

/**
 * Every security- and operations-relevant default of the stack, in one reviewed place.
 * Constructs in lib/ read from here; none of them hard-codes a retention, a size or a runtime.
 */

export const DEPLOY_STAGES = ['dev', 'prod'] as const;
export type DeployStage = (typeof DEPLOY_STAGES)[number];

/** The stage comes from `-c stage=...`; anything but dev|prod is a typo we refuse to deploy. */
export function parseDeployStage(value: unknown): DeployStage {
  const stage = value ?? 'dev';
  if (typeof stage === 'string' && (DEPLOY_STAGES as readonly string[]).includes(stage)) return stage as DeployStage;
  throw new Error(`Unknown stage ${JSON.stringify(stage)}: pass -c stage=dev or -c stage=prod`);
}

export interface StageSettings {
  /** Stateful resources: tables, key, queues, log groups. */
  removalPolicy: RemovalPolicy;
  deletionProtection: boolean;
  logRetention: RetentionDays;
  /** HTTP API stage throttling, requests/s and burst. */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Reserved concurrency of the webhook receiver: DrChrono delivery bursts must not starve the account. */
  webhookConcurrency: number;
}

export function stageSettings(stage: DeployStage): StageSettings {
  return stage === 'prod'
    ? {
        removalPolicy: RemovalPolicy.RETAIN,
        deletionProtection: true,
        // HIPAA asks for six years of audit records; CloudWatch's nearest step is 6 years (2192 days).
        logRetention: RetentionDays.SIX_YEARS,
        apiRateLimit: 100,
        apiBurstLimit: 200,
        webhookConcurrency: 50,
      }
    : {
        removalPolicy: RemovalPolicy.DESTROY,
        deletionProtection: false,
        logRetention: RetentionDays.TWO_WEEKS,
        apiRateLimit: 20,
        apiBurstLimit: 40,
        webhookConcurrency: 10,
      };
}

/** Tags on every resource of the stack that its region's CloudFormation schema lets us tag. */
export function stackTags(stage: DeployStage): Record<string, string> {
  return { project: 'drchrono-sync', stage, 'data-classification': 'phi' };
}

/**
 * Resource types left untagged: the CloudFormation schemas of several regions (us-east-1 included, as cfn-lint
 * reports) have no `Tags` on AWS::CloudWatch::Dashboard, and a property a region's schema lacks fails the deploy
 * there. A dashboard holds no data, so it loses nothing by being untagged.
 */
export const UNTAGGED_RESOURCE_TYPES = ['AWS::CloudWatch::Dashboard'];

/**
 * Runtime: Node.js 24, the newest LTS Lambda runtime. middy 7 needs >= 22, our handlers are async (Node 24 drops
 * callback handlers, which we never use), Lambda supports 24 a year longer than 22, and cdk-nag AwsSolutions-L1
 * passes without an acknowledgement. The bundle targets node22 syntax so the same artefact runs on 22 if we
 * ever have to roll the runtime back.
 */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;
/** Graviton: ~20 % cheaper per GB-s for the same code. */
export const LAMBDA_ARCHITECTURE = Architecture.ARM_64;

/**
 * esbuild aliases for every Lambda bundle, as `package → module` (paths relative to the repo root, esbuild's working
 * directory in NodejsFunction bundling). axios's Node build imports `form-data` (with mime-types, mime-db,
 * combined-stream, get-intrinsic...: ~160 KB of the sync/oauth/backfill bundles) only to build multipart bodies,
 * which no DrChrono call sends; the stand-in throws if axios ever constructs one. `debug` (with `ms`, ~3 KB), pulled
 * in by axios's redirect and proxy packages, would print request URLs and proxy options if DEBUG were set on a
 * function: its stand-in is silent. The proxy support itself stays (HTTPS_PROXY keeps working).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  'form-data': './shared/http/form-data-unavailable.cjs',
  debug: './shared/http/debug-silent.cjs',
};

export const BUNDLING: BundlingOptions = {
  format: OutputFormat.CJS,
  target: 'node22',
  minify: true,
  // Source maps are emitted but not enabled at run time: --enable-source-maps costs cold-start time on every
  // stack trace we would never log anyway (we log error class and message, not stacks).
  sourceMap: true,
  // Maps without embedded sources: enough to decode a stack offline, a third of the size in the zip.
  sourcesContent: false,
  // Bundle SDK v3 instead of the runtime copy: pinned versions and ~25-50 % faster INIT.
  bundleAwsSDK: true,
  // NodejsFunction passes each entry as `--alias:<package>=<module>`.
  esbuildArgs: { '--alias': Object.entries(BUNDLE_ALIASES).map(([pkg, to]) => `${pkg}=${to}`) },
};

export type FunctionName = LambdaFunctionName;

export interface FunctionSizing {
  memoryMb: number;
  timeout: Duration;
  /** Why these numbers: rendered into docs/deploy.md. */
  why: string;
}

export const FUNCTION_SIZING = Object.fromEntries(
  FUNCTION_NAMES.map((name) => {
    const { memoryMb, timeoutSeconds, why } = FUNCTION_SETTINGS[name];
    return [name, { memoryMb, timeout: Duration.seconds(timeoutSeconds), why }];
  }),
) as Record<FunctionName, FunctionSizing>;

/**
 * DrChrono allows 500 calls per hour per app by default. The sync function's concurrency is sized so that the
 * calls it can have in flight at once (concurrency x batch size, one call per message at most) never exceed 10 %
 * of an hour's budget: floor(500 * 0.10 / 10) = 5. The per-team hourly counter (shared/budget) is what enforces
 * the budget; concurrency keeps a retry storm from spending it before the counter reacts.
 */
export const DRCHRONO_HOURLY_BUDGET = 500;
export const BURST_SHARE_OF_BUDGET = 0.1;
/** The SQS event source cannot go below 2 concurrent invocations. */
const SQS_MIN_CONCURRENCY = 2;
export const SYNC_CONCURRENCY = Math.max(
  SQS_MIN_CONCURRENCY,
  Math.floor((DRCHRONO_HOURLY_BUDGET * BURST_SHARE_OF_BUDGET) / INGEST_QUEUE.batchSize),
);
/** Backfill pages whole lists; two workers (the SQS event-source minimum) keep it from eating the budget. */
export const BACKFILL_CONCURRENCY = SQS_MIN_CONCURRENCY;
/** Scheduled jobs run one at a time: overlapping refreshers would race on refresh tokens. */
export const SCHEDULED_CONCURRENCY = 1;
export const OAUTH_CONCURRENCY = 5;
/** Apps' writes: a burst beyond this is throttled (429) instead of spending DynamoDB and DrChrono capacity. */
export const WRITE_API_CONCURRENCY = 10;
/** Write-back spends the team budgets like sync: the SQS minimum of 2 keeps a backlog from bursting through them. */
export const WRITE_BACK_CONCURRENCY = SQS_MIN_CONCURRENCY;

export const TOKEN_REFRESH_RATE = Duration.minutes(FUNCTION_SETTINGS['token-refresh'].everyMinutes ?? 15);
export const RECONCILE_RATE = Duration.minutes(FUNCTION_SETTINGS.reconcile.everyMinutes ?? 60);

export const TRACING = Tracing.ACTIVE;

/**
 * Custom metrics (Powertools Metrics). Each function's POWERTOOLS_SERVICE_NAME is its own name, which Powertools
 * puts in the `service` dimension; alarms select the emitting function by it.
 */
export const METRICS_NAMESPACE = 'DrChronoSync';
// Typed by (or taken from) what the emitting code declares, so an alarm cannot watch a name nobody emits.
export const METRIC_TOKEN_REFRESH_FAILED: RefreshMetricName = 'TokenRefreshFailed';
export const METRIC_TEAMS_REAUTH_REQUIRED: RefreshMetricName = 'TeamsReauthorizationRequired';
export const METRIC_DELIVERIES_FAILED = DELIVERIES_FAILED_METRIC;
export const METRIC_TOKEN_SECRET_BEHIND: RefreshMetricName = 'TokenSecretBehind';
export const METRIC_DELETION_CHECK_BLOCKED: DeletionCheckMetricName = DELETION_CHECK_BLOCKED_METRIC;

/** Alarm thresholds: an ingest message older than this means the sync worker is stuck or starved. */
export const INGEST_MAX_AGE = Duration.minutes(15);
export const BACKFILL_MAX_AGE = Duration.hours(2);
/** A write-back change older than this: the worker is stuck, or the team's budget has been spent for a long time. */
export const WRITE_BACK_MAX_AGE = Duration.minutes(30);

export const DRCHRONO_BASE_URL = 'https://drchrono.com';
export const TOKEN_REFRESH_WINDOW_MINUTES = 1440;
/** What the stack stamps into INTEGRATION_LOG_TTL_DAYS: the functions' own default, so it always passes their bound. */
export const INTEGRATION_LOG_TTL_DAYS = DEFAULT_INTEGRATION_LOG_TTL_DAYS;
