import { CfnResource, Validations, type App } from 'aws-cdk-lib';
import { CfnRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { CfnEventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { AppFunction } from './app-function';
import type { DrChronoSyncStack } from './drchrono-sync-stack';
import type { FunctionName } from './secure-defaults';

/** The three rule packs the security review runs. */
export function nagPacks(app: App): NagPack[] {
  return [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new ServerlessChecks(app)];
}

/** Registers the packs on the app: `cdk synth` fails on any unacknowledged finding. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(...nagPacks(app));
}

export interface NagAcknowledgement {
  /** Construct path of the one resource the acknowledgement applies to. */
  resource: string;
  rule: string;
  reason: string;
}

const NO_VPC =
  'Reaches only IAM-authenticated TLS endpoints (DynamoDB, SQS, Secrets Manager, KMS, Logs, X-Ray) and drchrono.com; ' +
  'there is no private resource to protect, and a VPC would add NAT for DrChrono and six interface endpoints.';

const NO_DLQ_BY_TRIGGER: Record<FunctionName, string> = {
  webhook: 'Invoked synchronously by API Gateway: an error returns 5xx and DrChrono retries the delivery. Lambda DLQs apply to async invokes only.',
  oauth: 'Invoked synchronously by API Gateway: an error is shown to the operator, who restarts the connect flow. Lambda DLQs apply to async invokes only.',
  sync: 'Invoked by the SQS event source (synchronous): failed records stay on the ingest queue and move to its DLQ after maxReceiveCount.',
  backfill: 'Invoked by the SQS event source (synchronous): failed records stay on the backfill queue and move to its DLQ after maxReceiveCount.',
  'write-back': 'Invoked by the SQS event source (synchronous): failed records stay on the FIFO write-back queue and move to its DLQ after maxReceiveCount.',
  'write-api': 'Invoked synchronously by API Gateway: an error returns 5xx and the app sends the change again. Lambda DLQs apply to async invokes only.',
  'token-refresh':
    'Invoked by an EventBridge schedule whose event carries no data: Lambda retries twice, the next run is 15 min later, and failures alarm (Errors, TokenRefreshFailed). A DLQ would hold empty ticks.',
  reconcile:
    'Invoked by an hourly EventBridge schedule whose event carries no data: Lambda retries twice, the next run re-covers the window, and failures alarm (Errors). A DLQ would hold empty ticks.',
};

const ROUTE_WITHOUT_AUTHORIZER: Record<string, string> = {
  'GET /drchronowebhook/{teamId}':
    'DrChrono\'s "Verify webhook" handshake sends no credentials an authorizer could check; the handler replies only with HMAC-SHA256(team secret, msg), which proves ownership and reveals nothing.',
  'POST /drchronowebhook/{teamId}':
    'DrChrono authenticates each delivery with the per-team secret in X-drchrono-signature, which the handler checks in constant time before anything else; an authorizer cannot read that secret without a per-request Secrets Manager call.',
  ...Object.fromEntries(
    ['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((m) => [
      `${m} /drchronowebhook/{teamId}`,
      'Exists only so the webhook function can answer 405 with Allow: GET, POST (docs/webhook.md); it reads no secret, queues nothing and returns no data.',
    ]),
  ),
  'GET /integration-oauth/authorize/{teamId}':
    'Browser entry point of the OAuth connect flow: it only redirects to DrChrono\'s consent page with a single-use, browser-bound state; the grant needs the clinic\'s own DrChrono login.',
  'GET /integration-oauth/callback':
    'OAuth redirect target called by the user\'s browser from DrChrono; it is authenticated by the single-use state nonce, bound to the starting browser by an HttpOnly cookie, and the code exchange with the team\'s client secret.',
};

/**
 * Every cdk-nag finding this stack accepts, each on one resource with its reason. Reviewed in one place;
 * docs/deploy.md lists them and test/infra prints them. Anything not here fails `cdk synth`.
 */
export function acknowledgeNagFindings(stack: DrChronoSyncStack): NagAcknowledgement[] {
  const acks: NagAcknowledgement[] = [];
  const ack = (scope: IConstruct, rule: string, reason: string): void => {
    const resource = cfnResourceOf(scope);
    Validations.of(resource).acknowledge({ id: rule, reason });
    acks.push({ resource: resource.node.path, rule, reason });
  };

  for (const [name, f] of Object.entries(stack.functions) as [FunctionName, AppFunction][]) {
    const policy = f.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      ack(policy, 'AwsSolutions-IAM5[Resource::*]', 'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) do not support resource-level permissions; AWS requires "*".');
      ack(policy, 'HIPAA.Security-IAMNoInlinePolicy', 'Generated policy attached to this function\'s own role only (1:1), naming exact actions and resources; a managed policy would only add reuse surface.');
      if (name !== 'reconcile') {
        ack(
          policy,
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${stack.names.teamSecretPrefix}*]`,
          'Team secrets are created at run time by the CLI, one per team, under this stage\'s name prefix; the trailing * also covers the 6-character suffix Secrets Manager appends.',
        );
      }
    }
    ack(f.fn, 'HIPAA.Security-LambdaInsideVPC', NO_VPC);
    ack(f.fn, 'HIPAA.Security-LambdaDLQ', NO_DLQ_BY_TRIGGER[name]);
    ack(f.fn, 'Serverless-LambdaDLQ', NO_DLQ_BY_TRIGGER[name]);
    for (const esm of f.fn.node.findAll().filter((c) => c instanceof CfnEventSourceMapping)) {
      ack(esm, 'Serverless-LambdaEventSourceMappingDestination', 'SQS event sources do not support on-failure destinations; failed records reach the queue\'s DLQ through its redrive policy.');
    }
  }

  for (const t of stack.tables.all) {
    ack(t.table, 'HIPAA.Security-DynamoDBInBackupPlan', 'Point-in-time recovery (35 days, continuous) is on and prod tables are retained with deletion protection; an AWS Backup plan is left to the account\'s organisation-wide backup policy.');
  }

  for (const q of [stack.ingest, stack.backfillQueue, stack.writeBackQueue]) {
    ack(q.dlq, 'Serverless-SQSRedrivePolicy', 'This is a dead-letter queue: its messages are inspected and redriven to the source queue by an operator, not retried onward.');
  }

  const linkKey = stack.connectLinkKey.secret;
  const noAutoRotation =
    'Rotated by the operator with `drchrono-sync connect-key rotate` (docs/cli.md): a rotation must keep the previous key for links already sent to clinics, which a Secrets Manager rotation Lambda would have to re-implement; the key signs links, it grants no data access by itself.';
  ack(linkKey, 'AwsSolutions-SMG4', noAutoRotation);
  ack(linkKey, 'HIPAA.Security-SecretsManagerRotationEnabled', noAutoRotation);

  for (const rule of Object.values(stack.schedules)) {
    ack(rule, 'Serverless-EventBusDLQ', 'Schedule events carry no data: an undelivered tick is replaced by the next one, and missed runs show on the function\'s alarms.');
  }

  for (const route of stack.httpApi.api.node.findAll().filter((c): c is CfnRoute => c instanceof CfnRoute)) {
    const reason = ROUTE_WITHOUT_AUTHORIZER[route.routeKey];
    if (reason) ack(route, 'AwsSolutions-APIG4', reason);
  }
  return acks;
}

function cfnResourceOf(scope: IConstruct): CfnResource {
  if (CfnResource.isCfnResource(scope)) return scope;
  const child = scope.node.defaultChild;
  if (child && CfnResource.isCfnResource(child)) return child;
  throw new Error(`No CloudFormation resource under ${scope.node.path}`);
}
