import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { run } from '../../../cli/commands/team';
import { main } from '../../../cli/main';
import type { CliContext, CliResources } from '../../../cli/context';

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const resources: CliResources = {
  stage: 'local',
  teamsTable: 'teams',
  recordsTable: 'records',
  integrationLogTable: 'log',
  teamSecretPrefix: 'drchrono-sync/local/teams/',
  apiBaseUrl: 'http://127.0.0.1:3000',
  connectLinkKeySecret: 'drchrono-sync/local/connect-link-key',
};
const LINK_KEY = { id: 'k1', secret: 'cli-unit-test-connect-link-key-0123456789' };
const SYNC = ['patients:read', 'calendar:read', 'user:read'];
const WRITE = [...SYNC, 'patients:write', 'calendar:write'];

const team = (over: Record<string, unknown> = {}) => ({
  pk: TEAM,
  sk: 'TEAM',
  teamId: TEAM,
  status: 'connected',
  createdAt: '2026-11-20T10:00:00.000Z',
  updatedAt: '2026-11-21T09:00:00.000Z',
  connectedAt: '2026-11-20T10:05:00.000Z',
  ...over,
});

function ctxWithOutput() {
  const out: string[] = [];
  const ctx: CliContext = {
    target: 'local',
    resources,
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  };
  return { ctx, out, text: () => out.join('\n') };
}

/** The first UpdateItem's input. */
const update = () => ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;

beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  ddbMock.on(GetCommand).resolves({});
  // team show adds up the webhook counts of the integration log: none here.
  ddbMock.on(QueryCommand).resolves({ Items: [] });
});

describe('team add --write-back', () => {
  it('registers the team with writeBack on and says the link asks for the write scopes', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ keys: [LINK_KEY] }) });
    secretsMock.on(CreateSecretCommand).resolves({});
    ddbMock.on(PutCommand).resolves({});
    const { ctx, text } = ctxWithOutput();
    expect(await run(['add', TEAM, '--client-id', 'cid', '--client-secret', 'csec', '--write-back'], ctx)).toBe(0);
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ teamId: TEAM, status: 'registered', writeBack: true });
    expect(text()).toContain('Write-back is on: the link asks DrChrono for the write scopes too (patients:write, calendar:write)');
  });

  it('registers a team without writeBack by default', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ keys: [LINK_KEY] }) });
    secretsMock.on(CreateSecretCommand).resolves({});
    ddbMock.on(PutCommand).resolves({});
    const { ctx, text } = ctxWithOutput();
    await run(['add', TEAM, '--client-id', 'cid', '--client-secret', 'csec'], ctx);
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).not.toHaveProperty('writeBack');
    expect(text()).not.toContain('Write-back');
  });
});

