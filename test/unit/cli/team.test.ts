import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { run } from '../../../cli/commands/team';
import { CliError, type CliContext, type CliResources } from '../../../cli/context';
import { verifyConnectLink } from '../../../shared/oauth/connect-link';

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const resources: CliResources = {
  stage: 'local',
  teamsTable: 'drchrono-sync-local-teams',
  recordsTable: 'drchrono-sync-local-records',
  integrationLogTable: 'drchrono-sync-local-integration-log',
  teamSecretPrefix: 'drchrono-sync/local/teams/',
  apiBaseUrl: 'http://127.0.0.1:3000',
  kmsKeyId: 'arn:aws:kms:us-east-1:1:key/k',
  connectLinkKeySecret: 'drchrono-sync/local/connect-link-key',
};
const LINK_KEY = { id: 'k1', secret: 'cli-unit-test-connect-link-key-0123456789' };

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

const teamItem = {
  pk: TEAM,
  sk: 'TEAM',
  teamId: TEAM,
  status: 'connected',
  createdAt: '2026-11-20T10:00:00.000Z',
  updatedAt: '2026-11-21T09:00:00.000Z',
  webhooksProcessed: 12,
  webhooksIgnored: 3,
  lastDeliveryAt: '2026-11-21T08:59:00.000Z',
  drchronoUsername: 'drsmith',
  drchronoUserId: 501,
  tokenExpiresAt: Date.parse('2026-11-23T09:00:00.000Z'),
  lastRefreshOutcome: 'ok',
  refreshLeaseOwner: 'lease-owner-id',
  accessToken: 'should-never-be-here-access',
};

beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  secretsMock.on(GetSecretValueCommand, { SecretId: resources.connectLinkKeySecret }).resolves({ SecretString: JSON.stringify({ keys: [LINK_KEY] }) });
  // No team item unless a test says otherwise (registerTeam reads it first).
  ddbMock.on(GetCommand).resolves({});
  // No integration log groups carrying webhook counts unless a test says otherwise.
  ddbMock.on(QueryCommand).resolves({ Items: [] });
});

