import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { AlarmStatusWidget, Dashboard, GraphWidget, TextWidget, type Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { AppFunction } from './app-function';
import { customMetric } from './alarms';
import { METRIC_DELIVERIES_FAILED, METRIC_TEAMS_REAUTH_REQUIRED, METRIC_TOKEN_REFRESH_FAILED } from './secure-defaults';
import type { WorkQueue } from './work-queue';

export interface PipelineDashboardProps {
  stage: string;
  api: HttpApi;
  queues: { name: string; queue: WorkQueue }[];
  functions: AppFunction[];
  alarms: Alarm[];
}

const PERIOD = Duration.minutes(5);

/** One page for the pipeline, in flow order: API -> queues -> functions -> DrChrono health. */
export class PipelineDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    this.dashboardName = `drchrono-sync-${props.stage}`;
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: this.dashboardName });

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# drchrono-sync ${props.stage}\nWebhook -> ingest queue -> sync -> DynamoDB. Runbook: docs/deploy.md#alarms`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 4 }));
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'HTTP API requests and errors',
        left: [props.api.metricCount({ period: PERIOD }), props.api.metricClientError({ period: PERIOD }), props.api.metricServerError({ period: PERIOD })],
        width: 12,
      }),
      new GraphWidget({
        title: 'HTTP API latency p99 (ms)',
        left: [props.api.metricLatency({ statistic: 'p99', period: PERIOD }), props.api.metricIntegrationLatency({ statistic: 'p99', period: PERIOD })],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      ...props.queues.map(
        ({ name, queue }) =>
          new GraphWidget({
            title: `${name} queue depth, DLQ depth and oldest message age`,
            left: [
              queue.queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: `${name} visible` }),
              queue.dlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: `${name} DLQ` }),
            ],
            right: [queue.queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, label: 'oldest (s)' })],
            width: 12,
          }),
      ),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Function errors',
        left: props.functions.map((f) => f.fn.metricErrors({ period: PERIOD, label: f.node.id })),
        width: 8,
      }),
      new GraphWidget({
        title: 'Function throttles',
        left: props.functions.map((f) => f.fn.metricThrottles({ period: PERIOD, label: f.node.id })),
        width: 8,
      }),
      new GraphWidget({
        title: 'Function duration p99 (ms)',
        left: props.functions.map((f) => f.fn.metricDuration({ statistic: 'p99', period: PERIOD, label: f.node.id })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'DrChrono: failed deliveries, token refresh failures, teams needing re-authorisation',
        left: [
          customMetric(METRIC_DELIVERIES_FAILED, 'sync', 'Sum'),
          customMetric(METRIC_TOKEN_REFRESH_FAILED, 'token-refresh', 'Sum'),
          customMetric(METRIC_TEAMS_REAUTH_REQUIRED, 'token-refresh', 'Maximum'),
        ],
        width: 24,
      }),
    );
  }
}
