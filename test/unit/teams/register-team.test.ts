import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CreateSecretCommand, DeleteSecretCommand, InvalidRequestException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { generateWebhookSecret, registerTeam, SecretPendingDeletionError } from '../../../shared/teams/register-team';
import { TeamExistsError, TeamRemovedError } from '../../../shared/teams/team-store';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const ddbMock = mockClient(DynamoDBDocumentClient);
const smMock = mockClient(SecretsManagerClient);
const deps = {
  ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
  secrets: new SecretsManagerClient({ region: 'us-east-1' }),
  teamsTable: 'teams',
  teamSecretPrefix: 'drchrono-sync/test/teams/',
};

beforeEach(() => {
  ddbMock.on(GetCommand).resolves({});
});

afterEach(() => {
  ddbMock.reset();
  smMock.reset();
});

describe('registerTeam', () => {
  it('generates a 40-hex-character webhook token, as DrChrono suggests', () => {
    expect(generateWebhookSecret()).toMatch(/^[0-9a-f]{40}$/);
    expect(generateWebhookSecret()).not.toBe(generateWebhookSecret());
  });

  it('writes the secret (with the KMS key when given) before the team item', async () => {
    smMock.on(CreateSecretCommand).resolves({});
    ddbMock.on(PutCommand).resolves({});
    const { webhookSecret } = await registerTeam({ teamId: TEAM, clientId: 'cid', clientSecret: 'cs' }, { ...deps, kmsKeyId: 'arn:aws:kms:key' });
    const create = smMock.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ Name: `drchrono-sync/test/teams/${TEAM}`, KmsKeyId: 'arn:aws:kms:key' });
    expect(JSON.parse(create.SecretString!)).toEqual({ clientId: 'cid', clientSecret: 'cs', webhookSecret });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1);
  });

  it('removes the secret again when the team item cannot be written', async () => {
    smMock.on(CreateSecretCommand).resolves({});
    smMock.on(DeleteSecretCommand).resolves({});
    ddbMock.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    await expect(registerTeam({ teamId: TEAM, clientId: 'cid', clientSecret: 'cs' }, deps)).rejects.toBeInstanceOf(TeamExistsError);
    expect(smMock.commandCalls(DeleteSecretCommand)[0]!.args[0].input).toMatchObject({ ForceDeleteWithoutRecovery: true });
  });

  it('refuses a removed team id before creating any secret: team ids are not reused', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'removed', createdAt: 'x', updatedAt: 'x' } });
    await expect(registerTeam({ teamId: TEAM, clientId: 'cid', clientSecret: 'cs' }, deps)).rejects.toBeInstanceOf(TeamRemovedError);
    expect(smMock.calls()).toHaveLength(0);
  });

  it('rejects a team id that is not a UUID before touching AWS', async () => {
    await expect(registerTeam({ teamId: 'clinic-1', clientId: 'cid', clientSecret: 'cs' }, deps)).rejects.toThrow('UUID');
    expect(smMock.calls()).toHaveLength(0);
  });

  describe('when the same-named secret is still being deleted (a retried `team add`)', () => {
    // AWS's exact message for CreateSecret while a force-deleted secret of that name is still being removed.
    const pendingDeletion = () =>
      new InvalidRequestException({
        message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
        $metadata: {},
      });
    const input = { teamId: TEAM, clientId: 'cid', clientSecret: 'cs' };

    it('retries CreateSecret with growing waits and registers the team once the name is free', async () => {
      smMock.on(CreateSecretCommand).rejectsOnce(pendingDeletion()).rejectsOnce(pendingDeletion()).resolves({});
      ddbMock.on(PutCommand).resolves({});
      const waits: number[] = [];
      const { team } = await registerTeam(input, { ...deps, pendingDeletionDelaysMs: [10, 20, 40], sleep: async (ms) => void waits.push(ms) });
      expect(team.teamId).toBe(TEAM);
      expect(smMock.commandCalls(CreateSecretCommand)).toHaveLength(3);
      expect(waits).toEqual([10, 20]);
      expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1);
    });

    it('gives up after the bounded retries with a message that says what to do, and writes no team item', async () => {
      smMock.on(CreateSecretCommand).rejects(pendingDeletion());
      const waits: number[] = [];
      const err = await registerTeam(input, { ...deps, pendingDeletionDelaysMs: [10, 20], sleep: async (ms) => void waits.push(ms) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecretPendingDeletionError);
      expect((err as Error).message).toContain(`still deleting an earlier secret named drchrono-sync/test/teams/${TEAM}`);
      expect((err as Error).message).toContain('wait a minute and run it again');
      expect(smMock.commandCalls(CreateSecretCommand)).toHaveLength(3);
      expect(waits).toEqual([10, 20]);
      expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
      expect(smMock.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    });

    it('does not retry any other invalid request', async () => {
      smMock.on(CreateSecretCommand).rejects(new InvalidRequestException({ message: 'You can\'t perform this operation on the secret', $metadata: {} }));
      const sleep = jest.fn(async () => undefined);
      await expect(registerTeam(input, { ...deps, pendingDeletionDelaysMs: [10], sleep })).rejects.toBeInstanceOf(InvalidRequestException);
      expect(smMock.commandCalls(CreateSecretCommand)).toHaveLength(1);
      expect(sleep).not.toHaveBeenCalled();
    });
  });
});
