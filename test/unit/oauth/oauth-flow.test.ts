import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { InvalidGrantError, DrChronoServerError } from '../../../shared/drchrono/errors';
import { STATE_COOKIE_NAME } from '../../../shared/oauth/state-cookie';
import { completeAuthorization, startAuthorization, type OAuthFlowDeps } from '../../../shared/oauth/oauth-flow';
import { SYNC_SCOPES, WRITE_BACK_SCOPES } from '../../../shared/oauth/authorize-url';
import { signConnectLink, type SigningKey } from '../../../shared/oauth/connect-link';
import { captureOutput } from '../helpers/lambda';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const secrets = new SecretsManagerClient({ region: 'us-east-1' });
const sqs = new SQSClient({ region: 'us-east-1' });
const ddbMock = mockClient(ddb);
const smMock = mockClient(secrets);
const sqsMock = mockClient(sqs);

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = new Date('2026-11-21T10:00:00.000Z');
const STATE = 'S'.repeat(43);
const CODE = 'code-7f3a9c1e';
const ACCESS = 'access-11aa22bb33cc';
const REFRESH = 'refresh-44dd55ee66ff';
const BASE_SECRET = { clientId: 'cid', clientSecret: 'csecret', webhookSecret: 'whs' };
const TEAM_ITEM = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'registered', createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() };

const LINK_KEY: SigningKey = { id: 'k1', secret: 'unit-test-connect-link-key-0123456789abcdef' };
/** A valid connect link's query for TEAM (one day left). */
const signed = (over: { allowAccountChange?: boolean; expiresAt?: number } = {}) =>
  signConnectLink(LINK_KEY, { teamId: TEAM, expiresAt: over.expiresAt ?? NOW.getTime() / 1000 + 86_400, allowAccountChange: over.allowAccountChange ?? false });

function deps(over: Partial<OAuthFlowDeps> = {}): OAuthFlowDeps {
  return {
    ddb,
    secrets,
    sqs,
    teamsTable: 'teams',
    teamSecretPrefix: 'p/',
    drchronoBaseUrl: 'https://drchrono.example',
    redirectUri: 'https://api.example/integration-oauth/callback',
    backfillQueueUrl: 'https://sqs.example/backfill',
    readClientSecretCached: async () => BASE_SECRET,
    exchangeCode: jest.fn(async () => ({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 172800 })),
    fetchCurrentUser: jest.fn(async () => ({ id: 9001, username: 'dr.sandbox', doctor: 314, practiceGroup: 77 })),
    connectLinkKey: async (id) => (id === LINK_KEY.id ? LINK_KEY : undefined),
    now: () => NOW,
    ...over,
  };
}