describe('team write-back on|off', () => {
  it('switches write-back on with one conditional update of a live team', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ grantedScopes: WRITE }) });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['write-back', TEAM, 'on'], ctx)).toBe(0);
    expect(update()).toMatchObject({
      Key: { pk: TEAM, sk: 'TEAM' },
      UpdateExpression: 'SET writeBack = :on, updatedAt = :now',
      ConditionExpression: 'attribute_exists(pk) AND #status <> :removingStatus AND #status <> :removedStatus',
    });
    expect(update().ExpressionAttributeValues).toMatchObject({ ':on': true });
    expect(text()).toContain(`Write-back on for team ${TEAM}.`);
    expect(text()).toContain('writes are accepted now');
    expect(text()).not.toContain('connect-link');
  });

  it('tells the operator to reconnect, with the command, when the granted scopes lack the write scopes', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ grantedScopes: SYNC }) });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['write-back', TEAM, 'on'], ctx)).toBe(0);
    expect(text()).toContain("authorization lacks patients:write and calendar:write: writes are refused (403) until a clinic admin reconnects");
    expect(text()).toContain(`drchrono-sync team connect-link ${TEAM}`);
  });

  it('tells the operator to reconnect for a team connected before scopes were recorded', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team() });
    const { ctx, text } = ctxWithOutput();
    await run(['write-back', TEAM, 'on'], ctx);
    expect(text()).toContain(`drchrono-sync team connect-link ${TEAM}`);
  });

  it('says a team that is not connected yet gets the write scopes from its connect link', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ status: 'registered', connectedAt: undefined }) });
    const { ctx, text } = ctxWithOutput();
    await run(['write-back', TEAM, 'on'], ctx);
    expect(text()).toContain('its connect link now asks DrChrono for the write scopes too');
  });

  it('switches write-back off and says so when it already was', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ writeBack: false }) });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['write-back', TEAM, 'off'], ctx)).toBe(0);
    expect(update().ExpressionAttributeValues).toMatchObject({ ':on': false });
    expect(text()).toContain(`Write-back off for team ${TEAM} (it already was).`);
    expect(text()).toContain('New changes are refused (403)');
  });

  it('exits 1 for an unknown team and for a removed one', async () => {
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const unknown = ctxWithOutput();
    await expect(run(['write-back', TEAM, 'on'], unknown.ctx)).rejects.toMatchObject({ exitCode: 1, message: `team ${TEAM} is not registered` });
    ddbMock.on(GetCommand).resolves({ Item: team({ status: 'removed' }) });
    const removed = ctxWithOutput();
    await expect(run(['write-back', TEAM, 'on'], removed.ctx)).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining('is removed') });
  });

  it('rejects a missing or unknown switch and a bad team id as usage errors, before touching AWS', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['write-back', TEAM], ctx)).rejects.toMatchObject({ exitCode: 2 });
    await expect(run(['write-back', TEAM, 'yes'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('got "yes"') });
    await expect(run(['write-back', 'team-1', 'on'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('UUID') });
    await expect(run(['write-back', TEAM, 'on', 'extra'], ctx)).rejects.toMatchObject({ exitCode: 2 });
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('exits 2 with the usage on stderr (stdout empty) through main for a bare `team write-back`', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx = ctxWithOutput().ctx;
    const code = await main(['team', 'write-back'], { out: (l) => out.push(l), err: (l) => err.push(l), context: async () => ({ ...ctx, out: (l) => out.push(l), err: (l) => err.push(l) }) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('team write-back <teamId> on|off');
    expect(out).toEqual([]);
  });
});

describe('team write-back defaults', () => {
  it('sets office and exam room together', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ writeBack: true }) });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['write-back', 'defaults', TEAM, '--office', '1201', '--exam-room', '2'], ctx)).toBe(0);
    expect(update().UpdateExpression).toBe('SET writeBackDefaults = :defaults, updatedAt = :now');
    expect(update().ExpressionAttributeValues).toMatchObject({ ':defaults': { office: 1201, examRoom: 2 } });
    expect(text()).toBe(`Write-back defaults for team ${TEAM}: office 1201, exam room 2.`);
  });

  it('replaces both: an office alone drops an earlier exam room (an index means nothing in another office)', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ writeBack: true, writeBackDefaults: { office: 1, examRoom: 3 } }) });
    const { ctx, text } = ctxWithOutput();
    await run(['write-back', 'defaults', TEAM, '--office', '7'], ctx);
    expect(update().ExpressionAttributeValues).toMatchObject({ ':defaults': { office: 7 } });
    expect(text()).toContain('office 7.');
  });

  it('clears them, and reminds that write-back is off', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: team({ writeBackDefaults: { office: 1 } }) });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['write-back', 'defaults', TEAM, '--clear'], ctx)).toBe(0);
    expect(update().UpdateExpression).toBe('SET updatedAt = :now REMOVE writeBackDefaults');
    expect(text()).toContain('cleared');
    expect(text()).toContain(`drchrono-sync team write-back ${TEAM} on`);
  });

  it.each([
    [['--exam-room', '2'], '--office is required'],
    [['--office', '0'], '--office must be an integer from 1'],
    [['--office', '12a'], '--office must be an integer'],
    [['--office', '1', '--exam-room=-1'], '--exam-room must be an integer from 1 to 999'],
    [['--office', '1', '--exam-room', '0'], '--exam-room must be an integer from 1 to 999'],
    [['--office', '1', '--exam-room', '1000'], '--exam-room must be an integer from 1 to 999'],
    [['--office', '1', '--clear'], '--clear takes no --office'],
    [['--room', '1'], 'Unknown option'],
  ])('rejects %j as a usage error without writing', async (opts, message) => {
    const { ctx } = ctxWithOutput();
    await expect(run(['write-back', 'defaults', TEAM, ...opts], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(message) });
    expect(ddbMock.calls()).toHaveLength(0);
  });
});

describe('team show: write-back', () => {
  async function show(item: Record<string, unknown>, json = false): Promise<string> {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: item });
    const { ctx, text } = ctxWithOutput();
    expect(await run(['show', TEAM, ...(json ? ['--json'] : [])], ctx)).toBe(0);
    return text();
  }

  it('prints write-back on, the granted scopes and the defaults', async () => {
    const out = await show(team({ writeBack: true, grantedScopes: WRITE, writeBackDefaults: { office: 1201, examRoom: 2 } }));
    expect(out).toMatch(/^Write-back: +on$/m);
    expect(out).toMatch(/^Granted scopes: +patients:read calendar:read user:read patients:write calendar:write$/m);
    expect(out).toMatch(/^Write-back defaults: +office 1201, exam room 2$/m);
  });

  it('prints write-back off for a team that never opted in, with the scopes it was granted', async () => {
    const out = await show(team({ grantedScopes: SYNC }));
    expect(out).toMatch(/^Write-back: +off$/m);
    expect(out).toMatch(/^Granted scopes: +patients:read calendar:read user:read$/m);
    expect(out).not.toContain('Write-back defaults');
  });

  it('says when write-back is on but the write scopes were not granted yet', async () => {
    const out = await show(team({ writeBack: true, grantedScopes: SYNC }));
    expect(out).toMatch(/^Write-back: +on \(no write scopes granted yet: reconnect with drchrono-sync team connect-link 3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c\)$/m);
  });

  it('says the scopes of a team connected before they were recorded are unknown (it must reconnect to write)', async () => {
    const out = await show(team({ writeBack: true }));
    expect(out).toMatch(/^Granted scopes: +\(not recorded: connected before scopes were recorded; that connection asked for patients:read calendar:read user:read\)$/m);
    expect(out).toMatch(/^Write-back: +on \(no write scopes granted yet/m);
  });

  it('has the settings in --json', async () => {
    const out = JSON.parse(await show(team({ writeBack: true, grantedScopes: WRITE, writeBackDefaults: { office: 3 } }), true));
    expect(out.team).toMatchObject({ writeBack: true, grantedScopes: WRITE, writeBackDefaults: { office: 3 } });
  });
});
