import type { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, LogGroupLogDestination, type HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type DataProtectionPolicy, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type FunctionName } from '../shared/http/routes';

export interface WebhookApiProps {
  stage: string;
  key: IKey;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  dataProtectionPolicy: DataProtectionPolicy;
  rateLimit: number;
  burstLimit: number;
}

/**
 * Access log line: who called which route, when, the outcome and its latency. No bodies, headers, query strings
 * or paths (the path carries the team id only, but the route key is enough to operate). Every byte is billed at
 * CloudWatch Logs ingestion and scanned by the data protection policy, once per webhook delivery: the time is
 * epoch milliseconds (13 characters, not the 26 of CLF), and the integration latency and response length are left
 * out (the function's own duration is in its metrics; every answer is a short fixed JSON).
 */
export const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  time: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  routeKey: '$context.routeKey',
  status: '$context.status',
  latency: '$context.responseLatency',
  integrationError: '$context.integrationErrorMessage',
};

/** The public HTTP API: one `$default` stage with throttling and structured access logs. */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      apiName: `drchrono-sync-${props.stage}`,
      description: 'DrChrono webhooks, the OAuth connect flow and the write API',
      createDefaultStage: false,
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/apigateway/drchrono-sync-${props.stage}-access`,
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
      dataProtectionPolicy: props.dataProtectionPolicy,
    });

    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

  }

  /**
   * Adds every route of shared/http/routes.ts, one Lambda integration per function. Separate from the
   * constructor because the oauth function needs the API's URL (its redirect URI) before it exists.
   */
  addRoutes(handlers: Record<FunctionName, IFunction>): void {
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    // SigV4 checked by API Gateway (execute-api:Invoke): the write API's callers are IAM principals (docs/write-back.md).
    const iam = new HttpIamAuthorizer();
    for (const route of ROUTES) {
      let integration = integrations.get(route.fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${capitalise(route.fn)}Integration`, handlers[route.fn]);
        integrations.set(route.fn, integration);
      }
      this.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration, ...(route.auth === 'iam' ? { authorizer: iam } : {}) });
    }
  }

  /** Base URL of the deployed stage, without a trailing slash. */
  get baseUrl(): string {
    return this.api.apiEndpoint;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
