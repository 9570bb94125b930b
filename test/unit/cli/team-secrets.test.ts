import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { rotateWebhookSecretCommand, setClientSecretCommand } from '../../../cli/commands/team-secrets';
import { CliError, type CliContext } from '../../../cli/context';

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);
const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const NOW = Date.parse('2026-11-30T06:00:00.000Z');
const SECRET = { clientId: 'cid', clientSecret: 'old-cs', webhookSecret: 'old-token-aaaaaaaaaaaaaaaaaaaaaaa' };
const TEAM_ITEM = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', lastRefreshOutcome: 'invalid_client' };

function ctx() {
  const out: string[] = [];
  const c: CliContext = {
    target: 'local',
    resources: { stage: 'local', teamsTable: 't', recordsTable: 'r', integrationLogTable: 'l', teamSecretPrefix: 'p/', apiBaseUrl: 'http://127.0.0.1:3000' },
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  };
  return { c, text: () => out.join('\n') };
}

const written = () => secretsMock.commandCalls(PutSecretValueCommand).map((x) => JSON.parse(x.args[0].input.SecretString!) as Record<string, unknown>);
const opts = { update: { now: () => NOW } };

beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  ddbMock.on(GetCommand).resolves({ Item: TEAM_ITEM });
  ddbMock.on(UpdateCommand).callsFake((i: UpdateCommandInput) => (i.UpdateExpression?.startsWith('SET refreshLeaseUntil = :until, refreshLeaseOwner') ? { Attributes: TEAM_ITEM } : {}));
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
  secretsMock.on(PutSecretValueCommand).resolves({});
});

async function usage(p: Promise<number>): Promise<CliError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  expect((err as CliError).exitCode).toBe(2);
  return err as CliError;
}

describe('team rotate-webhook-secret', () => {
  it('prints the new token, stores it with the old one accepted for 24 h by default', async () => {
    const { c, text } = ctx();
    expect(await rotateWebhookSecretCommand([TEAM], c, opts)).toBe(0);
    const token = /Secret Token {4}([0-9a-f]{40})/.exec(text())?.[1];
    expect(written()[0]).toMatchObject({ webhookSecret: token, previousWebhookSecrets: [{ token: SECRET.webhookSecret, acceptedUntil: NOW + 86_400_000 }] });
    expect(text()).toContain('still accepted until 2026-12-01T06:00:00.000Z (24h)');
    expect(text()).not.toContain(SECRET.webhookSecret);
  });

  it('with --overlap 0 stores no previous token', async () => {
    const { c } = ctx();
    expect(await rotateWebhookSecretCommand([TEAM, '--overlap', '0'], c, opts)).toBe(0);
    expect(written()[0]).not.toHaveProperty('previousWebhookSecrets');
  });

  it.each(['24', '8d', 'soon'])('refuses --overlap %s as a usage error, writing nothing', async (overlap) => {
    await usage(rotateWebhookSecretCommand([TEAM, '--overlap', overlap], ctx().c, opts));
    expect(written()).toEqual([]);
  });
});

describe('secret commands on a removed team', () => {
  it.each([
    ['rotate-webhook-secret', 'removing', 'is being removed'],
    ['rotate-webhook-secret', 'removed', 'is removed'],
    ['set-client-secret', 'removing', 'is being removed'],
    ['set-client-secret', 'removed', 'is removed'],
  ])('%s on a %s team exits 1 at once saying so, without waiting for the lease', async (command, status, says) => {
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, status } });
    let slept = 0;
    const o = { update: { now: () => NOW, sleep: async (ms: number) => void (slept += ms) }, env: { DRCHRONO_CLIENT_SECRET: 'new-cs' } };
    const p = command === 'rotate-webhook-secret' ? rotateWebhookSecretCommand([TEAM], ctx().c, o) : setClientSecretCommand([TEAM], ctx().c, o);
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(1);
    expect((err as CliError).message).toContain(`team ${TEAM} ${says}`);
    expect(slept).toBe(0);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(written()).toEqual([]);
  });
});

describe('team set-client-secret', () => {
  it('reads the secret from DRCHRONO_CLIENT_SECRET, keeps everything else, and lifts an invalid_client backoff', async () => {
    const { c, text } = ctx();
    expect(await setClientSecretCommand([TEAM], c, { ...opts, env: { DRCHRONO_CLIENT_SECRET: 'new-cs' }, readStdin: async () => 'unused' })).toBe(0);
    expect(written()).toEqual([{ ...SECRET, clientSecret: 'new-cs', tokenVersion: 1 }]);
    const release = ddbMock.commandCalls(UpdateCommand).map((x) => x.args[0].input).find((i) => i.ConditionExpression === 'refreshLeaseOwner = :owner' && i.UpdateExpression?.includes('REMOVE'));
    expect(Object.values(release?.ExpressionAttributeNames ?? {})).toContain('refreshNotBefore');
    expect(text()).not.toContain('new-cs');
  });

  it('reads stdin without its trailing newline when the variable is not set', async () => {
    expect(await setClientSecretCommand([TEAM], ctx().c, { ...opts, env: {}, readStdin: async () => 'from-stdin\n' })).toBe(0);
    expect(written()[0]).toMatchObject({ clientSecret: 'from-stdin' });
  });

  it('refuses a --client-secret flag without echoing its value', async () => {
    const err = await usage(setClientSecretCommand([TEAM, '--client-secret=hunter2-value'], ctx().c, { ...opts, env: {} }));
    expect(err.message).not.toContain('hunter2-value');
    expect(written()).toEqual([]);
  });

  it('refuses an extra argument (a secret typed on the line) without echoing it', async () => {
    const err = await usage(setClientSecretCommand([TEAM, 'hunter2-value'], ctx().c, { ...opts, env: {} }));
    expect(err.message).not.toContain('hunter2-value');
    expect(written()).toEqual([]);
  });

  it('never echoes a secret typed in place of the team id', async () => {
    const err = await usage(setClientSecretCommand(['sk_live_hunter2'], ctx().c, { ...opts, env: {} }));
    expect(err.message).not.toContain('sk_live_hunter2');
    expect(err.message).toContain('the first argument must be a team id (a UUID)');
    expect(written()).toEqual([]);
  });

  it.each(['', 'two words', 'a\nb'])('refuses %j as a client secret', async (value) => {
    await usage(setClientSecretCommand([TEAM], ctx().c, { ...opts, env: {}, readStdin: async () => value }));
    expect(written()).toEqual([]);
  });
});
