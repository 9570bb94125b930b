import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateSecretCommand, ResourceExistsException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { initialKeys, serializeKeys } from '../shared/oauth/connect-link-key';
import type { ResourceNames } from '../shared/config/resource-names';
import { BACKFILL_QUEUE, DLQ_RETENTION_SECONDS, INGEST_QUEUE, WRITE_BACK_QUEUE, type QueueSettings } from '../shared/config/queue-settings';
import {
  INTEGRATION_LOG_TABLE_SCHEMA,
  RECORDS_TABLE_SCHEMA,
  TEAMS_TABLE_SCHEMA,
  type TableSchema,
} from '../shared/config/table-schemas';

/**
 * Creates, idempotently, the tables, queues and the connect-link key secret the CDK stack defines, from the same
 * shared definitions. Team secrets are per team and created by registration.
 */
export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface CreatedResources {
  ingest: QueuePair;
  backfill: QueuePair;
  writeBack: QueuePair;
}

export function tableDefinitions(names: ResourceNames): { name: string; schema: TableSchema }[] {
  return [
    { name: names.teamsTable, schema: TEAMS_TABLE_SCHEMA },
    { name: names.recordsTable, schema: RECORDS_TABLE_SCHEMA },
    { name: names.integrationLogTable, schema: INTEGRATION_LOG_TABLE_SCHEMA },
  ];
}

function attributeDefinitions(schema: TableSchema): AttributeDefinition[] {
  const keys = [schema.partitionKey, schema.sortKey, ...schema.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  const byName = new Map<string, AttributeDefinition>();
  for (const k of keys) if (k) byName.set(k.name, { AttributeName: k.name, AttributeType: k.type });
  return [...byName.values()];
}

export async function ensureTable(ddb: DynamoDBClient, name: string, schema: TableSchema): Promise<void> {
  let exists = true;
  try {
    await ddb.send(new DescribeTableCommand({ TableName: name }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    exists = false;
  }
  if (!exists) {
    await ddb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions(schema),
        KeySchema: [
          { AttributeName: schema.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: schema.sortKey.name, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes:
          schema.globalIndexes.length === 0
            ? undefined
            : schema.globalIndexes.map((i) => ({
                IndexName: i.name,
                KeySchema: [
                  { AttributeName: i.partitionKey.name, KeyType: 'HASH' as const },
                  ...(i.sortKey ? [{ AttributeName: i.sortKey.name, KeyType: 'RANGE' as const }] : []),
                ],
                Projection: { ProjectionType: i.projection },
              })),
      }),
    );
  }
  if (schema.ttlAttribute) {
    // UpdateTimeToLive fails when TTL is already on, so look first (a restart with persisted tables).
    const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: name }));
    const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await ddb.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: schema.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = attrs.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${url} has no QueueArn`);
  return arn;
}

/** A work queue and its DLQ, with the redrive policy and timeouts from shared/config/queue-settings.ts. */
export async function ensureQueuePair(sqs: SQSClient, name: string, dlqName: string, settings: QueueSettings): Promise<QueuePair> {
  // A FIFO queue's DLQ must be FIFO too; deduplication ids are always explicit (the change id), never content-based.
  const fifo: Record<string, string> = name.endsWith('.fifo') ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {};
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: dlqName, Attributes: { ...fifo, MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) } }),
  );
  const dlqUrl = dlq.QueueUrl!;
  const dlqArn = await queueArn(sqs, dlqUrl);
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        ...fifo,
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(settings.retentionPeriodSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: settings.maxReceiveCount }),
      },
    }),
  );
  const url = main.QueueUrl!;
  return { url, arn: await queueArn(sqs, url), dlqUrl, dlqArn };
}

export async function createResources(ddb: DynamoDBClient, sqs: SQSClient, names: ResourceNames): Promise<CreatedResources> {
  for (const t of tableDefinitions(names)) await ensureTable(ddb, t.name, t.schema);
  return {
    ingest: await ensureQueuePair(sqs, names.ingestQueue, names.ingestDlq, INGEST_QUEUE),
    backfill: await ensureQueuePair(sqs, names.backfillQueue, names.backfillDlq, BACKFILL_QUEUE),
    writeBack: await ensureQueuePair(sqs, names.writeBackQueue, names.writeBackDlq, WRITE_BACK_QUEUE),
  };
}

/**
 * The connect-link signing key secret, created once with a fresh random key (the stack's counterpart is
 * lib/connect-link-key.ts). An existing secret is kept, so links stay valid across restarts of a persistent platform.
 */
export async function ensureConnectLinkKey(secrets: SecretsManagerClient, name: string, now: Date = new Date()): Promise<'created' | 'exists'> {
  try {
    await secrets.send(
      new CreateSecretCommand({ Name: name, Description: 'drchrono-sync connect-link signing keys', SecretString: serializeKeys(initialKeys(now)) }),
    );
    return 'created';
  } catch (err) {
    if (err instanceof ResourceExistsException) return 'exists';
    throw err;
  }
}
