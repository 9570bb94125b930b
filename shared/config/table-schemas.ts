import { RECORDS_CHART_ID_INDEX, TEAMS_TOKEN_EXPIRY_INDEX } from './resource-names';

/**
 * Key schemas of the three tables, written once as plain data. lib/ builds CDK tables from these and
 * local/ creates the same tables in DynamoDB Local, so the two cannot drift.
 *
 * teams:           pk = teamId, sk = 'TEAM' | 'BUDGET#<hour>' | 'STATE#<nonce>' | ... (see shared/teams)
 * records:         pk = '<teamId>#<entity>', sk = DrChrono id; patients also carry chartKey for the Chart ID index
 * integration-log: pk = teamId, sk = '<iso time>#<id>'; expiresAt is the TTL attribute
 */
export interface KeyAttr {
  name: string;
  type: 'S' | 'N';
}
export interface TableSchema {
  partitionKey: KeyAttr;
  sortKey: KeyAttr;
  ttlAttribute?: string;
  globalIndexes: { name: string; partitionKey: KeyAttr; sortKey?: KeyAttr; projection: 'KEYS_ONLY' | 'ALL' }[];
}

export const TEAMS_TABLE_SCHEMA: TableSchema = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  ttlAttribute: 'expiresAt',
  globalIndexes: [
    {
      // Sparse: only connected teams carry refreshPartition/tokenExpiresAt, so the refresher's query reads
      // exactly the teams that hold tokens, never every team's secret.
      name: TEAMS_TOKEN_EXPIRY_INDEX,
      partitionKey: { name: 'refreshPartition', type: 'S' },
      sortKey: { name: 'tokenExpiresAt', type: 'N' },
      projection: 'KEYS_ONLY',
    },
  ],
};

export const RECORDS_TABLE_SCHEMA: TableSchema = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalIndexes: [
    {
      // Sparse and keys-only: writes that keep the Chart ID do not touch the index.
      name: RECORDS_CHART_ID_INDEX,
      partitionKey: { name: 'chartKey', type: 'S' },
      projection: 'KEYS_ONLY',
    },
  ],
};

export const INTEGRATION_LOG_TABLE_SCHEMA: TableSchema = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  ttlAttribute: 'expiresAt',
  globalIndexes: [],
};
