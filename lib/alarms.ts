import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AppFunction } from './app-function';
import {
  METRIC_DELETION_CHECK_BLOCKED,
  METRIC_TEAMS_REAUTH_REQUIRED,
  METRIC_TOKEN_SECRET_BEHIND,
  METRIC_TOKEN_REFRESH_FAILED,
  METRICS_NAMESPACE,
  type FunctionName,
} from './secure-defaults';
import type { WorkQueue } from './work-queue';

export interface PipelineAlarmsProps {
  stage: string;
  key: IKey;
  queues: { name: string; queue: WorkQueue; maxAge: Duration }[];
  functions: AppFunction[];
  api: HttpApi;
}

const PERIOD = Duration.minutes(5);

/** A custom metric a function emits through Powertools Metrics (dimension `service` = the function's name). */
export function customMetric(metricName: string, emitter: FunctionName, statistic: 'Sum' | 'Maximum'): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: emitter },
    statistic,
    period: PERIOD,
  });
}

/**
 * Every alarm the on-call engineer gets, all sent to one KMS-encrypted SNS topic (subscribe an e-mail to it,
 * see docs/deploy.md). Each alarm's description says what to do.
 */
export class PipelineAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    this.prefix = `drchrono-sync-${props.stage}`;
    this.topic = new Topic(this, 'Topic', {
      topicName: `${this.prefix}-alarms`,
      displayName: `drchrono-sync ${props.stage} alarms`,
      masterKey: props.key,
      enforceSSL: true,
    });

    for (const { name, queue, maxAge } of props.queues) {
      this.add(`${name}DlqNotEmpty`, {
        metric: queue.dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD }),
        threshold: 1,
        description: `${name} DLQ has messages: deliveries failed every retry. Read the integration log for the team, fix, then redrive the DLQ.`,
      });
      this.add(`${name}OldestMessageTooOld`, {
        metric: queue.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: PERIOD }),
        threshold: maxAge.toSeconds(),
        description: `${name} queue: oldest message older than ${maxAge.toHumanString()}. Check the consumer's errors, throttles and the DrChrono API budget.`,
      });
    }

    for (const f of props.functions) {
      this.add(`${f.node.id}Errors`, {
        metric: f.fn.metricErrors({ statistic: 'Sum', period: PERIOD }),
        threshold: 1,
        description: `${f.functionName} failed invocations. Read its log group for the error class; the request id links to the X-Ray trace.`,
      });
      this.add(`${f.node.id}Throttles`, {
        metric: f.fn.metricThrottles({ statistic: 'Sum', period: PERIOD }),
        threshold: 1,
        description: `${f.functionName} throttled at its reserved concurrency. Expected briefly during bursts; sustained means raise the limit (see docs/deploy.md).`,
      });
    }

    this.add('TokenRefreshFailed', {
      metric: customMetric(METRIC_TOKEN_REFRESH_FAILED, 'token-refresh', 'Sum'),
      threshold: 1,
      description: 'A DrChrono token refresh failed. The next run retries in 15 min; repeated failures lead to re-authorisation.',
    });
    this.add('TeamsReauthorizationRequired', {
      metric: customMetric(METRIC_TEAMS_REAUTH_REQUIRED, 'token-refresh', 'Maximum'),
      threshold: 1,
      description: 'A team lost its DrChrono grant (invalid_grant). Find teams with status reauthorization_required and send each clinic <ApiBaseUrl>/integration-oauth/authorize/<teamId>.',
    });
    this.add('TokenSecretBehind', {
      metric: customMetric(METRIC_TOKEN_SECRET_BEHIND, 'token-refresh', 'Sum'),
      threshold: 1,
      description: 'A team secret held an older tokenVersion than its team item: a token write was lost or overtaken. The refresher refreshed at once; if that ends in invalid_grant the clinic must reconnect (docs/oauth.md, Who writes the tokens).',
    });
    this.add('DeletionCheckBlocked', {
      metric: customMetric(METRIC_DELETION_CHECK_BLOCKED, 'backfill', 'Sum'),
      threshold: 1,
      description: 'The deletion check found too many stored patients missing from DrChrono and tombstoned none. Check the DrChrono account the team is connected with (docs/backfill.md, Deletion check).',
    });
    this.add('Api5xx', {
      metric: props.api.metricServerError({ statistic: 'Sum', period: PERIOD }),
      threshold: 1,
      description: 'The HTTP API returned 5xx. Bad input is always 4xx, so this is a bug or an outage: check the webhook and oauth function errors.',
    });
  }

  private add(id: string, opts: { metric: IMetric; threshold: number; description: string }): void {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.prefix}-${id}`,
      alarmDescription: opts.description,
      metric: opts.metric,
      threshold: opts.threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}
