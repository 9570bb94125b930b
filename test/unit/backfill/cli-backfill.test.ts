import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newJob } from '../../../shared/backfill/backfill-job';
import { run } from '../../../cli/commands/backfill';
import { CliError, type CliContext } from '../../../cli/context';
import { FakeTeamsTable } from '../team-job/fake-teams-table';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
let table: FakeTeamsTable;

function cli(withQueue = true) {
  const backfillQueueUrl = withQueue ? 'https://sqs/backfill' : undefined;
  const out: string[] = [];
  const ctx: CliContext = {
    target: 'local',
    resources: { stage: 'local', teamsTable: 'teams', recordsTable: 'records', integrationLogTable: 'log', teamSecretPrefix: 'p/', backfillQueueUrl },
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  };
  return { ctx, text: () => out.join('\n') };
}

function sentBodies(): unknown[] {
  return sqsMock.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!));
}

beforeEach(() => {
  ddbMock.reset();
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  table = new FakeTeamsTable(ddbMock);
  table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x' });
});

describe('drchrono-sync backfill', () => {
  it('queues an operator start with its own job id and --since', async () => {
    const { ctx, text } = cli();
    expect(await run([TEAM, '--since', '2026-01-01', '--page-size', '500'], ctx)).toBe(0);
    expect(sentBodies()).toEqual([{ type: 'start', teamId: TEAM, jobId: expect.stringMatching(/^op-/), since: '2026-01-01', pageSize: 500 }]);
    expect(text()).toContain(`team show ${TEAM}`);
  });

  it.each([
    [['not-a-uuid'], 'team id must be a UUID'],
    [[TEAM, '--since', '21/11/2026'], '--since must be YYYY-MM-DD'],
    [[TEAM, '--page-size', '5000'], '--page-size must be an integer from 1 to 1000'],
    [[], 'expected exactly one team id'],
  ])('rejects %j with a usage error and queues nothing', async (argv, message) => {
    const err = await run(argv, cli().ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toContain(message);
    expect(sentBodies()).toEqual([]);
  });

  it('refuses a team that is not connected', async () => {
    table.put({ pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'reauthorization_required', createdAt: 'x', updatedAt: 'x' });
    await expect(run([TEAM], cli().ctx)).rejects.toThrow('a backfill needs a connected team');
    expect(sentBodies()).toEqual([]);
  });

  it('says where the queue URL comes from when the target lacks it', async () => {
    await expect(run([TEAM], cli(false).ctx)).rejects.toThrow('backfill queue URL is unknown');
  });

  it('status prints phase, counts and percent', async () => {
    table.put({ ...newJob({ teamId: TEAM, jobId: 'j1', reason: 'connect', now: new Date('2026-11-21T12:00:00Z') }), pk: TEAM, sk: 'BACKFILL', patients: 500, patientsTotal: 1000, percent: 32, cursor: { phase: 'patients', page: 2, chunk: 0 }, phase: 'patients' });
    const { ctx, text } = cli();
    expect(await run(['status', TEAM], ctx)).toBe(0);
    expect(text()).toContain('Backfill j1 (connect): running, 32%, phase patients');
    expect(text()).toContain('patients 500 of 1000');
  });
});
