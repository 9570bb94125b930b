import type { TeamSecret } from '../../../shared/teams/team-secret';
import { TeamSecretSchema } from '../../../shared/teams/team-secret';
import { isAcceptedDeliverySignature } from '../../../shared/webhook/signature';
import {
  MAX_PREVIOUS_WEBHOOK_SECRETS,
  parseOverlap,
  rotateWebhookSecret,
  TooManyWebhookSecretsError,
} from '../../../shared/teams/webhook-secret-rotation';

const H = 3_600_000;

/** The tokens a delivery may be signed with at `nowMs`, as the webhook's signature check decides: current first. */
function acceptedWebhookSecrets(secret: Pick<TeamSecret, 'webhookSecret' | 'previousWebhookSecrets'>, nowMs: number): string[] {
  const candidates = [secret.webhookSecret, ...(secret.previousWebhookSecrets ?? []).map((p) => p.token)];
  return candidates.filter((token) => isAcceptedDeliverySignature(token, { ...secret }, nowMs, ''));
}
const T0 = Date.parse('2026-11-30T06:00:00Z');
const base: TeamSecret = { clientId: 'cid', clientSecret: 'cs', webhookSecret: 'token-A', accessToken: 'at', refreshToken: 'rt', tokenVersion: 3 };

describe('parseOverlap', () => {
  it.each([
    ['0', 0],
    ['90s', 90_000],
    ['30m', 30 * 60_000],
    ['24h', 24 * H],
    ['7d', 7 * 24 * H],
  ])('reads %s', (text, ms) => expect(parseOverlap(text)).toBe(ms));

  it.each(['', '24', '1.5h', '-1h', '24 h', '1w', 'h'])('refuses %j', (text) => expect(parseOverlap(text)).toBeUndefined());
});

describe('rotateWebhookSecret', () => {
  it('makes the new token current and keeps the old one accepted until the overlap ends, tokens untouched', () => {
    const next = rotateWebhookSecret(base, 'token-B', T0, 24 * H);
    expect(next).toEqual({ ...base, webhookSecret: 'token-B', previousWebhookSecrets: [{ token: 'token-A', acceptedUntil: T0 + 24 * H }] });
    expect(acceptedWebhookSecrets(next, T0 + 24 * H - 1)).toEqual(['token-B', 'token-A']);
    expect(acceptedWebhookSecrets(next, T0 + 24 * H)).toEqual(['token-B']);
    expect(TeamSecretSchema.parse(next)).toEqual(next);
  });

  it('a second rotation inside the overlap keeps the first old token with its own end, so DrChrono may still hold it', () => {
    const once = rotateWebhookSecret(base, 'token-B', T0, 24 * H);
    const twice = rotateWebhookSecret(once, 'token-C', T0 + H, 2 * H);
    expect(twice.previousWebhookSecrets).toEqual([
      { token: 'token-B', acceptedUntil: T0 + 3 * H },
      { token: 'token-A', acceptedUntil: T0 + 24 * H },
    ]);
    expect(acceptedWebhookSecrets(twice, T0 + 4 * H)).toEqual(['token-C', 'token-A']);
  });

  it('drops previous tokens whose overlap has ended', () => {
    const once = rotateWebhookSecret(base, 'token-B', T0, H);
    const later = rotateWebhookSecret(once, 'token-C', T0 + 2 * H, H);
    expect(later.previousWebhookSecrets).toEqual([{ token: 'token-B', acceptedUntil: T0 + 3 * H }]);
  });

  it('with overlap 0 accepts only the new token, dropping every earlier one (a leaked token)', () => {
    const once = rotateWebhookSecret(base, 'token-B', T0, 24 * H);
    const cut = rotateWebhookSecret(once, 'token-C', T0 + H, 0);
    expect(cut.previousWebhookSecrets).toBeUndefined();
    expect(acceptedWebhookSecrets(cut, T0 + H)).toEqual(['token-C']);
  });

  it('refuses a rotation that would keep more than the schema allows, changing nothing', () => {
    let s = base;
    for (let i = 0; i < MAX_PREVIOUS_WEBHOOK_SECRETS; i++) s = rotateWebhookSecret(s, `token-${i}`, T0 + i, 24 * H);
    expect(() => rotateWebhookSecret(s, 'one-too-many', T0 + 10, 24 * H)).toThrow(TooManyWebhookSecretsError);
  });
});
