import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import * as path from 'node:path';
import { BACKFILL_QUEUE, INGEST_QUEUE, WRITE_BACK_QUEUE } from '../shared/config/queue-settings';
import { RECORDS_CHART_ID_INDEX, resourceNames, TEAMS_TOKEN_EXPIRY_INDEX, type ResourceNames } from '../shared/config/resource-names';
import { WEBHOOK_COUNT_LOG_ATTRIBUTES, WEBHOOK_ROLL_UP_TEAM_ATTRIBUTES } from '../shared/config/webhook-count-attributes';
import { oauthRedirectUri, WEBHOOK_PATH_TEMPLATE } from '../shared/http/routes';
import { PipelineAlarms } from './alarms';
import { AppFunction } from './app-function';
import { PipelineDashboard } from './dashboard';
import { ConnectLinkKey } from './connect-link-key';
import { DataTables } from './data-tables';
import { EncryptionKey } from './encryption-key';
import { WebhookApi } from './http-api';
import { LogDataProtection } from './log-data-protection';
import { acknowledgeNagFindings, type NagAcknowledgement } from './nag';
import { TraceSampling } from './trace-sampling';
import {
  BACKFILL_CONCURRENCY,
  BACKFILL_MAX_AGE,
  DRCHRONO_BASE_URL,
  INGEST_MAX_AGE,
  INTEGRATION_LOG_TTL_DAYS,
  OAUTH_CONCURRENCY,
  RECONCILE_RATE,
  SCHEDULED_CONCURRENCY,
  stackTags,
  stageSettings,
  SYNC_CONCURRENCY,
  TOKEN_REFRESH_RATE,
  TOKEN_REFRESH_WINDOW_MINUTES,
  UNTAGGED_RESOURCE_TYPES,
  WRITE_API_CONCURRENCY,
  WRITE_BACK_CONCURRENCY,
  WRITE_BACK_MAX_AGE,
  type DeployStage,
  type FunctionName,
} from './secure-defaults';
import { WorkQueue } from './work-queue';

export interface DrChronoSyncStackProps extends StackProps {
  stage: DeployStage;
  /** Repository root (esbuild project root, lock file). */
  repoRoot: string;
  /** Directory holding `<function>/handler.ts`; defaults to `<repoRoot>/functions`. */
  functionsDir?: string;
}

/** The whole product in one stack: HTTP API -> webhook -> ingest queue -> sync -> DynamoDB, plus OAuth and jobs. */
export class DrChronoSyncStack extends Stack {
  readonly stage: DeployStage;
  readonly names: ResourceNames;
  readonly encryptionKey: EncryptionKey;
  readonly tables: DataTables;
  readonly ingest: WorkQueue;
  readonly backfillQueue: WorkQueue;
  /** FIFO: one message group per record (shared/write-back/change.ts changeGroupId). */
  readonly writeBackQueue: WorkQueue;
  readonly functions: Record<FunctionName, AppFunction>;
  readonly httpApi: WebhookApi;
  readonly logDataProtection: LogDataProtection;
  readonly connectLinkKey: ConnectLinkKey;
  readonly alarms: PipelineAlarms;
  readonly dashboard: PipelineDashboard;
  /** X-Ray sampling of the functions' traces (lib/trace-sampling.ts). */
  readonly traceSampling: TraceSampling;
  readonly schedules: { tokenRefresh: Rule; reconcile: Rule };
  /** Accepted cdk-nag findings, one per resource and rule (lib/nag.ts). */
  readonly nagAcknowledgements: NagAcknowledgement[];

