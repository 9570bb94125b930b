import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { REFRESH_PARTITION_REQUESTED } from '../../../shared/oauth/refresh-index';
import { requestTokenRefresh } from '../../../shared/oauth/refresh-request';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = new Date('2026-11-21T10:00:00.000Z');

beforeEach(() => mock.reset());

describe('requestTokenRefresh', () => {
  it('moves a connected team into the requested partition of the expiry index with one UpdateItem, keeping the first request time', async () => {
    mock.on(UpdateCommand).resolves({});
    await expect(requestTokenRefresh(ddb, 'teams', TEAM, 'sync: 401 after re-read', NOW)).resolves.toBe(true);
    const calls = mock.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.Key).toEqual({ pk: TEAM, sk: 'TEAM' });
    expect(input.UpdateExpression).toContain('refreshRequestedAt = if_not_exists(refreshRequestedAt, :now)');
    expect(input.UpdateExpression).not.toContain('tokenExpiresAt');
    expect(input.ConditionExpression).toBe('attribute_exists(refreshPartition)');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':requested': REFRESH_PARTITION_REQUESTED, ':now': NOW.getTime() });
  });

  it('does nothing for a team that is not connected', async () => {
    mock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    await expect(requestTokenRefresh(ddb, 'teams', TEAM, 'sync', NOW)).resolves.toBe(false);
  });

  it('records the version of the token the request path saw rejected, so the sweep can tell a stale request', async () => {
    mock.on(UpdateCommand).resolves({});
    await requestTokenRefresh(ddb, 'teams', TEAM, 'sync: DrChrono answered 401', NOW, 7);
    const input = mock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).toContain('refreshRequestedTokenVersion = :tv');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':tv': 7 });
  });
});
