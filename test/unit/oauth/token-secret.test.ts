import { secretWithTokens } from '../../../shared/oauth/token-secret';
import type { TeamSecret } from '../../../shared/teams/team-secret';

describe('secretWithTokens', () => {
  const current: TeamSecret = {
    clientId: 'cid',
    clientSecret: 'cs',
    webhookSecret: 'token-new',
    previousWebhookSecrets: [{ token: 'token-old', acceptedUntil: 1_900_000_000_000 }],
    accessToken: 'at-1',
    refreshToken: 'rt-1',
    accessTokenExpiresAt: 1,
    tokenVersion: 4,
  };

  it('keeps a webhook secret rotation in its overlap across a token write', () => {
    const next = secretWithTokens(current, { accessToken: 'at-2', refreshToken: 'rt-2', expiresIn: 172_800 }, 1_000, 5);
    expect(next.previousWebhookSecrets).toEqual(current.previousWebhookSecrets);
    expect(next).toMatchObject({ webhookSecret: 'token-new', accessToken: 'at-2', refreshToken: 'rt-2', tokenVersion: 5, accessTokenExpiresAt: 172_801_000 });
  });

  it('adds no previous tokens to a secret that has none', () => {
    const { previousWebhookSecrets: _p, ...plain } = current;
    expect(secretWithTokens(plain, { accessToken: 'a', refreshToken: 'r', expiresIn: 10 }, 0, 1)).not.toHaveProperty('previousWebhookSecrets');
  });
});
