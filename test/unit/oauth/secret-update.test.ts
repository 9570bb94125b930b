import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretUpdateError, updateTeamSecretUnderLease, type SecretUpdateDeps } from '../../../shared/oauth/secret-update';
import { tokenWriteRequestToken } from '../../../shared/oauth/token-secret';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const secrets = new SecretsManagerClient({ region: 'us-east-1' });
const ddbMock = mockClient(ddb);
const smMock = mockClient(secrets);

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = Date.parse('2026-11-30T06:00:00.000Z');
const SECRET = { clientId: 'cid', clientSecret: 'old-client-secret', webhookSecret: 'whs', accessToken: 'at', refreshToken: 'rt', tokenVersion: 3 };
const TEAM_ITEM = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z', tokenVersion: 4 };

const isAcquire = (i: UpdateCommandInput) => i.UpdateExpression?.startsWith('SET refreshLeaseUntil = :until, refreshLeaseOwner') ?? false;
const isClaim = (i: UpdateCommandInput) => i.UpdateExpression?.startsWith('SET tokenVersion') ?? false;
const isRelease = (i: UpdateCommandInput) => i.ConditionExpression === 'refreshLeaseOwner = :owner' && !isClaim(i);

function deps(over: Partial<SecretUpdateDeps> = {}): SecretUpdateDeps {
  return { ddb, secrets, teamsTable: 'teams', teamSecretPrefix: 'p/', now: () => NOW, sleep: async () => undefined, leaseWaitMs: 1_000, ...over };
}

/** Every DynamoDB/Secrets Manager call in order, as short names (recorded by the fakes below). */
let order: string[] = [];
const calls = () => order;
const nameOf = (input: UpdateCommandInput) => (isAcquire(input) ? 'acquire' : isClaim(input) ? 'claim' : isRelease(input) ? 'release' : 'update');

/** DynamoDB UpdateItem behaviour by kind; records the call first. */
function updates(fake: (kind: string, input: UpdateCommandInput) => unknown): void {
  ddbMock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
    order.push(nameOf(input));
    return fake(nameOf(input), input);
  });
}

beforeEach(() => {
  ddbMock.reset();
  smMock.reset();
  order = [];
  ddbMock.on(GetCommand).callsFake(() => {
    order.push('getTeam');
    return { Item: TEAM_ITEM };
  });
  updates((kind) => (kind === 'acquire' ? { Attributes: { ...TEAM_ITEM, refreshLeaseOwner: 'x' } } : {}));
  smMock.on(GetSecretValueCommand).callsFake(() => {
    order.push('read');
    return { SecretString: JSON.stringify(SECRET) };
  });
  smMock.on(PutSecretValueCommand).callsFake(() => {
    order.push('write');
    return {};
  });
});

describe('updateTeamSecretUnderLease', () => {
  it('takes the token lease, reads the secret fresh, claims the next tokenVersion, writes, then releases', async () => {
    const r = await updateTeamSecretUnderLease(deps(), TEAM, (s) => ({ ...s, clientSecret: 'new-client-secret' }));
    expect(calls()).toEqual(['getTeam', 'acquire', 'read', 'claim', 'write', 'release']);
    const put = smMock.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    // The tokens as read are kept; the version is above both the team item's claim (4) and the secret's (3).
    expect(JSON.parse(put.SecretString!)).toEqual({ ...SECRET, clientSecret: 'new-client-secret', tokenVersion: 5 });
    expect(put.ClientRequestToken).toBe(tokenWriteRequestToken(TEAM, 5));
    expect(r.tokenVersion).toBe(5);
  });

  it('writes nothing when a refresher keeps the lease past the wait', async () => {
    updates(() => {
      throw new ConditionalCheckFailedException({ message: 'held', $metadata: {} });
    });
    let t = NOW;
    const waited = deps({ now: () => t, sleep: async (ms) => void (t += ms) });
    await expect(updateTeamSecretUnderLease(waited, TEAM, (s) => s)).rejects.toThrow(/holding the secret; nothing changed/);
    expect(t - NOW).toBeGreaterThanOrEqual(750);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('writes nothing when the version claim fails (another writer took the lease)', async () => {
    updates((kind) => {
      if (kind === 'acquire') return { Attributes: TEAM_ITEM };
      if (kind === 'claim') throw new ConditionalCheckFailedException({ message: 'lost', $metadata: {} });
      return {};
    });
    await expect(updateTeamSecretUnderLease(deps(), TEAM, (s) => s)).rejects.toThrow(SecretUpdateError);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('keeps the lease after a failed write, since the write may still land', async () => {
    smMock.on(PutSecretValueCommand).callsFake(() => {
      order.push('write');
      throw new Error('timeout');
    });
    await expect(updateTeamSecretUnderLease(deps(), TEAM, (s) => s)).rejects.toThrow(/may still have been applied/);
    expect(calls().filter((c) => c === 'release')).toEqual([]);
  });

  it('releases the lease and writes nothing when the change refuses the secret', async () => {
    await expect(
      updateTeamSecretUnderLease(deps(), TEAM, () => {
        throw new RangeError('no');
      }),
    ).rejects.toThrow('no');
    expect(calls()).toEqual(['getTeam', 'acquire', 'read', 'release']);
  });

  it('refuses a team that is being removed without taking or waiting for the lease', async () => {
    ddbMock.on(GetCommand).callsFake(() => {
      order.push('getTeam');
      return { Item: { ...TEAM_ITEM, status: 'removing' } };
    });
    await expect(updateTeamSecretUnderLease(deps(), TEAM, (s) => s)).rejects.toThrow(`team ${TEAM} is being removed; nothing changed`);
    expect(calls()).toEqual(['getTeam']);
  });

  it('says the team is being removed when a removal started while it waited for the lease', async () => {
    let reads = 0;
    ddbMock.on(GetCommand).callsFake(() => {
      order.push('getTeam');
      return { Item: { ...TEAM_ITEM, status: reads++ === 0 ? 'connected' : 'removing' } };
    });
    updates(() => {
      throw new ConditionalCheckFailedException({ message: 'held', $metadata: {} });
    });
    let t = NOW;
    const waited = deps({ now: () => t, sleep: async (ms) => void (t += ms) });
    await expect(updateTeamSecretUnderLease(waited, TEAM, (s) => s)).rejects.toThrow(/is being removed; nothing changed/);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('refuses a team that is not registered without taking a lease', async () => {
    ddbMock.on(GetCommand).callsFake(() => {
      order.push('getTeam');
      return {};
    });
    await expect(updateTeamSecretUnderLease(deps(), TEAM, (s) => s)).rejects.toThrow(/not registered/);
    expect(calls()).toEqual(['getTeam']);
  });
});