function consumableState(): void {
  ddbMock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${STATE}`, sk: 'STATE', teamId: TEAM } });
  ddbMock.on(GetCommand).resolves({ Item: TEAM_ITEM });
  smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(BASE_SECRET) });
  smMock.on(PutSecretValueCommand).resolves({});
  ddbMock.on(UpdateCommand).callsFake(leaseOrWrite);
  sqsMock.on(SendMessageCommand).resolves({});
}

/** The lease acquire returns the team item (ALL_NEW); every other team write succeeds. */
function leaseOrWrite(input: UpdateCommandInput): Record<string, unknown> {
  if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) {
    return { Attributes: { ...TEAM_ITEM, refreshLeaseUntil: input.ExpressionAttributeValues?.[':until'], refreshLeaseOwner: input.ExpressionAttributeValues?.[':owner'] } };
  }
  return {};
}

/** UpdateItems of a kind: the callback's lease acquire, its tokenVersion claim, markTeamConnected, a bare release. */
function teamWrites(kind: 'lease' | 'claim' | 'connected' | 'release'): UpdateCommandInput[] {
  return ddbMock
    .commandCalls(UpdateCommand)
    .map((c) => c.args[0].input)
    .filter((i) => {
      const e = i.UpdateExpression ?? '';
      if (kind === 'lease') return e.startsWith('SET refreshLeaseUntil');
      if (kind === 'claim') return e.startsWith('SET tokenVersion');
      if (kind === 'connected') return e.includes('#status = :connected');
      return e.startsWith('REMOVE') && i.ConditionExpression === 'refreshLeaseOwner = :owner';
    });
}

function expectNothingStored(): void {
  expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  expect([...teamWrites('claim'), ...teamWrites('connected')]).toHaveLength(0);
}

beforeEach(() => {
  ddbMock.reset();
  smMock.reset();
  sqsMock.reset();
});

describe('startAuthorization', () => {
  it('redirects to DrChrono with client id, redirect URI, code response type, the sync scopes and a stored state', async () => {
    ddbMock.on(GetCommand).resolves({ Item: TEAM_ITEM });
    ddbMock.on(PutCommand).resolves({});
    const res = await startAuthorization(deps(), TEAM.toUpperCase(), signed());
    expect(res.statusCode).toBe(302);
    const url = new URL(res.headers.location!);
    expect(`${url.origin}${url.pathname}`).toBe('https://drchrono.example/o/authorize/');
    expect(url.searchParams.get('client_id')).toBe('cid');
    expect(url.searchParams.get('redirect_uri')).toBe('https://api.example/integration-oauth/callback');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')).toBe(SYNC_SCOPES.join(' '));
    const put = ddbMock.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.Item).toMatchObject({ pk: `STATE#${url.searchParams.get('state')}`, teamId: TEAM });
    expect(res.headers['cache-control']).toBe('no-store');
    // The state is bound to this browser: HttpOnly, Secure, Lax, scoped to the callback, as long-lived as the state.
    expect(res.cookies).toEqual([
      `${STATE_COOKIE_NAME}=${url.searchParams.get('state')}; Max-Age=600; Path=/integration-oauth/callback; HttpOnly; Secure; SameSite=Lax`,
    ]);
  });

  it('answers 404 for an unknown team and stores no state', async () => {
    ddbMock.on(GetCommand).resolves({});
    const res = await startAuthorization(deps(), TEAM, signed());
    expect(res.statusCode).toBe(404);
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 404 for a team id that is not a UUID without reading anything', async () => {
    const res = await startAuthorization(deps(), '../../etc', signed());
    expect(res.statusCode).toBe(404);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('refuses a disabled team', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, status: 'disabled' } });
    expect((await startAuthorization(deps(), TEAM, signed())).statusCode).toBe(403);
  });
});

/** The cookies of the browser that started the flow for `state`. */
const sameBrowser = (state: string) => [`other=1`, `${STATE_COOKIE_NAME}=${state}`];