  constructor(scope: Construct, id: string, props: DrChronoSyncStackProps) {
    super(scope, id, props);
    this.stage = props.stage;
    this.names = resourceNames(props.stage);
    const settings = stageSettings(props.stage);
    const functionsDir = props.functionsDir ?? path.join(props.repoRoot, 'functions');
    // Not on the dashboard: several regions' schemas (us-east-1 included) have no Tags on it (secure-defaults).
    for (const [key, value] of Object.entries(stackTags(props.stage))) {
      Tags.of(this).add(key, value, { excludeResourceTypes: UNTAGGED_RESOURCE_TYPES });
    }

    this.encryptionKey = new EncryptionKey(this, 'Encryption', { stage: props.stage, removalPolicy: settings.removalPolicy });
    const key = this.encryptionKey.key;
    const stateful = { key, removalPolicy: settings.removalPolicy };

    this.logDataProtection = new LogDataProtection(this, 'LogDataProtection', {
      ...stateful,
      stage: props.stage,
      logRetention: settings.logRetention,
    });
    this.tables = new DataTables(this, 'Tables', {
      ...stateful,
      names: this.names,
      deletionProtection: settings.deletionProtection,
    });
    this.ingest = new WorkQueue(this, 'Ingest', {
      ...stateful,
      queueName: this.names.ingestQueue,
      dlqName: this.names.ingestDlq,
      settings: INGEST_QUEUE,
    });
    this.backfillQueue = new WorkQueue(this, 'Backfill', {
      ...stateful,
      queueName: this.names.backfillQueue,
      dlqName: this.names.backfillDlq,
      settings: BACKFILL_QUEUE,
    });
    this.writeBackQueue = new WorkQueue(this, 'WriteBack', {
      ...stateful,
      queueName: this.names.writeBackQueue,
      dlqName: this.names.writeBackDlq,
      settings: WRITE_BACK_QUEUE,
      fifo: true,
    });

    // The API exists before the functions so the OAuth redirect URI can be an env var; routes come after.
    this.httpApi = new WebhookApi(this, 'Http', {
      ...stateful,
      stage: props.stage,
      logRetention: settings.logRetention,
      dataProtectionPolicy: this.logDataProtection.policy,
      rateLimit: settings.apiRateLimit,
      burstLimit: settings.apiBurstLimit,
    });
    const baseUrl = this.httpApi.baseUrl;

    const make = (name: FunctionName, id: string, reservedConcurrency: number, environment: Record<string, string>) =>
      new AppFunction(this, id, {
        ...stateful,
        name,
        stage: props.stage,
        functionsDir,
        repoRoot: props.repoRoot,
        logRetention: settings.logRetention,
        dataProtectionPolicy: this.logDataProtection.policy,
        reservedConcurrency,
        environment: { TEAMS_TABLE: this.names.teamsTable, ...environment },
      });

    const secretPrefix = this.names.teamSecretPrefix;
    this.connectLinkKey = new ConnectLinkKey(this, 'ConnectLinkKey', { ...stateful, secretName: this.names.connectLinkKeySecret });
    const webhook = make('webhook', 'Webhook', settings.webhookConcurrency, {
      INGEST_QUEUE_URL: this.ingest.queue.queueUrl,
      TEAM_SECRET_PREFIX: secretPrefix,
    });
    // Reads a team (does it exist) and bumps its delivery counters: no Scan, Query, Put, Delete or batch.
    webhook.allowTable(this.tables.teams, ['GetItem', 'UpdateItem']);
    webhook.allowTeamSecrets(secretPrefix, ['GetSecretValue']);
    webhook.allowSendTo(this.ingest.queue);

    const oauth = make('oauth', 'OAuth', OAUTH_CONCURRENCY, {
      BACKFILL_QUEUE_URL: this.backfillQueue.queue.queueUrl,
      TEAM_SECRET_PREFIX: secretPrefix,
      DRCHRONO_BASE_URL,
      OAUTH_REDIRECT_URI: oauthRedirectUri(baseUrl),
      CONNECT_LINK_KEY_SECRET_ID: this.connectLinkKey.secret.secretArn,
    });
    // The team by key, the state nonce (Put, consumed by one conditional Delete), leases and the connection by Update.
    oauth.allowTable(this.tables.teams, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']);
    oauth.allowTeamSecrets(secretPrefix, ['GetSecretValue', 'PutSecretValue']);
    // The authorize route verifies connect links (shared/oauth/connect-link.ts): read-only, this one secret.
    this.connectLinkKey.allowRead(oauth);
    oauth.allowSendTo(this.backfillQueue.queue);
    // The write API (docs/write-back.md): behind the IAM authorizer; validates, maps back, stores the change, queues it.
    const writeApi = make('write-api', 'WriteApi', WRITE_API_CONCURRENCY, {
      RECORDS_TABLE: this.names.recordsTable,
      WRITE_BACK_QUEUE_URL: this.writeBackQueue.queue.queueUrl,
      TEAM_SECRET_PREFIX: secretPrefix,
      DRCHRONO_BASE_URL,
    });
    // The team and its change items by key; PutItem stores a change (and a fetched name list), UpdateItem ends an
    // unqueued change failed, charges the API budget and records name-list history. No Scan, Query or Delete.
    writeApi.allowTable(this.tables.teams, ['GetItem', 'PutItem', 'UpdateItem']);
    // Records by key, patients by Chart ID (the keys-only index): read-only.
    writeApi.allowTable(this.tables.records, ['GetItem']);
    writeApi.allowIndexQuery(this.tables.records, RECORDS_CHART_ID_INDEX);
    // The team's token, only for a lookup list the caches do not hold (appointment profiles, offices).
    writeApi.allowTeamSecrets(secretPrefix, ['GetSecretValue']);
    writeApi.allowSendTo(this.writeBackQueue.queue);
    this.httpApi.addRoutes({ webhook: webhook.fn, oauth: oauth.fn, 'write-api': writeApi.fn });

    const tokenRefresh = make('token-refresh', 'TokenRefresh', SCHEDULED_CONCURRENCY, {
      INTEGRATION_LOG_TABLE: this.names.integrationLogTable,
      TEAM_SECRET_PREFIX: secretPrefix,
      DRCHRONO_BASE_URL,
      TOKEN_REFRESH_WINDOW_MINUTES: String(TOKEN_REFRESH_WINDOW_MINUTES),
      INTEGRATION_LOG_TTL_DAYS: String(INTEGRATION_LOG_TTL_DAYS),
    });
    // Due teams come from the sparse expiry index; leases and token versions are conditional UpdateItems.
    tokenRefresh.allowTable(this.tables.teams, ['UpdateItem']);
    tokenRefresh.allowIndexQuery(this.tables.teams, TEAMS_TOKEN_EXPIRY_INDEX);
    tokenRefresh.allowTable(this.tables.integrationLog, ['PutItem']);
    tokenRefresh.allowTeamSecrets(secretPrefix, ['GetSecretValue', 'PutSecretValue']);

    const dataEnv = {
      RECORDS_TABLE: this.names.recordsTable,
      INTEGRATION_LOG_TABLE: this.names.integrationLogTable,
      DRCHRONO_BASE_URL,
      INTEGRATION_LOG_TTL_DAYS: String(INTEGRATION_LOG_TTL_DAYS),
    };

    const sync = make('sync', 'Sync', SYNC_CONCURRENCY, {
      ...dataEnv,
      TEAM_SECRET_PREFIX: secretPrefix,
      INGEST_QUEUE_URL: this.ingest.queue.queueUrl,
    });
    // One team's items by key: no Scan or Query of the PHI tables, and the log is written, never read.
    sync.allowTable(this.tables.teams, ['GetItem', 'PutItem', 'UpdateItem']);
    sync.allowTable(this.tables.records, ['GetItem', 'PutItem', 'UpdateItem']);
    // A patient's Chart ID change reaches its appointments (shared/store/patient-references.ts).
    sync.allowQueryPartitions(this.tables.records, ['*#appointment']);
    sync.allowTable(this.tables.integrationLog, ['PutItem']);
    sync.allowTeamSecrets(secretPrefix, ['GetSecretValue']);
    // A deferred message is re-sent as a copy when its receive count nears the DLQ limit (shared/sync/deferral).
    sync.allowSendTo(this.ingest.queue);
    sync.fn.addEventSource(
      new SqsEventSource(this.ingest.queue, {
        batchSize: INGEST_QUEUE.batchSize,
        maxBatchingWindow: Duration.seconds(INGEST_QUEUE.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: SYNC_CONCURRENCY,
      }),
    );

    const backfill = make('backfill', 'BackfillWorker', BACKFILL_CONCURRENCY, {
      ...dataEnv,
      BACKFILL_QUEUE_URL: this.backfillQueue.queue.queueUrl,
      TEAM_SECRET_PREFIX: secretPrefix,
    });
    backfill.allowTable(this.tables.teams, ['GetItem', 'PutItem', 'UpdateItem']);
    backfill.allowTable(this.tables.records, ['GetItem', 'PutItem', 'UpdateItem']);
    // Query on the table itself, two partition kinds only: appointments (the Chart ID fan-out,
    // shared/store/patient-references) and patients (the deletion check lists one team's stored patient ids).
    backfill.allowQueryPartitions(this.tables.records, ['*#appointment', '*#patient']);
    backfill.allowTable(this.tables.integrationLog, ['PutItem']);
    backfill.allowTeamSecrets(secretPrefix, ['GetSecretValue']);
    // Objects go through the sync path in-process (shared/team-job/import-objects), not the ingest queue.
    backfill.allowSendTo(this.backfillQueue.queue);
    backfill.fn.addEventSource(
      new SqsEventSource(this.backfillQueue.queue, {
        batchSize: BACKFILL_QUEUE.batchSize,
        ...(BACKFILL_QUEUE.maxBatchingWindowSeconds > 0
          ? { maxBatchingWindow: Duration.seconds(BACKFILL_QUEUE.maxBatchingWindowSeconds) }
          : {}),
        reportBatchItemFailures: true,
        maxConcurrency: BACKFILL_CONCURRENCY,
      }),
    );

    // Applies queued changes to DrChrono and writes DrChrono's state through the sync's record path (docs/write-back.md).
    const writeBack = make('write-back', 'WriteBackWorker', WRITE_BACK_CONCURRENCY, {
      ...dataEnv,
      TEAM_SECRET_PREFIX: secretPrefix,
      WRITE_BACK_QUEUE_URL: this.writeBackQueue.queue.queueUrl,
    });
    // The team, budget counter, change items and name caches by key; records as the sync writes them.
    writeBack.allowTable(this.tables.teams, ['GetItem', 'PutItem', 'UpdateItem']);
    writeBack.allowTable(this.tables.records, ['GetItem', 'PutItem', 'UpdateItem']);
    writeBack.allowQueryPartitions(this.tables.records, ['*#appointment']);
    writeBack.allowTable(this.tables.integrationLog, ['PutItem']);
    writeBack.allowTeamSecrets(secretPrefix, ['GetSecretValue']);
    // FIFO: no batching window; a deferred change is hidden again on its own receipt (ChangeMessageVisibility, part of the event source's grant).
    writeBack.fn.addEventSource(
      new SqsEventSource(this.writeBackQueue.queue, {
        batchSize: WRITE_BACK_QUEUE.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: WRITE_BACK_CONCURRENCY,
      }),
    );

    // Reconcile only lists connected teams and enqueues one work item each; the backfill worker does the fetching.
    // It also rolls up every team's webhook counts from the integration log (shared/teams/webhook-counts.ts).
    const reconcile = make('reconcile', 'Reconcile', SCHEDULED_CONCURRENCY, {
      BACKFILL_QUEUE_URL: this.backfillQueue.queue.queueUrl,
      INTEGRATION_LOG_TABLE: this.names.integrationLogTable,
    });
    // Scan lists the teams; GetItem reads a team's backfill job and API budget.
    reconcile.allowTable(this.tables.teams, ['Scan', 'GetItem']);
    // UpdateItem (conditional on the roll-up watermark) folds settled webhook counts into a team item: only the
    // roll-up's attributes, returning nothing, so reconcile cannot rewrite a team's status, connection or settings.
    reconcile.allowUpdateAttributes(this.tables.teams, WEBHOOK_ROLL_UP_TEAM_ATTRIBUTES);
    // Query reads one team's log items after its watermark, and only the count attributes (wn, wl): never an
    // entry, a field list or an error message of the log. The table itself, no index.
    reconcile.allowQueryAttributes(this.tables.integrationLog, WEBHOOK_COUNT_LOG_ATTRIBUTES);
    reconcile.allowSendTo(this.backfillQueue.queue);

    this.schedules = {
      tokenRefresh: new Rule(this, 'TokenRefreshSchedule', {
        ruleName: `drchrono-sync-${props.stage}-token-refresh`,
        description: 'Refresh DrChrono tokens that expire within the window',
        schedule: Schedule.rate(TOKEN_REFRESH_RATE),
        targets: [new LambdaFunction(tokenRefresh.fn, { retryAttempts: 2 })],
      }),
      reconcile: new Rule(this, 'ReconcileSchedule', {
        ruleName: `drchrono-sync-${props.stage}-reconcile`,
        description: 'Catch changes whose webhooks never arrived',
        schedule: Schedule.rate(RECONCILE_RATE),
        targets: [new LambdaFunction(reconcile.fn, { retryAttempts: 2 })],
      }),
    };

    this.functions = { webhook, oauth, 'token-refresh': tokenRefresh, sync, backfill, reconcile, 'write-api': writeApi, 'write-back': writeBack };
    const functionList = Object.values(this.functions);

    const queues = [
      { name: 'Ingest', queue: this.ingest, maxAge: INGEST_MAX_AGE },
      { name: 'Backfill', queue: this.backfillQueue, maxAge: BACKFILL_MAX_AGE },
      { name: 'WriteBack', queue: this.writeBackQueue, maxAge: WRITE_BACK_MAX_AGE },
    ];
    this.alarms = new PipelineAlarms(this, 'Alarms', {
      stage: props.stage,
      key,
      queues,
      functions: functionList,
      api: this.httpApi.api,
    });
    this.dashboard = new PipelineDashboard(this, 'Dashboard', {
      stage: props.stage,
      api: this.httpApi.api,
      queues,
      functions: functionList,
      alarms: this.alarms.alarms,
    });

    this.traceSampling = new TraceSampling(this, 'TraceSampling', { stage: props.stage });

    const outputs: Record<string, { value: string; description: string }> = {
      ApiBaseUrl: { value: baseUrl, description: 'Base URL of the HTTP API' },
      WebhookUrlTemplate: {
        value: `${baseUrl}${WEBHOOK_PATH_TEMPLATE}`,
        description: 'Webhook URL to register in DrChrono; replace {teamId}',
      },
      OAuthRedirectUri: { value: oauthRedirectUri(baseUrl), description: 'Redirect URI to register in the DrChrono API app' },
      TeamsTableName: { value: this.tables.teams.table.tableName, description: 'Teams table' },
      RecordsTableName: { value: this.tables.records.table.tableName, description: 'Synced records table' },
      IntegrationLogTableName: { value: this.tables.integrationLog.table.tableName, description: 'Integration log table' },
      IngestQueueUrl: { value: this.ingest.queue.queueUrl, description: 'Ingest queue (webhook -> sync)' },
      BackfillQueueUrl: { value: this.backfillQueue.queue.queueUrl, description: 'Backfill work queue' },
      WriteBackQueueUrl: { value: this.writeBackQueue.queue.queueUrl, description: 'Write-back FIFO queue (write API -> write-back)' },
      WriteApiInvokeArn: {
        value: this.formatArn({ service: 'execute-api', resource: this.httpApi.api.apiId, resourceName: '*/*/teams/*' }),
        description: 'Resource of the execute-api:Invoke grant an app needs for the write API (docs/write-back.md)',
      },
      TeamSecretPrefix: { value: secretPrefix, description: 'Secrets Manager name prefix of team secrets' },
      TeamSecretsKmsKeyArn: { value: key.keyArn, description: 'KMS key the CLI must create team secrets with' },
      ConnectLinkKeySecretName: { value: this.names.connectLinkKeySecret, description: 'Secret holding the connect-link signing keys (connect-key rotate)' },
      AlarmTopicArn: { value: this.alarms.topic.topicArn, description: 'SNS topic of every alarm; subscribe on-call here' },
      DashboardName: { value: this.dashboard.dashboardName, description: 'CloudWatch dashboard of the pipeline' },
    };
    for (const [name, o] of Object.entries(outputs)) new CfnOutput(this, name, o);

    this.nagAcknowledgements = acknowledgeNagFindings(this);
  }
}
