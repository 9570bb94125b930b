import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DrChronoNetworkError,
  DrChronoRateLimitedError,
  DrChronoServerError,
  InvalidClientError,
  InvalidGrantError,
} from '../../../shared/drchrono/errors';
import { refreshBackoffMs, refreshTeam, type RefreshTeamDeps } from '../../../shared/oauth/refresh-team';
import { tokenWriteRequestToken } from '../../../shared/oauth/token-secret';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const secrets = new SecretsManagerClient({ region: 'us-east-1' });
const ddbMock = mockClient(ddb);
const smMock = mockClient(secrets);

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = Date.parse('2026-11-21T10:00:00.000Z');
const HOUR = 3_600_000;
const WINDOW = 24 * HOUR;
const OWNER = 'token-refresh:req-1';
const SECRET = {
  clientId: 'cid',
  clientSecret: 'csecret',
  webhookSecret: 'whs',
  accessToken: 'access-old',
  refreshToken: 'refresh-old',
  accessTokenExpiresAt: NOW + 10 * HOUR,
  tokenVersion: 3,
};
const TEAM_ITEM = {
  pk: TEAM,
  sk: 'TEAM',
  teamId: TEAM,
  status: 'connected',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  tokenExpiresAt: NOW + 10 * HOUR,
  refreshPartition: 'tokens',
};

type Secret = Record<string, unknown>;

/** Secret reads in order; the last one repeats. */
function secretReads(...reads: Secret[]): void {
  const chain = smMock.on(GetSecretValueCommand);
  reads.forEach((s) => chain.resolvesOnce({ SecretString: JSON.stringify(s) }));
  chain.resolves({ SecretString: JSON.stringify(reads[reads.length - 1]) });
}

function leaseGranted(team: Record<string, unknown> = TEAM_ITEM): void {
  ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
    if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...team, refreshLeaseUntil: NOW + 120_000, refreshLeaseOwner: OWNER } };
    return {};
  });
}

/** The release write: the one UpdateItem conditional on owning the lease. Its SET/REMOVE values as a map. */
function releaseWrite(): { set: Record<string, unknown>; removed: string[]; input: UpdateCommandInput } {
  const call = ddbMock.commandCalls(UpdateCommand).find((c) => c.args[0].input.ConditionExpression === 'refreshLeaseOwner = :owner');
  if (!call) throw new Error('lease was not released');
  const input = call.args[0].input;
  const names = input.ExpressionAttributeNames ?? {};
  const values = input.ExpressionAttributeValues ?? {};
  const set: Record<string, unknown> = {};
  for (const [alias, attr] of Object.entries(names)) if (alias.startsWith('#s')) set[attr] = values[`:s${alias.slice(2)}`];
  const removed = Object.entries(names).filter(([a]) => a.startsWith('#r')).map(([, attr]) => attr);
  return { set, removed, input };
}

function storedSecrets(): Secret[] {
  return smMock.commandCalls(PutSecretValueCommand).map((c) => JSON.parse(c.args[0].input.SecretString!));
}

function deps(over: Partial<RefreshTeamDeps> = {}): RefreshTeamDeps & { refreshAccessToken: jest.Mock; countMetric: jest.Mock; writeLog: jest.Mock } {
  return {
    ddb,
    secrets,
    teamsTable: 'teams',
    teamSecretPrefix: 'p/',
    drchronoBaseUrl: 'https://drchrono.example',
    refreshAccessToken: jest.fn(async () => ({ accessToken: 'access-new', refreshToken: 'refresh-new', expiresIn: 172800 })),
    windowMs: WINDOW,
    owner: OWNER,
    now: () => NOW,
    countMetric: jest.fn(),
    writeLog: jest.fn(async () => undefined),
    ...over,
  } as RefreshTeamDeps & { refreshAccessToken: jest.Mock; countMetric: jest.Mock; writeLog: jest.Mock };
}

beforeEach(() => {
  ddbMock.reset();
  smMock.reset();
  smMock.on(PutSecretValueCommand).resolves({});
});

