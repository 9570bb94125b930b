import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidGrantError } from '../../../shared/drchrono/errors';
import { findTeamsDueForRefresh, pacer, runRefreshSweep, type RefreshSweepDeps } from '../../../shared/oauth/refresh-sweep';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const secrets = new SecretsManagerClient({ region: 'us-east-1' });
const ddbMock = mockClient(ddb);
const smMock = mockClient(secrets);

const NOW = Date.parse('2026-11-21T10:00:00.000Z');
const WINDOW = 24 * 3_600_000;
const teamId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const SECRET = { clientId: 'cid', clientSecret: 'cs', webhookSecret: 'w', accessToken: 'a', refreshToken: 'r', accessTokenExpiresAt: NOW + 3_600_000, tokenVersion: 1 };

function indexHas(requested: string[], expiring: string[]): void {
  ddbMock.on(QueryCommand).callsFake((input) => {
    const ids = input.ExpressionAttributeValues[':p'] === 'refresh-requested' ? requested : expiring;
    return { Items: ids.map((pk) => ({ pk, sk: 'TEAM' })) };
  });
}

function deps(over: Partial<RefreshSweepDeps> = {}): RefreshSweepDeps {
  return {
    ddb,
    secrets,
    teamsTable: 'teams',
    teamSecretPrefix: 'p/',
    drchronoBaseUrl: 'https://drchrono.example',
    refreshAccessToken: async () => ({ accessToken: 'a2', refreshToken: 'r2', expiresIn: 172800 }),
    windowMs: WINDOW,
    owner: 'sweep-1',
    now: () => NOW,
    concurrency: 4,
    secretWritesPerSecond: 10_000,
    ...over,
  };
}

beforeEach(() => {
  ddbMock.reset();
  smMock.reset();
  smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
  smMock.on(PutSecretValueCommand).resolves({});
  ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) =>
    input.UpdateExpression?.startsWith('SET refreshLeaseUntil')
      ? { Attributes: { pk: input.Key!.pk, sk: 'TEAM', teamId: input.Key!.pk, status: 'connected', createdAt: 'x', updatedAt: 'x' } }
      : {},
  );
});

describe('findTeamsDueForRefresh', () => {
  it('reads only the keys-only expiry index: requested teams plus tokens expiring within the window, without duplicates', async () => {
    indexHas([teamId(1)], [teamId(1), teamId(2)]);
    await expect(findTeamsDueForRefresh(ddb, 'teams', NOW, WINDOW)).resolves.toEqual([teamId(1), teamId(2)]);
    const inputs = ddbMock.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(inputs.every((i) => i.IndexName === 'byTokenExpiry')).toBe(true);
    const expiring = inputs.find((i) => i.ExpressionAttributeValues![':p'] === 'tokens')!;
    expect(expiring.KeyConditionExpression).toBe('refreshPartition = :p AND tokenExpiresAt <= :until');
    expect(expiring.ExpressionAttributeValues![':until']).toBe(NOW + WINDOW);
    expect(smMock.calls()).toHaveLength(0);
  });

  it('follows pagination', async () => {
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [] })
      .resolvesOnce({ Items: [{ pk: teamId(1) }], LastEvaluatedKey: { pk: teamId(1) } })
      .resolvesOnce({ Items: [{ pk: teamId(2) }] });
    await expect(findTeamsDueForRefresh(ddb, 'teams', NOW, WINDOW)).resolves.toEqual([teamId(1), teamId(2)]);
  });
});

describe('runRefreshSweep', () => {
  it('never has more token requests in flight than the configured concurrency', async () => {
    indexHas([], Array.from({ length: 20 }, (_, i) => teamId(i)));
    let inFlight = 0;
    let peak = 0;
    const refreshAccessToken = async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { accessToken: 'a2', refreshToken: 'r2', expiresIn: 172800 };
    };
    const summary = await runRefreshSweep(deps({ concurrency: 3, refreshAccessToken }));
    expect(summary).toEqual({ due: 20, refreshed: 20, skipped: 0, failed: 0, reauthRequired: 0 });
    expect(peak).toBe(3);
  });

  it('summarises refreshed, skipped, failed and reauthorization outcomes', async () => {
    indexHas([], [teamId(1), teamId(2), teamId(3), teamId(4)]);
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (!input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return {};
      if (input.Key!.pk === teamId(2)) throw new ConditionalCheckFailedException({ message: 'leased', $metadata: {} });
      if (input.Key!.pk === teamId(4)) throw new Error('DynamoDB unavailable');
      return { Attributes: { pk: input.Key!.pk, sk: 'TEAM', teamId: input.Key!.pk, status: 'connected', createdAt: 'x', updatedAt: 'x' } };
    });
    smMock.on(GetSecretValueCommand).callsFake((input) => ({
      SecretString: JSON.stringify({ ...SECRET, refreshToken: input.SecretId === `p/${teamId(3)}` ? 'dead' : 'r' }),
    }));
    const refreshAccessToken = async (a: { refreshToken: string }) => {
      if (a.refreshToken === 'dead') throw new InvalidGrantError({ status: 401 });
      return { accessToken: 'a2', refreshToken: 'r2', expiresIn: 172800 };
    };
    const summary = await runRefreshSweep(deps({ refreshAccessToken }));
    expect(summary).toEqual({ due: 4, refreshed: 1, skipped: 1, failed: 1, reauthRequired: 1 });
  });

  it('stops starting teams once told to stop, leaving them due for the next run', async () => {
    indexHas([], [teamId(1), teamId(2), teamId(3)]);
    let started = 0;
    const summary = await runRefreshSweep(deps({ concurrency: 1, shouldStop: () => started++ >= 1 }));
    expect(summary).toMatchObject({ due: 3, refreshed: 1, skipped: 2 });
  });
});

describe('pacer', () => {
  it('spaces calls at the configured rate', async () => {
    const pace = pacer(50);
    const started = Date.now();
    for (let i = 0; i < 6; i++) await pace();
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 20 - 5);
  });
});
