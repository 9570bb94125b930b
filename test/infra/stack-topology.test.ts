import { Match } from 'aws-cdk-lib/assertions';
import {
  BURST_SHARE_OF_BUDGET,
  DRCHRONO_HOURLY_BUDGET,
  FUNCTION_SIZING,
  parseDeployStage,
  SYNC_CONCURRENCY,
  type FunctionName,
} from '../../lib/secure-defaults';
import * as z from 'zod/mini';
import { IntegrationLogTtlDaysSchema } from '../../shared/config/integration-log-ttl';
import { BACKFILL_QUEUE, INGEST_QUEUE, WRITE_BACK_QUEUE } from '../../shared/config/queue-settings';
import { resourceNames } from '../../shared/config/resource-names';
import { ROUTES } from '../../shared/http/routes';
import { logicalIdOf, resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

/** docs/architecture.md "Environment variables (Lambda contract)", per function. */
const ENV_CONTRACT: Record<FunctionName, string[]> = {
  webhook: ['INGEST_QUEUE_URL', 'TEAM_SECRET_PREFIX'],
  oauth: ['BACKFILL_QUEUE_URL', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL', 'OAUTH_REDIRECT_URI'],
  'token-refresh': ['INTEGRATION_LOG_TABLE', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL', 'TOKEN_REFRESH_WINDOW_MINUTES'],
  sync: ['RECORDS_TABLE', 'INTEGRATION_LOG_TABLE', 'INGEST_QUEUE_URL', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL', 'INTEGRATION_LOG_TTL_DAYS'],
  backfill: ['RECORDS_TABLE', 'INTEGRATION_LOG_TABLE', 'BACKFILL_QUEUE_URL', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL'],
  reconcile: ['BACKFILL_QUEUE_URL', 'INTEGRATION_LOG_TABLE'],
  'write-api': ['RECORDS_TABLE', 'WRITE_BACK_QUEUE_URL', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL'],
  'write-back': ['RECORDS_TABLE', 'INTEGRATION_LOG_TABLE', 'WRITE_BACK_QUEUE_URL', 'TEAM_SECRET_PREFIX', 'DRCHRONO_BASE_URL', 'INTEGRATION_LOG_TTL_DAYS'],
};
const ENV_ALL = ['STAGE', 'TEAMS_TABLE', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE'];

const OUTPUT_KEYS = [
  'ApiBaseUrl',
  'WebhookUrlTemplate',
  'OAuthRedirectUri',
  'TeamsTableName',
  'RecordsTableName',
  'IntegrationLogTableName',
  'IngestQueueUrl',
  'BackfillQueueUrl',
  'WriteBackQueueUrl',
  'WriteApiInvokeArn',
  'ConnectLinkKeySecretName',
  'TeamSecretPrefix',
  'TeamSecretsKmsKeyArn',
  'AlarmTopicArn',
  'DashboardName',
];

describe('stage from context', () => {
  it('defaults to dev when no stage is given', () => {
    expect(parseDeployStage(undefined)).toBe('dev');
  });
  it('rejects a stage other than dev or prod', () => {
    expect(() => parseDeployStage('staging')).toThrow('pass -c stage=dev or -c stage=prod');
  });
});

describe.each(['dev', 'prod'] as const)('topology (%s)', (stage) => {
  let s: SynthesizedStack;
  const names = resourceNames(stage);
  beforeAll(() => {
    s = synthStack(stage);
  });
  const fnId = (name: FunctionName) => logicalIdOf(s.stack, s.stack.functions[name].fn);

  it('serves every route of shared/http/routes.ts, each integrated with its own function', () => {
    const routes = Object.values(resourcesOfType(s.template, 'AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties?.RouteKey).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const integrations = resourcesOfType(s.template, 'AWS::ApiGatewayV2::Integration');
    for (const route of ROUTES) {
      const cfn = routes.find((r) => r.Properties?.RouteKey === `${route.method} ${route.path}`);
      const target = JSON.stringify(cfn?.Properties?.Target);
      const integrationId = Object.keys(integrations).find((id) => target.includes(id));
      expect(integrationId).toBeDefined();
      expect(JSON.stringify(integrations[integrationId as string]?.Properties?.IntegrationUri)).toContain(fnId(route.fn));
    }
  });

  it('routes every method API Gateway can route on the webhook path to the webhook function (it answers 405 to all but GET and POST)', () => {
    const routes = Object.values(resourcesOfType(s.template, 'AWS::ApiGatewayV2::Route'));
    const webhookKeys = routes.map((r) => String(r.Properties?.RouteKey)).filter((k) => k.endsWith(' /drchronowebhook/{teamId}'));
    expect(webhookKeys.sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'].map((m) => `${m} /drchronowebhook/{teamId}`));
    // No ANY route and no CORS preflight answered by API Gateway itself: OPTIONS reaches the function too.
    expect(routes.some((r) => String(r.Properties?.RouteKey).startsWith('ANY '))).toBe(false);
    for (const api of Object.values(resourcesOfType(s.template, 'AWS::ApiGatewayV2::Api'))) expect(api.Properties?.CorsConfiguration).toBeUndefined();
    const fnArn = JSON.stringify({ 'Fn::GetAtt': [fnId('webhook'), 'Arn'] });
    const invokePermissions = Object.values(resourcesOfType(s.template, 'AWS::Lambda::Permission')).filter(
      (p) => JSON.stringify(p.Properties?.FunctionName) === fnArn && p.Properties?.Principal === 'apigateway.amazonaws.com',
    );
    expect(invokePermissions.length).toBeGreaterThanOrEqual(1);
    for (const p of invokePermissions) expect(JSON.stringify(p.Properties?.SourceArn)).toContain('/drchronowebhook/{teamId}');
  });

  it('puts every write API route, refused methods included, behind the IAM authorizer, and no webhook or OAuth route', () => {
    const routes = Object.values(resourcesOfType(s.template, 'AWS::ApiGatewayV2::Route'));
    for (const route of ROUTES) {
      const cfn = routes.find((r) => r.Properties?.RouteKey === `${route.method} ${route.path}`);
      expect([route.method, route.path, cfn?.Properties?.AuthorizationType ?? 'NONE']).toEqual([route.method, route.path, route.fn === 'write-api' ? 'AWS_IAM' : 'NONE']);
    }
    expect(ROUTES.filter((r) => r.fn === 'write-api').length).toBe(4 * 7);
  });

  it('makes the write-back queue and its DLQ FIFO, deduplicated by the sender\'s id, KMS-encrypted', () => {
    const dlqId = logicalIdOf(s.stack, s.stack.writeBackQueue.dlq);
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: names.writeBackQueue,
      FifoQueue: true,
      ContentBasedDeduplication: false,
      VisibilityTimeout: WRITE_BACK_QUEUE.visibilityTimeoutSeconds,
      KmsMasterKeyId: Match.anyValue(),
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: WRITE_BACK_QUEUE.maxReceiveCount },
    });
    s.template.hasResourceProperties('AWS::SQS::Queue', { QueueName: names.writeBackDlq, FifoQueue: true, KmsMasterKeyId: Match.anyValue() });
  });

  it('feeds the write-back function from the FIFO queue with partial batch failures and no batching window', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('write-back') },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.writeBackQueue.queue), 'Arn'] },
      BatchSize: WRITE_BACK_QUEUE.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    expect(WRITE_BACK_QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * FUNCTION_SIZING['write-back'].timeout.toSeconds());
  });

  it('alarms when the write-back DLQ holds a message', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.writeBackQueue.dlq), 'QueueName'] } }],
      Threshold: 1,
    });
  });

  it.each([
    ['ingest', () => s.stack.ingest, INGEST_QUEUE, names.ingestQueue, names.ingestDlq],
    ['backfill', () => s.stack.backfillQueue, BACKFILL_QUEUE, names.backfillQueue, names.backfillDlq],
  ] as const)('redrives the %s queue to its DLQ after maxReceiveCount', (_n, queue, settings, queueName, dlqName) => {
    const dlqId = logicalIdOf(s.stack, queue().dlq);
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: queueName,
      VisibilityTimeout: settings.visibilityTimeoutSeconds,
      MessageRetentionPeriod: settings.retentionPeriodSeconds,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: settings.maxReceiveCount },
    });
    s.template.hasResourceProperties('AWS::SQS::Queue', { QueueName: dlqName, MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('keeps each queue visible for at least 6 times its consumer\'s timeout', () => {
    expect(INGEST_QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * FUNCTION_SIZING.sync.timeout.toSeconds());
    expect(BACKFILL_QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * FUNCTION_SIZING.backfill.timeout.toSeconds());
  });

  it('runs every function on arm64 with active tracing, JSON logs, its documented size and reserved concurrency', () => {
    for (const name of Object.keys(s.stack.functions) as FunctionName[]) {
      const fn = s.template.toJSON().Resources[fnId(name)];
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs24.x',
        TracingConfig: { Mode: 'Active' },
        MemorySize: FUNCTION_SIZING[name].memoryMb,
        Timeout: FUNCTION_SIZING[name].timeout.toSeconds(),
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logicalIdOf(s.stack, s.stack.functions[name].logGroup) } },
      });
      expect(fn.Properties.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(1);
    }
  });

  it('sizes the sync function\'s concurrency to the DrChrono budget and reports partial batch failures', () => {
    expect(s.template.toJSON().Resources[fnId('sync')].Properties.ReservedConcurrentExecutions).toBe(SYNC_CONCURRENCY);
    // At most one DrChrono call per record: the calls in flight stay within the burst share of an hour's budget.
    expect(SYNC_CONCURRENCY * INGEST_QUEUE.batchSize).toBeLessThanOrEqual(DRCHRONO_HOURLY_BUDGET * BURST_SHARE_OF_BUDGET);
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('sync') },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.ingest.queue), 'Arn'] },
      BatchSize: INGEST_QUEUE.batchSize,
      MaximumBatchingWindowInSeconds: INGEST_QUEUE.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: SYNC_CONCURRENCY },
    });
  });

  it('feeds the backfill function from its own work queue with partial batch failures', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('backfill') },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.backfillQueue.queue), 'Arn'] },
      BatchSize: BACKFILL_QUEUE.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it.each([
    ['token-refresh', 'rate(15 minutes)'],
    ['reconcile', 'rate(1 hour)'],
  ] as const)('schedules %s at %s', (name, expression) => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: expression,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(name), 'Arn'] } })],
    });
  });

  it('gives each function the environment variables of the architecture contract', () => {
    for (const name of Object.keys(ENV_CONTRACT) as FunctionName[]) {
      const vars = s.template.toJSON().Resources[fnId(name)].Properties.Environment.Variables as Record<string, unknown>;
      for (const key of [...ENV_ALL, ...ENV_CONTRACT[name]]) expect([name, key, vars[key]]).toEqual([name, key, expect.anything()]);
      expect(vars.STAGE).toBe(stage);
      expect(vars.POWERTOOLS_SERVICE_NAME).toBe(name);
      expect(vars.POWERTOOLS_METRICS_NAMESPACE).toBe('DrChronoSync');
      expect(vars.TEAMS_TABLE).toBe(names.teamsTable);
      if ('TEAM_SECRET_PREFIX' in vars) expect(vars.TEAM_SECRET_PREFIX).toBe(names.teamSecretPrefix);
    }
    expect(s.template.toJSON().Resources[fnId('reconcile')].Properties.Environment.Variables.TEAM_SECRET_PREFIX).toBeUndefined();
  });

  it('stamps an INTEGRATION_LOG_TTL_DAYS every function accepts (at least the bound its env schema enforces)', () => {
    for (const name of Object.keys(ENV_CONTRACT) as FunctionName[]) {
      const vars = s.template.toJSON().Resources[fnId(name)].Properties.Environment.Variables as Record<string, unknown>;
      if (!('INTEGRATION_LOG_TTL_DAYS' in vars)) continue;
      expect([name, z.safeParse(IntegrationLogTtlDaysSchema, vars.INTEGRATION_LOG_TTL_DAYS).success]).toEqual([name, true]);
    }
  });

  it('points the OAuth redirect URI at the callback route of this API', () => {
    const vars = s.template.toJSON().Resources[fnId('oauth')].Properties.Environment.Variables;
    const apiId = logicalIdOf(s.stack, s.stack.httpApi.api);
    expect(JSON.stringify(vars.OAUTH_REDIRECT_URI)).toContain(apiId);
    expect(JSON.stringify(vars.OAUTH_REDIRECT_URI)).toContain('/integration-oauth/callback');
  });

  it('builds the tables from shared/config/table-schemas: keys, TTL and indexes', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.teamsTable,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byTokenExpiry', Projection: { ProjectionType: 'KEYS_ONLY' } })],
    });
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.recordsTable,
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byChartId' })],
    });
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.integrationLogTable,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('exports every output the CLI reads', () => {
    expect(Object.keys(s.template.toJSON().Outputs).sort()).toEqual([...OUTPUT_KEYS].sort());
    s.template.hasOutput('TeamSecretPrefix', { Value: names.teamSecretPrefix });
    s.template.hasOutput('TeamSecretsKmsKeyArn', { Value: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.encryptionKey.key), 'Arn'] } });
    s.template.hasOutput('DashboardName', { Value: `drchrono-sync-${stage}` });
  });
});

describe('token refresh capacity', () => {
  it('gives one refresh run time for 10,000 teams at the paced secret-write rate, and ends before the next run', () => {
    const timeout = FUNCTION_SIZING['token-refresh'].timeout.toSeconds();
    // shared/oauth/refresh-sweep paces PutSecretValue at 40/s; 10,000 writes need 250 s plus the handler's 30 s stop margin.
    expect(timeout).toBeGreaterThanOrEqual(10_000 / 40 + 30);
    expect(timeout).toBeLessThan(15 * 60);
  });
});
