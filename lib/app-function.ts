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

const DATA_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:ConditionCheckItem'];
const DATA_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

/**
 * Table access levels. `items`: single items by key (GetItem, PutItem, UpdateItem), no Scan, Query, batch or
 * delete, so a function that works on one team's items cannot list a whole table of PHI. `append`: PutItem only
 * (the integration log's writers never read it back). Query on the base table is granted per partition kind
 * with `allowQueryPartitions`.
 */
export type TableAccess = 'read' | 'readWrite' | 'items' | 'append';
const TABLE_ACTIONS: Record<TableAccess, string[]> = {
  read: DATA_READ_ACTIONS,
  readWrite: [...DATA_READ_ACTIONS, ...DATA_WRITE_ACTIONS],
  items: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  append: ['dynamodb:PutItem'],
};

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

  /** Access to a table and, for the levels that query, to its named indexes (never `index/*`). */
  allowTable(table: SchemaTable, access: TableAccess): void {
    const actions = TABLE_ACTIONS[access];
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions, resources: [table.table.tableArn] }));
    if (actions.includes('dynamodb:Query') && table.indexNames.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: table.indexNames.map((name) => `${table.table.tableArn}/index/${name}`),
        }),
      );
    }
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

  /** Team secrets are created at run time by the CLI, so the grant is the name prefix, never `*`. */
  allowTeamSecrets(prefix: string, access: 'read' | 'readWrite'): void {
    const actions =
      access === 'read'
        ? ['secretsmanager:GetSecretValue']
        : ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:DescribeSecret'];
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions, resources: [teamSecretsArn(this, prefix)] }),
    );
  }

  allowSendTo(queue: IQueue): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], resources: [queue.queueArn] }),
    );
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
