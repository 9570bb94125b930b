import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { consumeOAuthState, createOAuthState, STATE_TTL_SECONDS } from '../../../shared/oauth/oauth-state';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = new Date('2026-11-21T10:00:00.000Z');
const NONCE = 'A'.repeat(43);

beforeEach(() => mock.reset());

describe('createOAuthState', () => {
  it('stores a fresh 32-byte base64url nonce bound to the team, expiring in 10 minutes', async () => {
    mock.on(PutCommand).resolves({});
    const a = await createOAuthState(ddb, 'teams', TEAM, NOW);
    const b = await createOAuthState(ddb, 'teams', TEAM, NOW);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    const input = mock.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input.Item).toMatchObject({ pk: `STATE#${a}`, sk: 'STATE', teamId: TEAM, expiresAt: NOW.getTime() / 1000 + STATE_TTL_SECONDS });
    expect(input.ConditionExpression).toBe('attribute_not_exists(pk)');
  });
});

describe('consumeOAuthState', () => {
  it('deletes the state in one conditional DeleteItem and returns its team', async () => {
    mock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${NONCE}`, sk: 'STATE', teamId: TEAM } });
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: true, teamId: TEAM });
    const input = mock.commandCalls(DeleteCommand)[0]!.args[0].input;
    expect(input.Key).toEqual({ pk: `STATE#${NONCE}`, sk: 'STATE' });
    expect(input.ConditionExpression).toContain('expiresAt > :now');
    expect(input.ExpressionAttributeValues).toEqual({ ':now': NOW.getTime() / 1000 });
    expect(input.ReturnValues).toBe('ALL_OLD');
  });

  it('rejects a reused or unknown state as invalid (the condition fails and no item comes back)', async () => {
    mock.on(DeleteCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: false, reason: 'invalid' });
  });

  it('rejects an expired state as expired (the condition fails on an item that still exists)', async () => {
    mock
      .on(DeleteCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: { pk: { S: `STATE#${NONCE}` } } }));
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: false, reason: 'expired' });
  });

  it.each([
    ['too short', 'abc'],
    ['a character outside base64url', `${'A'.repeat(42)}=`],
    ['not a string', 42],
    ['missing', undefined],
  ])('rejects a tampered state (%s) without touching DynamoDB', async (_label, state) => {
    await expect(consumeOAuthState(ddb, 'teams', state, NOW)).resolves.toEqual({ ok: false, reason: 'invalid' });
    expect(mock.calls()).toHaveLength(0);
  });

  it('rejects a state whose stored team id is not a team id', async () => {
    mock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${NONCE}`, sk: 'STATE', teamId: 'nope' } });
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: false, reason: 'invalid' });
  });

  it('returns the scopes the flow asked for, and none when the stored value is not a list of strings', async () => {
    mock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${NONCE}`, sk: 'STATE', teamId: TEAM, scopes: ['patients:read', 'patients:write'] } });
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: true, teamId: TEAM, scopes: ['patients:read', 'patients:write'] });
    mock.on(DeleteCommand).resolves({ Attributes: { pk: `STATE#${NONCE}`, sk: 'STATE', teamId: TEAM, scopes: 'patients:write' } });
    await expect(consumeOAuthState(ddb, 'teams', NONCE, NOW)).resolves.toEqual({ ok: true, teamId: TEAM });
  });
});

describe('createOAuthState: scopes', () => {
  it('stores the scopes the authorize redirect asks for with the state', async () => {
    mock.on(PutCommand).resolves({});
    await createOAuthState(ddb, 'teams', TEAM, NOW, { scopes: ['patients:read', 'calendar:write'] });
    expect(mock.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({ scopes: ['patients:read', 'calendar:write'] });
  });
});
