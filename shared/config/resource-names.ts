/**
 * Names of every stateful resource, per stage. The CDK stack and the local platform both use this,
 * so `npm start` creates exactly what `cdk deploy` creates.
 */
export interface ResourceNames {
  teamsTable: string;
  recordsTable: string;
  integrationLogTable: string;
  ingestQueue: string;
  ingestDlq: string;
  backfillQueue: string;
  backfillDlq: string;
  /** FIFO (docs/write-back.md): names end in `.fifo`, as SQS requires. */
  writeBackQueue: string;
  writeBackDlq: string;
  /** Secrets Manager name prefix; a team's secret is `${teamSecretPrefix}${teamId}`. */
  teamSecretPrefix: string;
  /**
   * The connect-link signing keys (shared/oauth/connect-link-key.ts). Outside the team-secret prefix on purpose:
   * a grant on team secrets never covers it.
   */
  connectLinkKeySecret: string;
}

export const STAGES = ['local', 'dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

export function resourceNames(stage: string): ResourceNames {
  const p = `drchrono-sync-${stage}`;
  return {
    teamsTable: `${p}-teams`,
    recordsTable: `${p}-records`,
    integrationLogTable: `${p}-integration-log`,
    ingestQueue: `${p}-ingest`,
    ingestDlq: `${p}-ingest-dlq`,
    backfillQueue: `${p}-backfill`,
    backfillDlq: `${p}-backfill-dlq`,
    writeBackQueue: `${p}-write-back.fifo`,
    writeBackDlq: `${p}-write-back-dlq.fifo`,
    teamSecretPrefix: `drchrono-sync/${stage}/teams/`,
    connectLinkKeySecret: `drchrono-sync/${stage}/connect-link-key`,
  };
}

/** Index names, shared by the CDK tables and the local table definitions. */
export const TEAMS_TOKEN_EXPIRY_INDEX = 'byTokenExpiry';
export const RECORDS_CHART_ID_INDEX = 'byChartId';