describe('refreshTeam: lease', () => {
  it('takes the lease with a conditional write that excludes a live lease, a backoff and a team that is not connected', async () => {
    leaseGranted();
    secretReads(SECRET);
    await refreshTeam(deps(), TEAM);
    const acquire = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(acquire.ConditionExpression).toContain('attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now');
    expect(acquire.ConditionExpression).toContain('refreshNotBefore <= :now');
    expect(acquire.ConditionExpression).toContain('#status = :connected');
    expect(acquire.ExpressionAttributeValues).toMatchObject({ ':now': NOW, ':until': NOW + 120_000, ':owner': OWNER });
  });

  it('does nothing when another refresher holds the lease: no secret read, no token request', async () => {
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('locked');
    expect(smMock.calls()).toHaveLength(0);
    expect(d.refreshAccessToken).not.toHaveBeenCalled();
  });

  it('does not start a token request when too little of the lease is left', async () => {
    leaseGranted();
    secretReads(SECRET);
    let t = NOW;
    const d = deps({ now: () => (t += 40_000) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('lease_too_short');
    expect(d.refreshAccessToken).not.toHaveBeenCalled();
    expect(releaseWrite().input.ExpressionAttributeValues).toMatchObject({ ':owner': OWNER });
  });
});

describe('refreshTeam: success and rotation', () => {
  it('refreshes with the refresh token read fresh from the secret and stores both new tokens before releasing the lease', async () => {
    leaseGranted();
    secretReads(SECRET);
    const order: string[] = [];
    smMock.on(PutSecretValueCommand).callsFake(() => (order.push('secret'), {}));
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM } };
      order.push(input.UpdateExpression?.startsWith('SET tokenVersion') ? 'claim' : 'release');
      return {};
    });
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('refreshed');
    expect(d.refreshAccessToken).toHaveBeenCalledTimes(1);
    expect(d.refreshAccessToken).toHaveBeenCalledWith({ baseUrl: 'https://drchrono.example', clientId: 'cid', clientSecret: 'csecret', refreshToken: 'refresh-old' });
    expect(storedSecrets()).toEqual([
      { ...SECRET, accessToken: 'access-new', refreshToken: 'refresh-new', accessTokenExpiresAt: NOW + 172800_000, tokenVersion: 4 },
    ]);
    expect(order).toEqual(['claim', 'secret', 'release']);
    const { set, removed } = releaseWrite();
    expect(set).toMatchObject({ tokenExpiresAt: NOW + 172800_000, lastRefreshOutcome: 'ok', refreshFailures: 0, refreshPartition: 'tokens' });
    expect(removed).toEqual(expect.arrayContaining(['refreshLeaseUntil', 'refreshLeaseOwner', 'refreshNotBefore', 'refreshRequestedAt']));
    expect(d.countMetric).toHaveBeenCalledWith('TokensRefreshed');
  });

  it('never sends a refresh token that was rotated away: a second refresh uses the token the first one stored', async () => {
    leaseGranted();
    const afterFirst = { ...SECRET, accessToken: 'access-new', refreshToken: 'refresh-new', accessTokenExpiresAt: NOW + HOUR, tokenVersion: 4 };
    secretReads(SECRET, afterFirst);
    const d = deps();
    d.refreshAccessToken
      .mockResolvedValueOnce({ accessToken: 'access-new', refreshToken: 'refresh-new', expiresIn: 3600 })
      .mockResolvedValueOnce({ accessToken: 'access-3', refreshToken: 'refresh-3', expiresIn: 172800 });
    await refreshTeam(d, TEAM);
    await refreshTeam(d, TEAM);
    const sent = d.refreshAccessToken.mock.calls.map((c) => (c[0] as { refreshToken: string }).refreshToken);
    expect(sent).toEqual(['refresh-old', 'refresh-new']);
  });

  it('skips the token request when the fresh secret shows someone else already refreshed, and mirrors its expiry', async () => {
    leaseGranted();
    const fresh = { ...SECRET, accessTokenExpiresAt: NOW + 47 * HOUR, tokenVersion: 4 };
    secretReads(fresh);
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('not_due');
    expect(d.refreshAccessToken).not.toHaveBeenCalled();
    expect(releaseWrite().set).toMatchObject({ tokenExpiresAt: NOW + 47 * HOUR });
  });

  it('refreshes a not-yet-due token when the request path asked for it after the last token write', async () => {
    leaseGranted({ ...TEAM_ITEM, refreshPartition: 'refresh-requested', refreshRequestedAt: NOW - 1000, tokensWrittenAt: NOW - HOUR });
    secretReads({ ...SECRET, accessTokenExpiresAt: NOW + 47 * HOUR });
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('refreshed');
    expect(d.refreshAccessToken).toHaveBeenCalledTimes(1);
  });

  it('skips a requested refresh when the rejected token is older than the stored one, and clears the stale request', async () => {
    leaseGranted({ ...TEAM_ITEM, refreshPartition: 'refresh-requested', refreshRequestedAt: NOW - 1000, refreshRequestedTokenVersion: 2, tokensWrittenAt: NOW - 5000 });
    secretReads({ ...SECRET, accessTokenExpiresAt: NOW + 47 * HOUR, tokenVersion: 3 });
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('not_due');
    expect(d.refreshAccessToken).not.toHaveBeenCalled();
    const { set, removed } = releaseWrite();
    expect(set.refreshPartition).toBe('tokens');
    expect(removed).toEqual(expect.arrayContaining(['refreshRequestedAt', 'refreshRequestedTokenVersion']));
  });

  it('still refreshes when the rejected token is the stored one', async () => {
    leaseGranted({ ...TEAM_ITEM, refreshPartition: 'refresh-requested', refreshRequestedAt: NOW - 1000, refreshRequestedTokenVersion: 3, tokensWrittenAt: NOW - 5000 });
    secretReads({ ...SECRET, accessTokenExpiresAt: NOW + 47 * HOUR, tokenVersion: 3 });
    await expect(refreshTeam(deps(), TEAM)).resolves.toBe('refreshed');
  });

  it('claims the next tokenVersion on the team item, while owning the lease, after pacing and before the secret write', async () => {
    leaseGranted({ ...TEAM_ITEM, tokenVersion: 8 });
    secretReads(SECRET);
    const order: string[] = [];
    smMock.on(PutSecretValueCommand).callsFake(() => (order.push('secret'), {}));
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM, tokenVersion: 8 } };
      if (input.UpdateExpression?.startsWith('SET tokenVersion')) order.push('claim');
      return {};
    });
    await expect(refreshTeam(deps({ beforeSecretWrite: async () => void order.push('pace') }), TEAM)).resolves.toBe('refreshed');
    expect(order).toEqual(['pace', 'claim', 'secret']);
    const claim = ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.UpdateExpression?.startsWith('SET tokenVersion'))!;
    expect(claim.ConditionExpression).toBe('refreshLeaseOwner = :owner AND (attribute_not_exists(tokenVersion) OR tokenVersion < :next)');
    // Above both the team item's last claim (8) and the secret's version (3).
    expect(claim.ExpressionAttributeValues).toMatchObject({ ':next': 9, ':owner': OWNER, ':until': NOW + 30_000 });
    expect(storedSecrets()[0]).toMatchObject({ tokenVersion: 9 });
  });

  it('drops its own result, writing nothing, when it lost the lease before the write (another writer took it)', async () => {
    leaseGranted();
    secretReads(SECRET);
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM } };
      throw new ConditionalCheckFailedException({ message: 'lost', $metadata: {} });
    });
    await expect(refreshTeam(deps(), TEAM)).resolves.toBe('error');
    expect(storedSecrets()).toHaveLength(0);
  });

  it('starts no secret write once its claim has run out, so a late write cannot land over a newer writer', async () => {
    leaseGranted();
    secretReads(SECRET);
    let clock = NOW;
    const d = deps({ now: () => clock });
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM } };
      // The writer stalls right after its claim, past the claim's hold.
      if (input.UpdateExpression?.startsWith('SET tokenVersion')) clock = NOW + 30_000;
      return {};
    });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('error');
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(releaseWrite().set).toMatchObject({ lastRefreshOutcome: 'tokens_not_stored' });
  });

  it('retries the secret write, because the new tokens exist nowhere else', async () => {
    leaseGranted();
    secretReads(SECRET);
    smMock.on(PutSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({});
    await expect(refreshTeam(deps(), TEAM)).resolves.toBe('refreshed');
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(2);
  });
});

