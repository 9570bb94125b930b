import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { ResourceNames } from '../shared/config/resource-names';
import {
  INTEGRATION_LOG_TABLE_SCHEMA,
  RECORDS_TABLE_SCHEMA,
  TEAMS_TABLE_SCHEMA,
  type KeyAttr,
  type TableSchema,
} from '../shared/config/table-schemas';

export interface DataTablesProps {
  names: ResourceNames;
  key: IKey;
  removalPolicy: RemovalPolicy;
  deletionProtection: boolean;
}

/** A table built from its schema in shared/config/table-schemas, so the deployed key schema matches local. */
export interface SchemaTable {
  table: Table;
  indexNames: string[];
  /** The table's key attribute names (partition, sort): an attribute-scoped grant must name them. */
  keyAttributes: string[];
}

/** The three tables: on-demand, point-in-time recovery, encrypted with the CMK, retained in prod. */
export class DataTables extends Construct {
  readonly teams: SchemaTable;
  readonly records: SchemaTable;
  readonly integrationLog: SchemaTable;

  constructor(scope: Construct, id: string, props: DataTablesProps) {
    super(scope, id);
    this.teams = this.build('Teams', props.names.teamsTable, TEAMS_TABLE_SCHEMA, props);
    this.records = this.build('Records', props.names.recordsTable, RECORDS_TABLE_SCHEMA, props);
    this.integrationLog = this.build('IntegrationLog', props.names.integrationLogTable, INTEGRATION_LOG_TABLE_SCHEMA, props);
  }

  get all(): SchemaTable[] {
    return [this.teams, this.records, this.integrationLog];
  }

  private build(id: string, tableName: string, schema: TableSchema, props: DataTablesProps): SchemaTable {
    const table = new Table(this, id, {
      tableName,
      partitionKey: attribute(schema.partitionKey),
      sortKey: attribute(schema.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      ...(schema.ttlAttribute ? { timeToLiveAttribute: schema.ttlAttribute } : {}),
    });
    for (const index of schema.globalIndexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
        projectionType: index.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
      });
    }
    return { table, indexNames: schema.globalIndexes.map((i) => i.name), keyAttributes: [schema.partitionKey.name, schema.sortKey.name] };
  }
}

function attribute(attr: KeyAttr): { name: string; type: AttributeType } {
  return { name: attr.name, type: attr.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}
