import { integrationLogItem } from '../../../shared/store/integration-log';
import { chartKey } from '../../../shared/store/records';
// Tests of the sync helper's CLI commands (log, records, team fields/choices); they live here because
// test/unit/cli belongs to the CLI core.
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { formatEntry, run as runLog } from '../../../cli/commands/log';
import { PATIENT_FIELDS } from '../../../shared/mapping/field-names';
import { writeIntegrationLog, type IntegrationLogEntry } from '../../../shared/store/integration-log';
import { run as runRecords } from '../../../cli/commands/records';
import { run as runTeamConfig } from '../../../cli/commands/team-config';
import { CliError, type CliContext } from '../../../cli/context';
import { TEAM, teamItem } from './helpers';

const ddbMock = mockClient(DynamoDBDocumentClient);
beforeEach(() => ddbMock.reset());

function cli() {
  const out: string[] = [];
  const ctx: CliContext = {
    target: 'local',
    resources: { stage: 'local', teamsTable: 'teams', recordsTable: 'records', integrationLogTable: 'log', teamSecretPrefix: 'p/' },
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  };
  return { ctx, text: () => out.join('\n') };
}

describe('log command', () => {
  it('prints entries with fields and errors, filtered by outcome', async () => {
    ddbMock.on(QueryCommand).resolves({
      Items: [
        integrationLogItem(
          TEAM,
          [
            { at: '2026-11-21T10:00:00Z', event: 'PATIENT_MODIFY', deliveryId: 'd1', entity: 'patient', drchronoId: '7', outcome: 'failed', errorClass: 'DrChronoServerError', errorMessage: 'GET /api/patients/{id}: server error' },
            { at: '2026-11-21T09:00:00Z', event: 'PATIENT_MODIFY', deliveryId: 'd0', entity: 'patient', drchronoId: '7', outcome: 'updated', fieldsWritten: ['Email'] },
          ],
          new Date('2026-11-21T10:00:00Z'),
          'g',
        ),
      ],
    });
    const { ctx, text } = cli();
    expect(await runLog([TEAM, '--outcome', 'failed'], ctx)).toBe(0);
    expect(text()).toContain('DrChronoServerError');
    expect(text()).not.toContain('d0');
  });

  it('prints a compactly stored group exactly as the entries that were written, as text and as JSON', async () => {
    const written: IntegrationLogEntry[] = [
      { at: '2026-11-21T10:00:02.000Z', event: 'PATIENT_MODIFY', deliveryId: 'd2', entity: 'patient', drchronoId: '7', outcome: 'updated', fieldsWritten: [...PATIENT_FIELDS], fieldsSkipped: [] },
      { at: '2026-11-21T10:00:01.000Z', event: 'PATIENT_CREATE', deliveryId: 'd1', entity: 'patient', drchronoId: '8', outcome: 'created', fieldsWritten: ['Chart ID', 'Email'], fieldsSkipped: ['Insurance Company'], detail: 'first sync' },
      { at: '2026-11-21T10:00:00.000Z', event: 'PATIENT_MODIFY', deliveryId: 'd0', drchronoId: '9', outcome: 'failed', errorClass: 'DrChronoServerError', errorMessage: 'GET /api/patients/{id}: server error' },
    ];
    ddbMock.on(PutCommand).resolves({});
    const { ctx, text } = cli();
    await writeIntegrationLog(ctx.ddb, 'log', TEAM, written, { now: new Date('2026-11-21T10:00:03.000Z'), groupId: 'req' });
    ddbMock.on(QueryCommand).resolves({ Items: ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!) });

    expect(await runLog([TEAM], ctx)).toBe(0);
    expect(text()).toBe(written.map(formatEntry).join('\n'));
    const json = cli();
    expect(await runLog([TEAM, '--json'], json.ctx)).toBe(0);
    expect(json.text()).toBe(JSON.stringify(written, null, 2));
  });

  it('rejects an unknown outcome and a bad limit as usage errors', async () => {
    const { ctx } = cli();
    await expect(runLog([TEAM, '--outcome', 'exploded'], ctx)).rejects.toBeInstanceOf(CliError);
    await expect(runLog([TEAM, '--limit', '0'], ctx)).rejects.toThrow('--limit');
    await expect(runLog(['not-a-team'], ctx)).rejects.toThrow('UUID');
  });
});

describe('records command', () => {
  it('finds a patient by Chart ID through the index', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [{ pk: `${TEAM}#patient`, sk: '104857601' }] });
    ddbMock.on(GetCommand).resolves({
      Item: { pk: `${TEAM}#patient`, sk: '104857601', chartKey: chartKey(TEAM, 'DOJA000001'), 'Chart ID': 'DOJA000001', version: 'u#x' },
    });
    const { ctx, text } = cli();
    expect(await runRecords([TEAM, 'patient', 'DOJA000001'], ctx)).toBe(0);
    expect(text()).toContain('Chart ID: DOJA000001');
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input.IndexName).toBe('byChartId');
  });

  it('exits 1 when the key is unknown', async () => {
    ddbMock.on(GetCommand).resolves({});
    const { ctx, text } = cli();
    expect(await runRecords([TEAM, 'appointment', '42'], ctx)).toBe(1);
    expect(text()).toContain('Claim ID "42"');
  });

  it('rejects an unknown kind', async () => {
    const { ctx } = cli();
    await expect(runRecords([TEAM, 'invoice'], ctx)).rejects.toThrow('kind must be one of');
  });
});

describe('team fields / choices', () => {
  beforeEach(() => {
    ddbMock.on(GetCommand, { TableName: 'teams' }).resolves({ Item: teamItem({ syncFields: { appointment: ['Claim ID'] } }) });
    ddbMock.on(UpdateCommand).resolves({});
  });

  it("sets an entity's fields, keeping the other entities' settings, and shows the result", async () => {
    const { ctx, text } = cli();
    expect(await runTeamConfig(['fields', TEAM, 'patient', 'Chart ID,First Name', 'Last Name'], ctx)).toBe(0);
    const input = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ExpressionAttributeValues![':v']).toEqual({ appointment: ['Claim ID'], patient: ['Chart ID', 'First Name', 'Last Name'] });
    expect(text()).toContain('patient: Chart ID, First Name, Last Name');
  });

  it('refuses a field name outside the supported set', async () => {
    const { ctx } = cli();
    await expect(runTeamConfig(['fields', TEAM, 'patient', 'Chart ID,Shoe Size'], ctx)).rejects.toThrow('"Shoe Size"');
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('resets one entity to all fields', async () => {
    const { ctx } = cli();
    await runTeamConfig(['fields', TEAM, 'appointment', '--reset'], ctx);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':v']).toEqual({});
  });

  it('adds choice mappings to a list', async () => {
    const { ctx, text } = cli();
    expect(await runTeamConfig(['choices', TEAM, 'status', 'A=Current', 'D=Deceased'], ctx)).toBe(0);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':v']).toEqual({ status: { A: 'Current', D: 'Deceased' } });
    expect(text()).toContain('A=Current');
  });

  it('refuses a mapping without "="', async () => {
    const { ctx } = cli();
    await expect(runTeamConfig(['choices', TEAM, 'sex', 'Male'], ctx)).rejects.toThrow('<from>=<to>');
  });

  it('fails clearly for an unknown team', async () => {
    ddbMock.on(GetCommand, { TableName: 'teams' }).resolves({});
    const { ctx } = cli();
    await expect(runTeamConfig(['fields', TEAM], ctx)).rejects.toThrow(`no team ${TEAM}`);
  });
});
