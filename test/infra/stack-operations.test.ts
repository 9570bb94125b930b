import { ACCESS_LOG_FIELDS } from '../../lib/http-api';
import { stageSettings } from '../../lib/secure-defaults';
import { logicalIdOf, resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

describe.each(['dev', 'prod'] as const)('operations (%s)', (stage) => {
  let s: SynthesizedStack;
  let topicRef: { Ref: string };
  beforeAll(() => {
    s = synthStack(stage);
    topicRef = { Ref: logicalIdOf(s.stack, s.stack.alarms.topic) };
  });
  const alarms = () => Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
  const alarmNamed = (suffix: string) => {
    const found = alarms().filter((a) => a.Properties?.AlarmName === `drchrono-sync-${stage}-${suffix}`);
    expect(found).toHaveLength(1);
    return found[0]?.Properties as Record<string, unknown>;
  };

  it('sends every alarm, and its recovery, to the alarm topic', () => {
    expect(alarms().length).toBeGreaterThan(0);
    for (const a of alarms()) {
      expect(a.Properties?.AlarmActions).toEqual([topicRef]);
      expect(a.Properties?.OKActions).toEqual([topicRef]);
    }
  });

  it('exposes the alarm topic as the AlarmTopicArn output', () => {
    s.template.hasOutput('AlarmTopicArn', { Value: topicRef });
  });

  it.each(['Ingest', 'Backfill'])('alarms when the %s DLQ has messages', (queue) => {
    const target = queue === 'Ingest' ? s.stack.ingest : s.stack.backfillQueue;
    expect(alarmNamed(`${queue}DlqNotEmpty`)).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(s.stack, target.dlq), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it.each(['Ingest', 'Backfill'])('alarms when the oldest %s message is too old', (queue) => {
    expect(alarmNamed(`${queue}OldestMessageTooOld`)).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Namespace: 'AWS/SQS',
    });
  });

  it('alarms on errors and throttles of every function', () => {
    for (const id of ['Webhook', 'OAuth', 'TokenRefresh', 'Sync', 'BackfillWorker', 'Reconcile']) {
      const fnRef = { Ref: logicalIdOf(s.stack, s.stack.node.findChild(id).node.findChild('Function')) };
      for (const metric of ['Errors', 'Throttles']) {
        expect(alarmNamed(`${id}${metric}`)).toMatchObject({
          MetricName: metric,
          Namespace: 'AWS/Lambda',
          Dimensions: [{ Name: 'FunctionName', Value: fnRef }],
        });
      }
    }
  });

  it.each([
    ['TokenRefreshFailed', 'TokenRefreshFailed', 'token-refresh'],
    ['TeamsReauthorizationRequired', 'TeamsReauthorizationRequired', 'token-refresh'],
    ['TokenSecretBehind', 'TokenSecretBehind', 'token-refresh'],
    ['DeletionCheckBlocked', 'DeletionCheckBlocked', 'backfill'],
  ])('alarms on the custom metric %s', (alarm, metric, service) => {
    expect(alarmNamed(alarm)).toMatchObject({
      MetricName: metric,
      Namespace: 'DrChronoSync',
      // Powertools puts POWERTOOLS_SERVICE_NAME (the function name) in the `service` dimension.
      Dimensions: [{ Name: 'service', Value: service }],
      Threshold: 1,
    });
  });

  it('alarms on HTTP API 5xx', () => {
    expect(alarmNamed('Api5xx')).toMatchObject({
      MetricName: '5xx',
      Namespace: 'AWS/ApiGateway',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: logicalIdOf(s.stack, s.stack.httpApi.api) } }],
    });
  });

  it('has a pipeline dashboard named after the stage', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `drchrono-sync-${stage}` });
  });

  it('writes structured access logs without bodies to an encrypted log group, and throttles the stage', () => {
    const settings = stageSettings(stage);
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.httpApi.accessLogGroup), 'Arn'] },
        Format: JSON.stringify(ACCESS_LOG_FIELDS),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: settings.apiRateLimit, ThrottlingBurstLimit: settings.apiBurstLimit },
    });
    const format = ACCESS_LOG_FIELDS;
    expect(Object.keys(format)).toEqual(
      expect.arrayContaining(['requestId', 'time', 'ip', 'routeKey', 'status', 'latency', 'integrationError']),
    );
    // Nothing that could carry PHI or secrets: bodies, headers, query strings, raw paths.
    expect(Object.values(format).join(' ')).not.toMatch(/body|header|querystring|\.path\b|authorizer/i);
  });

  it('attaches the health-identifier data protection policy to every function log group and the access log', () => {
    const protectedGroups = [...Object.values(s.stack.functions).map((f) => f.logGroup), s.stack.httpApi.accessLogGroup];
    for (const group of protectedGroups) {
      const props = s.template.toJSON().Resources[logicalIdOf(s.stack, group)].Properties;
      expect(props.DataProtectionPolicy).toBeDefined();
      const identifiers = JSON.stringify(props.DataProtectionPolicy.Statement);
      for (const id of ['HealthInsuranceClaimNumber-US', 'MedicareBeneficiaryNumber-US', 'NationalProviderId-US', 'Ssn-US']) {
        expect(identifiers).toContain(id);
      }
      const operations = (props.DataProtectionPolicy.Statement as { Operation: Record<string, unknown> }[]).map((st) => Object.keys(st.Operation)[0]);
      expect(operations).toEqual(['Audit', 'Deidentify']);
    }
  });
});
