import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readTeamSecret, TeamSecretInvalidError } from '../../../shared/teams/team-secret';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';

describe('readTeamSecret', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  afterEach(() => sm.reset());

  it('rejects a secret that is not JSON without echoing its content', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'not json: hunter2' });
    const err = await readTeamSecret(client, 'p/', TEAM).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeamSecretInvalidError);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('rejects a secret missing the webhook token without echoing the values it has', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'cid-visible', clientSecret: 'cs-visible' }) });
    const err = await readTeamSecret(client, 'p/', TEAM).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeamSecretInvalidError);
    expect((err as Error).message).not.toMatch(/visible/);
  });
});
