import { createHash } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { writeTeamSecret, type TeamSecret } from '../teams/team-secret';

/** The token-endpoint answer, as shared/drchrono/token-client.ts returns it. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/**
 * The team secret with a newly issued token pair. Both tokens are replaced together: with rotation the old
 * refresh token is dead once a refresh succeeded, so it must never be kept (or sent) again.
 */
export function secretWithTokens(current: TeamSecret, tokens: IssuedTokens, nowMs: number, tokenVersion: number): TeamSecret {
  return {
    clientId: current.clientId,
    clientSecret: current.clientSecret,
    webhookSecret: current.webhookSecret,
    // A webhook secret rotation in its overlap: the old token must stay accepted across a token write.
    ...(current.previousWebhookSecrets ? { previousWebhookSecrets: current.previousWebhookSecrets } : {}),
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    // Whole milliseconds: the secret schema requires an integer, and a rejected write would lose the tokens.
    accessTokenExpiresAt: Math.floor(nowMs + tokens.expiresIn * 1000),
    // The version the writer claimed on the team item (refresh-lease.ts claimTokenVersion), never a local +1.
    tokenVersion,
  };
}

/**
 * The PutSecretValue ClientRequestToken (= the new secret version's id) for a token write: one per team and
 * tokenVersion. Each version is claimed by exactly one writer with one value, so a retry of the same write (SDK or
 * ours) is idempotent, and a stalled copy arriving after a retry landed is ignored by Secrets Manager instead of
 * making a second version. 64 hex characters (the API takes 32 to 64).
 */
export function tokenWriteRequestToken(teamId: string, tokenVersion: number): string {
  return createHash('sha256').update(`drchrono-tokens#${teamId}#${tokenVersion}`).digest('hex');
}

/**
 * Write a secret holding freshly issued tokens. The tokens exist nowhere else (the old refresh token is already
 * dead), so a failed write loses the grant: retry beyond the SDK's own retries (PutSecretValue has a low
 * per-account rate quota) before giving up. `deadlineMs` (epoch ms) is the end of the writer's claim: no attempt
 * starts after it and a request still running then is aborted. The abort only stops the client: a request already
 * sent may still apply server-side, so on a throw the caller keeps its lease until the claim's end (5 s after this
 * deadline) instead of releasing it, and no other writer starts before then.
 */
export async function writeIssuedTokens(
  secrets: SecretsManagerClient,
  prefix: string,
  teamId: string,
  secret: TeamSecret,
  opts: { attempts?: number; baseDelayMs?: number; deadlineMs?: number; now?: () => number } = {},
): Promise<void> {
  const attempts = opts.attempts ?? 5;
  const baseDelayMs = opts.baseDelayMs ?? 200;
  const now = opts.now ?? Date.now;
  const deadline = opts.deadlineMs ?? Number.POSITIVE_INFINITY;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - now();
    if (left <= 0) throw new TokenWriteDeadlineError(`token write for team ${teamId} not started: its claim ended`);
    const abort = Number.isFinite(left) ? AbortSignal.timeout(left) : undefined;
    try {
      await writeTeamSecret(secrets, prefix, teamId, secret, { abortSignal: abort, ...(secret.tokenVersion !== undefined ? { clientRequestToken: tokenWriteRequestToken(teamId, secret.tokenVersion) } : {}) });
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random())));
    }
  }
}

export class TokenWriteDeadlineError extends Error {
  override name = 'TokenWriteDeadlineError';
}