describe('refreshTeam: tokens issued but not stored', () => {
  afterEach(() => jest.useRealTimers());

  it('records the lost tokens on the team item, counts and logs it when every secret write fails', async () => {
    jest.useFakeTimers({ now: NOW });
    leaseGranted();
    secretReads(SECRET);
    smMock.on(PutSecretValueCommand).rejects(new Error('ThrottlingException'));
    const d = deps();
    const outcome = refreshTeam(d, TEAM);
    await jest.runAllTimersAsync();
    await expect(outcome).resolves.toBe('error');
    const { set } = releaseWrite();
    expect(set).toMatchObject({ lastRefreshOutcome: 'tokens_not_stored', refreshUncertainSince: NOW, refreshFailures: 1, refreshNotBefore: NOW + 60_000 });
    expect(d.countMetric).toHaveBeenCalledWith('TokenRefreshFailed');
    expect(d.writeLog).toHaveBeenCalledWith(TEAM, expect.objectContaining({ outcome: 'failed', errorClass: 'TokensNotStoredError' }));
    expect(JSON.stringify(d.writeLog.mock.calls)).not.toMatch(/access-new|refresh-new/);
  });

  it('keeps the lease after every secret write failed, so no writer starts before a stalled write is surely dead', async () => {
    jest.useFakeTimers({ now: NOW });
    leaseGranted();
    secretReads(SECRET);
    smMock.on(PutSecretValueCommand).rejects(new Error('AbortError'));
    const outcome = refreshTeam(deps(), TEAM);
    await jest.runAllTimersAsync();
    await expect(outcome).resolves.toBe('error');
    const { set, removed, input } = releaseWrite();
    expect(set).toMatchObject({ lastRefreshOutcome: 'tokens_not_stored' });
    expect(removed).not.toContain('refreshLeaseUntil');
    expect(removed).not.toContain('refreshLeaseOwner');
    expect(input.UpdateExpression).not.toMatch(/refreshLease/);
  });

  it('keeps the lease even when recording the lost tokens fails', async () => {
    jest.useFakeTimers({ now: NOW });
    leaseGranted();
    secretReads(SECRET);
    smMock.on(PutSecretValueCommand).rejects(new Error('AbortError'));
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM } };
      if (input.ConditionExpression === 'refreshLeaseOwner = :owner') throw new Error('ProvisionedThroughputExceededException');
      return {};
    });
    const outcome = refreshTeam(deps(), TEAM);
    await jest.runAllTimersAsync();
    await expect(outcome).resolves.toBe('error');
    const releases = ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).filter((i) => i.ConditionExpression === 'refreshLeaseOwner = :owner');
    expect(releases.length).toBeGreaterThan(0);
    expect(releases.filter((i) => Object.values(i.ExpressionAttributeNames ?? {}).includes('refreshLeaseOwner'))).toHaveLength(0);
  });

  it('sends one ClientRequestToken per team and tokenVersion, the same on every retry of the write', async () => {
    jest.useFakeTimers({ now: NOW });
    leaseGranted();
    secretReads(SECRET);
    smMock.on(PutSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({});
    const outcome = refreshTeam(deps(), TEAM);
    await jest.runAllTimersAsync();
    await expect(outcome).resolves.toBe('refreshed');
    const tokens = smMock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens).toEqual([tokenWriteRequestToken(TEAM, 4), tokenWriteRequestToken(TEAM, 4)]);
    expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenWriteRequestToken(TEAM, 5)).not.toBe(tokens[0]);
  });

  it('stores a whole-millisecond expiry when DrChrono answers with a fractional expires_in', async () => {
    leaseGranted();
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => ({ accessToken: 'access-new', refreshToken: 'refresh-new', expiresIn: 172799.9996 })) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('refreshed');
    expect(Number.isInteger(storedSecrets()[0]!.accessTokenExpiresAt)).toBe(true);
  });
});

