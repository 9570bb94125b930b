import { ArnFormat, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { ApplicationLogLevel, LoggingFormat, SystemLogLevel } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type DataProtectionPolicy, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as path from 'node:path';
import {
  BUNDLING,
  FUNCTION_SIZING,
  LAMBDA_ARCHITECTURE,
  LAMBDA_RUNTIME,
  METRICS_NAMESPACE,
  TRACING,
  type FunctionName,
} from './secure-defaults';
import type { SchemaTable } from './data-tables';

export interface AppFunctionProps {
  name: FunctionName;
  stage: string;
  /** Directory holding `<name>/handler.ts`. */
  functionsDir: string;
  /** Repository root: esbuild's project root and the lock file's directory. */
  repoRoot: string;
  key: IKey;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  dataProtectionPolicy: DataProtectionPolicy;
  reservedConcurrency: number;
  environment: Record<string, string>;
}

/**
 * DynamoDB actions a function may be granted on a table, named as IAM names them. Each grant lists exactly the
 * actions the function's code sends (lib-dynamodb GetCommand -> GetItem, PutCommand -> PutItem, ...), so a
 * function that reads one team's item cannot Scan a table of PHI. test/infra/function-permissions.test.ts pins
 * every function's list and checks it against the commands its bundled handler constructs.
 */
export type TableAction =
  | 'GetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Query'
  | 'Scan'
  | 'BatchGetItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** Secrets Manager actions on team secrets. */
export type TeamSecretAction = 'GetSecretValue' | 'PutSecretValue' | 'DescribeSecret';

/**
 * A Lambda function with the project's defaults: Node.js on arm64, locally bundled with esbuild, X-Ray tracing,
 * JSON logs into its own KMS-encrypted log group with retention and the PHI data protection policy, reserved
 * concurrency, and a role of its own that starts empty. Permissions are added with the `allow*` methods, each
 * naming exact actions and exact resources.
 */
export class AppFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly functionName: string;

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    super(scope, id);
    const sizing = FUNCTION_SIZING[props.name];
    this.functionName = `drchrono-sync-${props.stage}-${props.name}`;

    this.logGroup = new LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${this.functionName}`,
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
      dataProtectionPolicy: props.dataProtectionPolicy,
    });

    // Our own role: the CDK default would attach the AWS managed AWSLambdaBasicExecutionRole (logs:* on *).
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `drchrono-sync ${props.stage} ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new NodejsFunction(this, 'Function', {
      functionName: this.functionName,
      entry: path.join(props.functionsDir, props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: props.repoRoot,
      depsLockFilePath: path.join(props.repoRoot, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: sizing.memoryMb,
      timeout: sizing.timeout,
      tracing: TRACING,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.WARN,
      bundling: BUNDLING,
      environment: {
        STAGE: props.stage,
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });

    // Tables, queues, logs and secrets all use the one CMK; every function reads and writes one of them.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.key.keyArn],
      }),
    );
  }

  /** Exactly these actions on the table itself (no index: see `allowIndexQuery`). */
  allowTable(table: SchemaTable, actions: readonly TableAction[]): void {
    if (actions.length === 0) throw new Error('allowTable needs at least one action');
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: actions.map((a) => `dynamodb:${a}`), resources: [table.table.tableArn] }),
    );
  }

  /** Query on one named index of the table (never `index/*`). */
  allowIndexQuery(table: SchemaTable, indexName: string): void {
    if (!table.indexNames.includes(indexName)) throw new Error(`table has no index ${indexName}`);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${table.table.tableArn}/index/${indexName}`] }),
    );
  }

  /**
   * Query on the table itself (no index), only on partitions whose key matches one of the patterns
   * (`dynamodb:LeadingKeys`), e.g. `*#appointment`: a function that must find a patient's appointments
   * cannot list any other entity's partition.
   */
  allowQueryPartitions(table: SchemaTable, leadingKeyPatterns: string[]): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [table.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeyPatterns } },
      }),
    );
  }

  /**
   * UpdateItem on the table's items that reads, writes and checks only `attributes` (and the key), returning
   * nothing: `dynamodb:Attributes` names every attribute a request's expressions touch, and `dynamodb:ReturnValues`
   * NONE keeps an update from returning the rest of the item. For a function that folds a few counters into an
   * item it otherwise never writes (reconcile's webhook counts roll-up).
   */
  allowUpdateAttributes(table: SchemaTable, attributes: readonly string[]): void {
    if (attributes.length === 0) throw new Error('allowUpdateAttributes needs at least one attribute');
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [table.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...table.keyAttributes, ...attributes] },
          // UpdateItem always carries ReturnValues (NONE unless set), so StringEquals, not ...IfExists.
          StringEquals: { 'dynamodb:ReturnValues': ['NONE'] },
        },
      }),
    );
  }

  /**
   * Query on the table itself (no index) that returns only `attributes` (and the key): the request must say
   * `Select: SPECIFIC_ATTRIBUTES` and project nothing else, so the function reads no other attribute of an item.
   */
  allowQueryAttributes(table: SchemaTable, attributes: readonly string[]): void {
    if (attributes.length === 0) throw new Error('allowQueryAttributes needs at least one attribute');
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [table.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...table.keyAttributes, ...attributes] },
          // Query always carries Select (ALL_ATTRIBUTES unless set), so StringEquals, not ...IfExists.
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
  }

  /** Team secrets are created at run time by the CLI, so the grant is the name prefix, never `*`. */
  allowTeamSecrets(prefix: string, actions: readonly TeamSecretAction[]): void {
    if (actions.length === 0) throw new Error('allowTeamSecrets needs at least one action');
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: actions.map((a) => `secretsmanager:${a}`),
        resources: [teamSecretsArn(this, prefix)],
      }),
    );
  }

  /** SendMessage only (SendMessageBatch is authorised by it too); no function reads queue attributes. */
  allowSendTo(queue: IQueue): void {
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  }
}

/** `arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix>*`; the suffix covers Secrets Manager's random 6 chars. */
export function teamSecretsArn(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${prefix}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
