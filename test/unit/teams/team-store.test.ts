import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { addWebhookCounts, createTeamItem, listTeamItems, TeamExistsError, teamItemExists } from '../../../shared/teams/team-store';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const ddbMock = mockClient(DynamoDBDocumentClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ccf = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

afterEach(() => ddbMock.reset());

describe('team store', () => {
  it('creates a registered team only if none exists', async () => {
    ddbMock.on(PutCommand).resolves({});
    const team = await createTeamItem(ddb, 'teams', TEAM, new Date('2026-11-21T10:00:00Z'));
    expect(team).toMatchObject({ pk: TEAM, sk: 'TEAM', status: 'registered', createdAt: '2026-11-21T10:00:00.000Z' });
    expect(ddbMock.commandCalls(PutCommand)[0]!.args[0].input.ConditionExpression).toBe('attribute_not_exists(pk)');
  });

  it('reports an already registered team as TeamExistsError', async () => {
    ddbMock.on(PutCommand).rejects(ccf());
    await expect(createTeamItem(ddb, 'teams', TEAM)).rejects.toBeInstanceOf(TeamExistsError);
  });

  it('checks existence with a key-only read', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { pk: TEAM } });
    expect(await teamItemExists(ddb, 'teams', TEAM)).toBe(true);
    expect(ddbMock.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({ Key: { pk: TEAM, sk: 'TEAM' }, ProjectionExpression: 'pk' });
    ddbMock.on(GetCommand).resolves({});
    expect(await teamItemExists(ddb, 'teams', TEAM)).toBe(false);
  });

  it('lists only team items, following scan pages', async () => {
    ddbMock
      .on(ScanCommand)
      .resolvesOnce({ Items: [{ pk: 'b', sk: 'TEAM', teamId: 'b', status: 'registered', createdAt: '2', updatedAt: '2' }], LastEvaluatedKey: { pk: 'b' } })
      .resolvesOnce({ Items: [{ pk: 'a', sk: 'TEAM', teamId: 'a', status: 'connected', createdAt: '1', updatedAt: '1' }] });
    const teams = await listTeamItems(ddb, 'teams');
    expect(teams.map((t) => t.teamId)).toEqual(['a', 'b']);
    expect(ddbMock.commandCalls(ScanCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual({ pk: 'b' });
  });

  it('adds counters and moves lastDeliveryAt forward in one update', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    await addWebhookCounts(ddb, 'teams', TEAM, { ignored: 1 }, '2026-11-21T10:00:00.000Z');
    const calls = ddbMock.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.UpdateExpression).toBe('SET lastDeliveryAt = :ld ADD webhooksIgnored :ignored');
  });

  it('never adds to webhooksProcessed: processed deliveries are counted from the integration log (webhook-counts.ts)', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    // A caller still passing the removed `processed` count (only a cast gets it past the type).
    await addWebhookCounts(ddb, 'teams', TEAM, { ignored: 1, processed: 3 } as { ignored: number }, '2026-11-21T10:00:00.000Z');
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).not.toContain('webhooksProcessed');
  });

  it('still adds the counters when a newer lastDeliveryAt is already stored', async () => {
    ddbMock.on(UpdateCommand).rejectsOnce(ccf()).resolves({});
    await addWebhookCounts(ddb, 'teams', TEAM, { ignored: 1 }, '2026-11-21T09:00:00.000Z');
    const calls = ddbMock.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args[0].input.UpdateExpression).toBe('ADD webhooksIgnored :ignored');
  });

  it('does nothing for a team that was removed meanwhile', async () => {
    ddbMock.on(UpdateCommand).rejects(ccf());
    await expect(addWebhookCounts(ddb, 'teams', TEAM, { ignored: 1 })).resolves.toBeUndefined();
  });
});
