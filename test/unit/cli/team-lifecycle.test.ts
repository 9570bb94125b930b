import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { run } from '../../../cli/commands/team';
import type { CliContext, CliResources } from '../../../cli/context';

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);
const sqsMock = mockClient(SQSClient);

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const resources: CliResources = {
  stage: 'prod',
  teamsTable: 'teams',
  recordsTable: 'records',
  integrationLogTable: 'log',
  teamSecretPrefix: 'drchrono-sync/prod/teams/',
  ingestQueueUrl: 'https://sqs/ingest',
  backfillQueueUrl: 'https://sqs/backfill',
  writeBackQueueUrl: 'https://sqs/write-back.fifo',
};
const teamItem = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x' };

function ctxFor(over: Partial<CliResources> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    target: 'aws',
    resources: { ...resources, ...over },
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  return { ctx, out, err };
}

/** Every call that could change something: anything but reads. */
function writes() {
  const reads = new Set(['GetCommand', 'QueryCommand', 'ScanCommand']);
  return [...ddbMock.calls(), ...secretsMock.calls(), ...sqsMock.calls()].filter((c) => !reads.has(c.args[0].constructor.name));
}

beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  sqsMock.reset();
  ddbMock.on(GetCommand).resolves({ Item: teamItem });
  ddbMock.on(QueryCommand).resolves({ Items: [], Count: 0 });
});

describe('team remove', () => {
  it('refuses without --erase (exit 2): removal always erases', async () => {
    const { ctx } = ctxFor();
    await expect(run(['remove', TEAM, '--yes'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('always erases') });
    expect(writes()).toEqual([]);
  });

  it('without --yes prints what it would delete and exits 2, changing nothing', async () => {
    ddbMock.on(QueryCommand, { TableName: 'records' }).resolves({ Items: [{ pk: `${TEAM}#patient`, sk: '1' }, { pk: `${TEAM}#patient`, sk: '2' }] });
    const { ctx, err } = ctxFor();
    expect(await run(['remove', TEAM, '--erase'], ctx)).toBe(2);
    expect(err.join('\n')).toMatch(/Nothing was deleted/);
    expect(writes()).toEqual([]);
  });

  it.each([['0'], ['1001'], ['fast'], ['2.5']])('rejects --rate %s as a usage error', async (rate) => {
    const { ctx } = ctxFor();
    await expect(run(['remove', TEAM, '--erase', '--yes', '--rate', rate], ctx)).rejects.toMatchObject({ exitCode: 2 });
    expect(writes()).toEqual([]);
  });

  it('refuses before fencing when the target does not name the records table', async () => {
    const { ctx } = ctxFor({ recordsTable: '' });
    await expect(run(['remove', TEAM, '--erase', '--yes'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('records table') });
    expect(writes()).toEqual([]);
  });

  it.each([
    ['ingest', { ingestQueueUrl: undefined }],
    ['backfill', { backfillQueueUrl: undefined }],
    ['write-back', { writeBackQueueUrl: undefined }],
  ] as const)('refuses (exit 2) before fencing when the target does not name the %s queue, whose DLQ it must erase', async (queue, over) => {
    const { ctx } = ctxFor(over);
    await expect(run(['remove', TEAM, '--erase', '--yes'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`${queue} queue URL`) });
    expect(writes()).toEqual([]);
    expect(sqsMock.calls()).toEqual([]);
  });

  it('says a team that is not registered is not registered', async () => {
    ddbMock.on(GetCommand).resolves({});
    const { ctx } = ctxFor();
    await expect(run(['remove', TEAM, '--erase', '--yes'], ctx)).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining('not registered') });
  });
});

describe('team enable', () => {
  it('says it queued a backfill when the team had none (its connect backfill was dropped while disabled)', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: teamItem });
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'q1' });
    const { ctx, out } = ctxFor();
    expect(await run(['enable', TEAM], ctx)).toBe(0);
    expect(out.join('\n')).toMatch(/Backfill queued/);
  });

  it('refuses before changing anything when the target has no backfill queue for the catch-up', async () => {
    const { ctx } = ctxFor({ backfillQueueUrl: undefined });
    await expect(run(['enable', TEAM], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('backfill queue') });
    expect(writes()).toEqual([]);
  });
});

describe('team disable', () => {
  it('rejects a team id that is not a UUID as a usage error', async () => {
    const { ctx } = ctxFor();
    await expect(run(['disable', 'clinic-1'], ctx)).rejects.toMatchObject({ exitCode: 2 });
  });
});