describe('completeAuthorization', () => {
  it('refuses a state from a browser without the state cookie, and leaves the state unused', async () => {
    consumableState();
    const d = deps();
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, ['other=1']);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('same browser');
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(0);
    expect(d.exchangeCode).not.toHaveBeenCalled();
    expectNothingStored();
  });

  it('refuses a state whose cookie belongs to another flow', async () => {
    consumableState();
    const d = deps();
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser('B'.repeat(43)));
    expect(res.statusCode).toBe(400);
    expect(d.exchangeCode).not.toHaveBeenCalled();
  });

  it('clears the state cookie on every answer', async () => {
    consumableState();
    const ok = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    const bad = await completeAuthorization(deps(), { code: CODE, state: STATE }, []);
    for (const res of [ok, bad]) expect(res.cookies).toContain(`${STATE_COOKIE_NAME}=; Max-Age=0; Path=/integration-oauth/callback; HttpOnly; Secure; SameSite=Lax`);
  });

  it('exchanges the code, stores both tokens and the absolute expiry in the secret, then marks the team connected', async () => {
    consumableState();
    const d = deps();
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    expect(d.exchangeCode).toHaveBeenCalledWith(expect.objectContaining({ code: CODE, clientId: 'cid', clientSecret: 'csecret', redirectUri: d.redirectUri }));
    expect(d.fetchCurrentUser).toHaveBeenCalledWith({ baseUrl: d.drchronoBaseUrl, accessToken: ACCESS });

    const stored = JSON.parse(smMock.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!);
    expect(stored).toEqual({ ...BASE_SECRET, accessToken: ACCESS, refreshToken: REFRESH, accessTokenExpiresAt: NOW.getTime() + 172800_000, tokenVersion: 1 });

    const update = teamWrites('connected')[0]!;
    expect(update.ExpressionAttributeValues).toMatchObject({
      ':connected': 'connected',
      ':uid': 9001,
      ':uname': 'dr.sandbox',
      ':doc': 314,
      ':pg': 77,
      ':exp': NOW.getTime() + 172800_000,
      ':part': 'tokens',
    });
    expect(update.UpdateExpression).toContain('REMOVE reauthRequiredAt');
  });

  it('writes the secret before the team item, so a connected team always has tokens', async () => {
    consumableState();
    const order: string[] = [];
    smMock.on(PutSecretValueCommand).callsFake(() => (order.push('secret'), {}));
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if ((input.UpdateExpression ?? '').includes('#status = :connected')) order.push('team');
      return leaseOrWrite(input);
    });
    await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(order).toEqual(['secret', 'team']);
  });

  it('enqueues one backfill start message for the team', async () => {
    consumableState();
    await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    const sent = sqsMock.commandCalls(SendMessageCommand);
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!.args[0].input.MessageBody!)).toEqual({ type: 'start', teamId: TEAM });
  });

  it('never echoes the code or a token in the page', async () => {
    consumableState();
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    for (const secret of [CODE, ACCESS, REFRESH, STATE]) expect(res.body).not.toContain(secret);
  });

  it('rejects a tampered state with 400 and stores nothing', async () => {
    consumableState();
    const d = deps();
    const res = await completeAuthorization(d, { code: CODE, state: `${STATE.slice(0, 42)}!` }, sameBrowser(`${STATE.slice(0, 42)}!`));
    expect(res.statusCode).toBe(400);
    expect(d.exchangeCode).not.toHaveBeenCalled();
    expectNothingStored();
  });

  it('rejects a reused state with 400 and stores nothing', async () => {
    consumableState();
    ddbMock.on(DeleteCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const d = deps();
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Invalid link');
    expect(d.exchangeCode).not.toHaveBeenCalled();
    expectNothingStored();
  });

  it('rejects an expired state with a "link expired" page and stores nothing', async () => {
    consumableState();
    ddbMock.on(DeleteCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: { pk: { S: 'x' } } }));
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Link expired');
    expectNothingStored();
  });

  it('shows a clear page on access_denied, uses up the state and stores nothing', async () => {
    consumableState();
    const d = deps();
    const res = await completeAuthorization(d, { error: 'access_denied', state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Connection cancelled');
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(1);
    expect(d.exchangeCode).not.toHaveBeenCalled();
    expectNothingStored();
  });

  it('answers 400 when the code or state is missing', async () => {
    consumableState();
    expect((await completeAuthorization(deps(), { state: STATE }, sameBrowser(STATE))).statusCode).toBe(400);
    expect((await completeAuthorization(deps(), { code: CODE })).statusCode).toBe(400);
    expect((await completeAuthorization(deps(), undefined)).statusCode).toBe(400);
  });

  it('treats a code DrChrono rejects (invalid_grant) as an expired link and stores nothing', async () => {
    consumableState();
    const res = await completeAuthorization(deps({ exchangeCode: async () => Promise.reject(new InvalidGrantError({ status: 400 })) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(400);
    expectNothingStored();
  });

  it('answers 502 when DrChrono fails the exchange', async () => {
    consumableState();
    const res = await completeAuthorization(deps({ exchangeCode: async () => Promise.reject(new DrChronoServerError({ status: 503 })) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(502);
    expectNothingStored();
  });

  it('stores nothing when the user lookup fails (the account cannot be checked against the binding)', async () => {
    consumableState();
    const res = await completeAuthorization(deps({ fetchCurrentUser: async () => Promise.reject(new DrChronoServerError({ status: 500 })) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(502);
    expectNothingStored();
    expect(teamWrites('release')).toHaveLength(1);
    expect(res.body).not.toContain(ACCESS);
  });
});

describe('completeAuthorization: the token lease shared with the refresher', () => {
  it('takes the lease before the code exchange, claims the next tokenVersion before the secret write, and releases with the connection', async () => {
    consumableState();
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, tokenVersion: 6 } });
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ ...BASE_SECRET, tokenVersion: 4 }) });
    const order: string[] = [];
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      const e = input.UpdateExpression ?? '';
      order.push(e.startsWith('SET refreshLeaseUntil') ? 'lease' : e.startsWith('SET tokenVersion') ? 'claim' : e.includes(':connected') ? 'connected' : 'other');
      if (e.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...TEAM_ITEM, tokenVersion: 6 } };
      return {};
    });
    smMock.on(PutSecretValueCommand).callsFake(() => (order.push('secret'), {}));
    const d = deps({ exchangeCode: jest.fn(async () => (order.push('exchange'), { accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 172800 })) });
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    expect(order).toEqual(['lease', 'exchange', 'claim', 'secret', 'connected']);

    const lease = teamWrites('lease')[0]!;
    expect(lease.ConditionExpression).toBe('attribute_exists(pk) AND (attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now)');
    const owner = lease.ExpressionAttributeValues?.[':owner'];
    const claim = teamWrites('claim')[0]!;
    expect(claim.ConditionExpression).toBe('refreshLeaseOwner = :owner AND (attribute_not_exists(tokenVersion) OR tokenVersion < :next)');
    expect(claim.ExpressionAttributeValues).toMatchObject({ ':next': 7, ':owner': owner });
    expect(JSON.parse(smMock.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!).tokenVersion).toBe(7);
    const connected = teamWrites('connected')[0]!;
    expect(connected.ConditionExpression).toBe('attribute_exists(pk) AND #status <> :removingStatus AND #status <> :removedStatus AND tokenVersion = :v AND refreshLeaseOwner = :owner');
    expect(connected.ExpressionAttributeValues).toMatchObject({ ':v': 7, ':owner': owner });
    expect(connected.UpdateExpression).toContain('refreshLeaseUntil, refreshLeaseOwner');
    expect(teamWrites('release')).toHaveLength(0);
  });

  it('waits for a refresher holding the lease, then exchanges once it is released', async () => {
    consumableState();
    let busy = 2;
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil') && busy-- > 0) throw new ConditionalCheckFailedException({ message: 'held', $metadata: {} });
      return leaseOrWrite(input);
    });
    const sleeps: number[] = [];
    const d = deps({ sleep: async (ms) => void sleeps.push(ms) });
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    expect(sleeps).toHaveLength(2);
    expect(d.exchangeCode).toHaveBeenCalledTimes(1);
  });

  it('answers 503 "try again" without spending the code when the lease stays held', async () => {
    consumableState();
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'held', $metadata: {} }));
    let clock = NOW.getTime();
    const d = deps({ now: () => new Date(clock), sleep: async (ms) => void (clock += ms) });
    const res = await completeAuthorization(d, { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('try again in a minute');
    expect(d.exchangeCode).not.toHaveBeenCalled();
    expect(clock - NOW.getTime()).toBeLessThanOrEqual(5_000);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('writes no secret when the lease was lost before the claim (another writer holds it now)', async () => {
    consumableState();
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET tokenVersion')) throw new ConditionalCheckFailedException({ message: 'lost', $metadata: {} });
      return leaseOrWrite(input);
    });
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(500);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(teamWrites('connected')).toHaveLength(0);
  });

  it('releases the lease when the exchange fails, so the refresher is not held up', async () => {
    consumableState();
    await completeAuthorization(deps({ exchangeCode: async () => Promise.reject(new DrChronoServerError({ status: 503 })) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    const owner = teamWrites('lease')[0]!.ExpressionAttributeValues?.[':owner'];
    expect(teamWrites('release').map((r) => r.ExpressionAttributeValues?.[':owner'])).toEqual([owner]);
  });

  it('does not release the lease after a failed or aborted secret write: it runs out at the claim end, after any stalled write', async () => {
    jest.useFakeTimers({ now: NOW });
    try {
      consumableState();
      smMock.on(PutSecretValueCommand).rejects(new Error('ThrottlingException'));
      const done = completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE)).then(
        () => 'answered',
        () => 'threw',
      );
      await jest.runAllTimersAsync();
      await done;
      expect(smMock.commandCalls(PutSecretValueCommand).length).toBeGreaterThan(1);
      expect(teamWrites('claim')).toHaveLength(1);
      expect(teamWrites('release')).toHaveLength(0);
      expect(teamWrites('connected')).toHaveLength(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('startAuthorization: signed connect links', () => {
  it.each([
    ['an unsigned link', () => ({}), 403, 'Connection link not valid'],
    ['an altered link', () => ({ ...signed(), exp: String(NOW.getTime() / 1000 + 999_999) }), 403, 'Connection link not valid'],
    ['an expired link', () => signed({ expiresAt: NOW.getTime() / 1000 - 1 }), 410, 'Connection link expired'],
  ])('refuses %s with a clear page and reads or writes nothing', async (_name, query, status, title) => {
    const counted: string[] = [];
    const res = await startAuthorization(deps({ countMetric: (n) => counted.push(n) }), TEAM, query());
    expect(res.statusCode).toBe(status);
    expect(res.body).toContain(title);
    expect(res.cookies).toBeUndefined();
    expect(ddbMock.calls()).toHaveLength(0);
    expect(counted).toEqual(['ConnectLinkRefused']);
  });

  it('stores the link id of an account-change link with the state', async () => {
    ddbMock.on(GetCommand).resolves({ Item: TEAM_ITEM });
    ddbMock.on(PutCommand).resolves({});
    const q = signed({ allowAccountChange: true });
    expect((await startAuthorization(deps(), TEAM, q)).statusCode).toBe(302);
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ accountChangeLinkId: q.lid });
  });

  it('stores no link id for an ordinary link', async () => {
    ddbMock.on(GetCommand).resolves({ Item: TEAM_ITEM });
    ddbMock.on(PutCommand).resolves({});
    await startAuthorization(deps(), TEAM, signed());
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).not.toHaveProperty('accountChangeLinkId');
  });
});

describe('completeAuthorization: the team stays bound to its DrChrono account', () => {
  const BOUND = { ...TEAM_ITEM, status: 'connected', boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77', tokenVersion: 3 };
  const OTHER_USER = { id: 9201, username: 'other.practice', doctor: 999, practiceGroup: 88 };
  const LINK_ID = 'L'.repeat(22);

  function boundTeam(team: Record<string, unknown>, linkId?: string): void {
    consumableState();
    ddbMock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${STATE}`, sk: 'STATE', teamId: TEAM, ...(linkId ? { accountChangeLinkId: linkId } : {}) } });
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) =>
      input.UpdateExpression?.startsWith('SET refreshLeaseUntil') ? { Attributes: { ...team, refreshLeaseOwner: input.ExpressionAttributeValues?.[':owner'] } } : {},
    );
  }

  it('records the binding in the tokenVersion claim on the first connection', async () => {
    consumableState();
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    const claim = teamWrites('claim')[0]!;
    expect(claim.UpdateExpression).toContain('boundDrchronoUserId = :buid');
    expect(claim.UpdateExpression).toContain('accountBoundAt = :bat');
    expect(claim.ExpressionAttributeValues).toMatchObject({ ':buid': 9001, ':bpg': '77' });
  });

  it('refuses another account: no claim, no secret write, a clear 403 page, the lease released, counted and logged with ids only', async () => {
    boundTeam(BOUND);
    const counted: string[] = [];
    const logs = captureOutput();
    let res;
    try {
      res = await completeAuthorization(deps({ fetchCurrentUser: async () => OTHER_USER, countMetric: (n) => counted.push(n) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    } finally {
      jest.restoreAllMocks();
    }
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Different DrChrono account');
    expectNothingStored();
    expect(teamWrites('release')).toHaveLength(1);
    expect(counted).toEqual(['AccountChangeRefused']);
    const line = logs.find((l) => l.includes('another DrChrono account refused'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ teamId: TEAM, outcome: 'account_mismatch', drchronoUserId: 9201, drchronoPracticeGroup: '88', boundDrchronoUserId: 9001 });
    expect(line).not.toContain('other.practice');
    expect(line).not.toContain(ACCESS);
  });

  it('reconnects the bound account without spending a permission', async () => {
    boundTeam(BOUND, LINK_ID);
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    const claim = teamWrites('claim')[0]!;
    expect(claim.UpdateExpression).not.toContain('accountChangeLinksUsed');
    expect(claim.UpdateExpression).not.toContain('accountBoundAt');
  });

  it('allows another account once with a permission: the claim spends the link id (conditionally) and rebinds', async () => {
    boundTeam(BOUND, LINK_ID);
    const res = await completeAuthorization(deps({ fetchCurrentUser: async () => OTHER_USER }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    const claim = teamWrites('claim')[0]!;
    expect(claim.UpdateExpression).toContain('ADD accountChangeLinksUsed :lids');
    expect(claim.ConditionExpression).toContain('NOT contains(accountChangeLinksUsed, :lid)');
    expect(claim.ExpressionAttributeValues).toMatchObject({ ':buid': 9201, ':bpg': '88', ':lid': LINK_ID, ':lids': new Set([LINK_ID]) });
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(teamWrites('connected')).toHaveLength(1);
  });

  it('starts a backfill of the new account that replaces a running one (a connect start would be ignored beside it)', async () => {
    boundTeam(BOUND, LINK_ID);
    await completeAuthorization(deps({ fetchCurrentUser: async () => OTHER_USER }), { code: CODE, state: STATE }, sameBrowser(STATE));
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!));
    expect(sent).toEqual([{ type: 'start', teamId: TEAM, jobId: expect.stringMatching(/^account-change-/) }]);
  });

  it('a reconnect of the bound account sends a plain connect start, which never replaces a running backfill', async () => {
    boundTeam(BOUND, LINK_ID);
    await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(sqsMock.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!))).toEqual([{ type: 'start', teamId: TEAM }]);
  });

  it('refuses another account when the permission was already spent, with its own page', async () => {
    boundTeam({ ...BOUND, accountChangeLinksUsed: new Set([LINK_ID]) }, LINK_ID);
    const counted: string[] = [];
    const res = await completeAuthorization(deps({ fetchCurrentUser: async () => ({ ...OTHER_USER, id: 9301 }), countMetric: (n) => counted.push(n) }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Account change already used');
    expectNothingStored();
    expect(counted).toEqual(['AccountChangeRefused']);
  });

  it('writes nothing when the permission is spent between the check and the claim (the claim condition fails)', async () => {
    boundTeam(BOUND, LINK_ID);
    ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (input.UpdateExpression?.startsWith('SET refreshLeaseUntil')) return { Attributes: { ...BOUND } };
      if (input.UpdateExpression?.startsWith('SET tokenVersion')) throw new ConditionalCheckFailedException({ message: 'spent', $metadata: {} });
      return {};
    });
    const res = await completeAuthorization(deps({ fetchCurrentUser: async () => OTHER_USER }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(500);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(teamWrites('connected')).toHaveLength(0);
  });
});

describe('write-back scopes (docs/write-back.md, "Opt-in per team")', () => {
  const WRITE_SCOPES = [...SYNC_SCOPES, ...WRITE_BACK_SCOPES];

  it('asks only for the sync scopes for a team without write-back, and stores them with the state', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, writeBack: false } });
    ddbMock.on(PutCommand).resolves({});
    const res = await startAuthorization(deps(), TEAM, signed());
    expect(new URL(res.headers.location!).searchParams.get('scope')).toBe(SYNC_SCOPES.join(' '));
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ scopes: [...SYNC_SCOPES] });
  });

  it('asks for the write scopes too for a team with write-back on, and stores them with the state', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, writeBack: true } });
    ddbMock.on(PutCommand).resolves({});
    const res = await startAuthorization(deps(), TEAM, signed());
    expect(new URL(res.headers.location!).searchParams.get('scope')).toBe('patients:read calendar:read user:read patients:write calendar:write');
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ scopes: WRITE_SCOPES });
  });

  function stateWithScopes(scopes?: string[]): void {
    consumableState();
    ddbMock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${STATE}`, sk: 'STATE', teamId: TEAM, ...(scopes ? { scopes } : {}) } });
  }

  it("records the state's requested scopes as grantedScopes in the connection write, conditional on the claimed tokenVersion", async () => {
    stateWithScopes(WRITE_SCOPES);
    const res = await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(res.statusCode).toBe(200);
    const connected = teamWrites('connected')[0]!;
    expect(connected.UpdateExpression).toContain('grantedScopes = :scopes');
    expect(connected.ExpressionAttributeValues).toMatchObject({ ':scopes': WRITE_SCOPES, ':v': 1 });
    expect(connected.ConditionExpression).toContain('tokenVersion = :v');
    // Nothing else writes the scopes: not the claim, not a separate update.
    expect(teamWrites('claim')[0]!.UpdateExpression).not.toContain('grantedScopes');
  });

  it('records what the flow asked for, not the team setting at callback time (write-back switched off meanwhile)', async () => {
    stateWithScopes(WRITE_SCOPES);
    ddbMock.on(GetCommand).resolves({ Item: { ...TEAM_ITEM, writeBack: false } });
    await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(teamWrites('connected')[0]!.ExpressionAttributeValues).toMatchObject({ ':scopes': WRITE_SCOPES });
  });

  it('records only the requested scopes DrChrono says it granted when the token response has a scope', async () => {
    stateWithScopes(WRITE_SCOPES);
    const exchangeCode = jest.fn(async () => ({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 172800, scope: 'patients:read calendar:read user:read patients:write settings:read' }));
    await completeAuthorization(deps({ exchangeCode }), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(teamWrites('connected')[0]!.ExpressionAttributeValues).toMatchObject({ ':scopes': ['patients:read', 'calendar:read', 'user:read', 'patients:write'] });
  });

  it('records the sync scopes for a state written before states carried scopes (those asked for the sync scopes)', async () => {
    stateWithScopes(undefined);
    await completeAuthorization(deps(), { code: CODE, state: STATE }, sameBrowser(STATE));
    expect(teamWrites('connected')[0]!.ExpressionAttributeValues).toMatchObject({ ':scopes': [...SYNC_SCOPES] });
  });
});