describe('refreshTeam: secret behind the team item', () => {
  it('refreshes at once and counts it when the secret holds an older tokenVersion than the team item claimed', async () => {
    const team = { ...TEAM_ITEM, tokenVersion: 5 };
    leaseGranted(team);
    // Not due by expiry: only the version gap makes it due.
    secretReads({ ...SECRET, accessTokenExpiresAt: NOW + 40 * HOUR, tokenVersion: 4 });
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('refreshed');
    expect(d.countMetric).toHaveBeenCalledWith('TokenSecretBehind');
    expect(storedSecrets()[0]).toMatchObject({ tokenVersion: 6, refreshToken: 'refresh-new' });
  });

  it('does not count a secret at the claimed version as behind', async () => {
    leaseGranted({ ...TEAM_ITEM, tokenVersion: 3 });
    secretReads({ ...SECRET, accessTokenExpiresAt: NOW + 40 * HOUR });
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('not_due');
    expect(d.countMetric).not.toHaveBeenCalled();
  });
});

describe('refreshTeam: invalid_grant', () => {
  it('re-reads the secret and stands down when another refresher already rotated the token', async () => {
    leaseGranted();
    const rotated = { ...SECRET, refreshToken: 'refresh-by-other', accessTokenExpiresAt: NOW + 48 * HOUR, tokenVersion: 4 };
    secretReads(SECRET, rotated);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(new InvalidGrantError({ status: 401 }))) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('not_due');
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(releaseWrite().set.status).toBeUndefined();
    expect(d.writeLog).not.toHaveBeenCalled();
  });

  it('marks the team reauthorization_required, takes it out of the index, logs and counts it when the grant is really dead', async () => {
    leaseGranted();
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(new InvalidGrantError({ status: 401 }))) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('reauthorization_required');
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    const { set, removed } = releaseWrite();
    expect(set).toMatchObject({ status: 'reauthorization_required', lastRefreshOutcome: 'invalid_grant' });
    expect(removed).toContain('refreshPartition');
    expect(d.countMetric).toHaveBeenCalledWith('TeamsReauthorizationRequired');
    expect(d.writeLog).toHaveBeenCalledWith(TEAM, expect.objectContaining({ entity: 'team', outcome: 'failed', errorClass: 'InvalidGrantError' }));
    expect(storedSecrets()).toHaveLength(0);
  });

  it('explains an invalid_grant that follows a refresh lost in transit', async () => {
    leaseGranted({ ...TEAM_ITEM, refreshUncertainSince: NOW - HOUR });
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(new InvalidGrantError({ status: 401 }))) });
    await refreshTeam(d, TEAM);
    const entry = d.writeLog.mock.calls[0]![1] as { errorMessage: string };
    expect(entry.errorMessage).toContain('may have rotated it');
  });
});