describe('team add', () => {
  it('registers the team and prints the redirect URI, callback URL, secret token and events to subscribe', async () => {
    secretsMock.on(CreateSecretCommand).resolves({});
    ddbMock.on(PutCommand).resolves({});
    const { ctx, text } = ctxWithOutput();
    const code = await run(['add', TEAM, '--client-id', 'cid', '--client-secret', 'csec', '--webhook-secret', 'w'.repeat(24)], ctx);
    expect(code).toBe(0);
    const out = text();
    expect(out).toContain('Redirect URI      http://127.0.0.1:3000/integration-oauth/callback');
    // The connect link is signed with the target's current key and expires (7 days by default).
    const link = new URL(/(http:\/\/127\.0\.0\.1:3000\/integration-oauth\/authorize\/\S+)/.exec(out)![1]!);
    expect(link.pathname).toBe(`/integration-oauth/authorize/${TEAM}`);
    const verified = await verifyConnectLink(TEAM, Object.fromEntries(link.searchParams), async (id) => (id === 'k1' ? LINK_KEY : undefined), Date.now() / 1000);
    expect(verified).toMatchObject({ ok: true, claims: { allowAccountChange: false } });
    expect(Number(link.searchParams.get('exp')) - Date.now() / 1000).toBeGreaterThan(7 * 86_400 - 60);
    expect(out).toContain(`Callback URL    http://127.0.0.1:3000/drchronowebhook/${TEAM}`);
    expect(out).toContain(`Secret Token    ${'w'.repeat(24)}`);
    for (const e of ['APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE', 'PATIENT_CREATE', 'PATIENT_MODIFY']) expect(out).toContain(e);
    // Flag events too, in both spellings of the change event (docs: CMODIFY; console: MODIFY).
    for (const e of ['PATIENT_FLAG_CREATE', 'PATIENT_FLAG_CMODIFY', 'PATIENT_FLAG_MODIFY']) expect(out).toContain(e);
    expect(out).not.toContain('csec');
    const created = secretsMock.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(created.Name).toBe(`drchrono-sync/local/teams/${TEAM}`);
    expect(created.KmsKeyId).toBe(resources.kmsKeyId);
    expect(JSON.parse(created.SecretString!)).toEqual({ clientId: 'cid', clientSecret: 'csec', webhookSecret: 'w'.repeat(24) });
  });

  it('generates a 40-hex-character secret token when none is given, and prints it', async () => {
    secretsMock.on(CreateSecretCommand).resolves({});
    ddbMock.on(PutCommand).resolves({});
    const { ctx, text } = ctxWithOutput();
    await run(['add', TEAM, '--client-id', 'cid', '--client-secret', 'csec'], ctx);
    const stored = JSON.parse(secretsMock.commandCalls(CreateSecretCommand)[0]!.args[0].input.SecretString!).webhookSecret as string;
    expect(stored).toMatch(/^[0-9a-f]{40}$/);
    expect(text()).toContain(`Secret Token    ${stored}`);
  });

  it('rejects a team id that is not a UUID before touching AWS', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['add', 'team-1', '--client-id', 'c', '--client-secret', 's'], ctx)).rejects.toThrow('team id must be a UUID');
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it('requires the client id', async () => {
    const { ctx } = ctxWithOutput();
    const saved = process.env.DRCHRONO_CLIENT_ID;
    delete process.env.DRCHRONO_CLIENT_ID;
    await expect(run(['add', TEAM, '--client-secret', 's'], ctx)).rejects.toThrow('--client-id is required');
    if (saved !== undefined) process.env.DRCHRONO_CLIENT_ID = saved;
  });

  it('rejects a short webhook secret', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['add', TEAM, '--client-id', 'c', '--client-secret', 's', '--webhook-secret', 'short'], ctx)).rejects.toThrow(
      'at least 20 characters',
    );
  });

  it('rejects an unknown option as a usage error', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['add', TEAM, '--client', 'c'], ctx)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('waits while a previous secret of the team is still being deleted, then fails with exit 1 and what to do', async () => {
    jest.useFakeTimers();
    try {
      secretsMock.on(CreateSecretCommand).rejects(
        new InvalidRequestException({
          message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
          $metadata: {},
        }),
      );
      const { ctx, text } = ctxWithOutput();
      const result = run(['add', TEAM, '--client-id', 'c', '--client-secret', 's'], ctx).catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(60_000);
      const err = await result;
      expect(err).toBeInstanceOf(CliError);
      expect(err).toMatchObject({ exitCode: 1 });
      expect((err as Error).message).toContain('still deleting an earlier secret');
      expect(text()).toContain('retrying in 1 s');
      expect(secretsMock.commandCalls(CreateSecretCommand).length).toBeGreaterThan(1);
      expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('says the team is already registered when its secret exists', async () => {
    secretsMock.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    const { ctx } = ctxWithOutput();
    await expect(run(['add', TEAM, '--client-id', 'c', '--client-secret', 's'], ctx)).rejects.toThrow('already registered');
  });

  it('says the team is already registered when its item exists, and removes the secret it just created', async () => {
    secretsMock.on(CreateSecretCommand).resolves({});
    secretsMock.on(DeleteSecretCommand).resolves({});
    ddbMock.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    const { ctx } = ctxWithOutput();
    await expect(run(['add', TEAM, '--client-id', 'c', '--client-secret', 's'], ctx)).rejects.toThrow(CliError);
    expect(secretsMock.commandCalls(DeleteSecretCommand)).toHaveLength(1);
  });
});

describe('team list', () => {
  it('prints one row per team with status and counters', async () => {
    ddbMock.on(ScanCommand).resolves({ Items: [teamItem] });
    const { ctx, out } = ctxWithOutput();
    expect(await run(['list'], ctx)).toBe(0);
    expect(out[0]).toMatch(/^TEAM ID\s+STATUS\s+CREATED\s+PROCESSED\s+IGNORED\s+LAST DELIVERY\s+DRCHRONO USER$/);
    expect(out[1]).toMatch(new RegExp(`^${TEAM}\\s+connected\\s+2026-11-20T10:00:00.000Z\\s+12\\s+3\\s+2026-11-21T08:59:00.000Z\\s+drsmith$`));
  });

  it('prints JSON with --json', async () => {
    ddbMock.on(ScanCommand).resolves({ Items: [teamItem] });
    const { ctx, text } = ctxWithOutput();
    await run(['list', '--json'], ctx);
    expect(JSON.parse(text())).toEqual([
      expect.objectContaining({ teamId: TEAM, status: 'connected', webhooksProcessed: 12, webhooksIgnored: 3 }),
    ]);
  });

  it('says how to add a team when there are none', async () => {
    ddbMock.on(ScanCommand).resolves({ Items: [] });
    const { ctx, text } = ctxWithOutput();
    await run(['list'], ctx);
    expect(text()).toContain('team add');
  });
});

describe('team show', () => {
  it('adds the webhook counts the integration log carries since the last rollup to the team item\'s, and rolls up the settled ones', async () => {
    const rolled = { ...teamItem, webhookCountsThrough: '2026-11-01T00:00:00.000Z#r0', lastProcessedDeliveryAt: '2026-11-01T00:00:00.000Z' };
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: rolled });
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'BACKFILL' } }).resolves({});
    ddbMock.on(QueryCommand).resolves({
      Items: [
        { sk: '2026-11-21T09:00:00.000Z#r1', wn: 10, wl: '2026-11-21T08:59:59.000Z' },
        // Written a moment ago: counted, but not rolled up yet (a late write could still land before it).
        { sk: `${new Date(Date.now() - 60_000).toISOString()}#r2`, wn: 4, wl: '2099-01-01T00:00:00.000Z' },
      ],
    });
    ddbMock.on(UpdateCommand).resolves({});
    const { ctx, text } = ctxWithOutput();
    expect(await run(['show', TEAM], ctx)).toBe(0);
    expect(text()).toMatch(/Webhooks processed:\s+26\n/);
    expect(text()).toMatch(/Last delivery:\s+2099-01-01T00:00:00.000Z/);
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      TableName: resources.integrationLogTable,
      ExpressionAttributeValues: { ':pk': TEAM, ':after': '2026-11-01T00:00:00.000Z#r0' },
    });
    const updates = ddbMock.commandCalls(UpdateCommand);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':n': 10,
      // The settle cutoff (now - 1 h): everything up to it is rolled up, whether or not an item carried counts.
      ':through': expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/),
      ':prev': '2026-11-01T00:00:00.000Z#r0',
      ':last': '2026-11-21T08:59:59.000Z',
    });
  });

  it('prints status, counters, connection and token expiry, and never a token', async () => {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: teamItem });
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'BACKFILL' } }).resolves({});
    const { ctx, text } = ctxWithOutput();
    expect(await run(['show', TEAM], ctx)).toBe(0);
    const out = text();
    expect(out).toMatch(/Status:\s+connected/);
    expect(out).toMatch(/Webhooks processed:\s+12/);
    expect(out).toMatch(/Webhooks ignored:\s+3/);
    expect(out).toMatch(/Last delivery:\s+2026-11-21T08:59:00.000Z/);
    expect(out).toMatch(/DrChrono username:\s+drsmith/);
    expect(out).toMatch(/Token expires:\s+2026-11-23T09:00:00.000Z/);
    expect(out).toContain(`/drchronowebhook/${TEAM}`);
    expect(out).not.toContain('should-never-be-here-access');
    expect(out).not.toContain('Backfill:');
  });

  it('includes backfill progress when a backfill item exists', async () => {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: teamItem });
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'BACKFILL' } }).resolves({ Item: { pk: TEAM, sk: 'BACKFILL', status: 'running', patientsDone: 250 } });
    const { ctx, text } = ctxWithOutput();
    await run(['show', TEAM], ctx);
    expect(text()).toMatch(/Backfill:\n(.|\n)*patientsDone:\s+250/);
  });

  it('leaves credential-like attributes out of --json output', async () => {
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: teamItem });
    ddbMock.on(GetCommand, { Key: { pk: TEAM, sk: 'BACKFILL' } }).resolves({});
    const { ctx, text } = ctxWithOutput();
    await run(['show', TEAM, '--json'], ctx);
    const parsed = JSON.parse(text());
    expect(parsed.team).toMatchObject({ teamId: TEAM, tokenExpiresAt: teamItem.tokenExpiresAt });
    expect(parsed.team).not.toHaveProperty('accessToken');
    expect(parsed.team).not.toHaveProperty('refreshLeaseOwner');
  });

  it('says the team is not registered', async () => {
    ddbMock.on(GetCommand).resolves({});
    const { ctx } = ctxWithOutput();
    await expect(run(['show', TEAM], ctx)).rejects.toThrow('is not registered');
  });

  it('rejects a team id that is not a UUID', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['show', 'abc'], ctx)).rejects.toThrow('must be a UUID');
    expect(ddbMock.calls()).toHaveLength(0);
  });
});

describe('team connect-link', () => {
  it.each(['removing', 'removed'])('refuses a %s team with exit 1 and prints no link', async (status) => {
    ddbMock.on(GetCommand).resolves({ Item: { ...teamItem, status } });
    const { ctx, text } = ctxWithOutput();
    const err = await run(['connect-link', TEAM], ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(1);
    expect((err as CliError).message).toContain(status === 'removed' ? 'is removed' : 'is being removed');
    expect(text()).toBe('');
  });

  it('echoes a bad team id with control characters escaped', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['connect-link', 'x\u001b[2Jy'], ctx)).rejects.toThrow('got "x\\x1b[2Jy"');
  });
});

describe('team show: argument echo', () => {
  it('escapes control characters of a bad team id', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['show', 'x\u001b[2Jy'], ctx)).rejects.toThrow('got "x\\x1b[2Jy"');
  });
});

describe('team', () => {
  it('rejects an unknown subcommand with usage', async () => {
    const { ctx } = ctxWithOutput();
    await expect(run(['rename', TEAM], ctx)).rejects.toThrow(/unknown team command "rename"(.|\n)*Usage/);
  });
});
