import { mockClient } from 'aws-sdk-client-mock';
import { CreateSecretCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ensureConnectLinkKey } from '../../../local/resources';
import { parseConnectLinkKeys } from '../../../shared/oauth/connect-link-key';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });
beforeEach(() => sm.reset());

describe('local platform: the connect-link key secret', () => {
  it('is created at start with one random key the oauth function can parse', async () => {
    sm.on(CreateSecretCommand).resolves({});
    await expect(ensureConnectLinkKey(client, 'drchrono-sync/local/connect-link-key')).resolves.toBe('created');
    const input = sm.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(input.Name).toBe('drchrono-sync/local/connect-link-key');
    const keys = parseConnectLinkKeys(input.SecretString);
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0]!.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps an existing secret (a restart must not invalidate the links already sent)', async () => {
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    await expect(ensureConnectLinkKey(client, 'drchrono-sync/local/connect-link-key')).resolves.toBe('exists');
  });
});