describe('refreshTeam: other failures', () => {
  it.each([
    ['a 5xx', new DrChronoServerError({ status: 502 })],
    ['a timeout', new DrChronoNetworkError('ECONNABORTED')],
  ])('backs off after %s, counts it, and remembers the refresh may have reached DrChrono', async (_label, error) => {
    leaseGranted({ ...TEAM_ITEM, refreshFailures: 2 });
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(error)) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('transient_error');
    const { set } = releaseWrite();
    expect(set).toMatchObject({ lastRefreshOutcome: 'transient_error', refreshFailures: 3, refreshNotBefore: NOW + 4 * 60_000, refreshUncertainSince: NOW });
    expect(set.status).toBeUndefined();
    expect(d.countMetric).toHaveBeenCalledWith('TokenRefreshFailed');
    expect(storedSecrets()).toHaveLength(0);
  });

  it('waits at least as long as DrChrono asks after a 429', async () => {
    leaseGranted();
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(new DrChronoRateLimitedError(1800))) });
    await refreshTeam(d, TEAM);
    expect(releaseWrite().set).toMatchObject({ refreshFailures: 1, refreshNotBefore: NOW + 1_800_000 });
    expect(releaseWrite().set.refreshUncertainSince).toBeUndefined();
  });

  it('caps the backoff at one hour', () => {
    expect([1, 2, 3, 7, 8, 30].map(refreshBackoffMs)).toEqual([60_000, 120_000, 240_000, 3_600_000, 3_600_000, 3_600_000]);
  });

  it('records invalid_client, keeps the team connected, logs it and backs off', async () => {
    leaseGranted();
    secretReads(SECRET);
    const d = deps({ refreshAccessToken: jest.fn(async () => Promise.reject(new InvalidClientError({ status: 401 }))) });
    await expect(refreshTeam(d, TEAM)).resolves.toBe('invalid_client');
    const { set } = releaseWrite();
    expect(set).toMatchObject({ lastRefreshOutcome: 'invalid_client', refreshFailures: 1 });
    expect(set.status).toBeUndefined();
    expect(d.writeLog).toHaveBeenCalledWith(TEAM, expect.objectContaining({ outcome: 'failed', errorClass: 'InvalidClientError' }));
  });

  it('releases the lease and reports an error when the secret cannot be read', async () => {
    leaseGranted();
    smMock.on(GetSecretValueCommand).rejects(new Error('boom'));
    const d = deps();
    await expect(refreshTeam(d, TEAM)).resolves.toBe('error');
    expect(d.refreshAccessToken).not.toHaveBeenCalled();
    releaseWrite();
  });
});
