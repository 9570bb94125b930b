import type { TeamSecret } from './team-secret';

/**
 * Rotating a team's webhook secret token without downtime. DrChrono holds one token per webhook and the operator
 * pastes the new one by hand, so for a while DrChrono may still sign with the old token. The secret keeps each
 * replaced token with its own end of acceptance; the webhook function accepts the current token and every
 * previous one whose `acceptedUntil` is still ahead (compared with its own clock on every request, so a cached
 * secret stops accepting an old token on time without a re-read).
 */

/** DrChrono's Secret Token field carries a handful of unexpired tokens at most; the schema caps the list at 5. */
export const MAX_PREVIOUS_WEBHOOK_SECRETS = 5;
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** DrChrono gives up on a delivery 7 h after the event; a week covers any paste delay and is still bounded. */
export const MAX_ROTATION_OVERLAP_MS = 7 * 24 * 3_600_000;

export class TooManyWebhookSecretsError extends Error {
  override name = 'TooManyWebhookSecretsError';
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `0`, or a whole number with a unit: `90s`, `30m`, `24h`, `7d`. Undefined when the text is not one. */
export function parseOverlap(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Whether a replaced token is still accepted at `nowMs`: until its overlap ends, exclusive (the current token always is). */
export function previousTokenAccepted(previous: { acceptedUntil: number }, nowMs: number): boolean {
  return previous.acceptedUntil > nowMs;
}

/**
 * The secret after a rotation to `newToken`. The replaced token stays accepted for `overlapMs`; tokens from
 * earlier rotations keep their own end (a second rotation inside an overlap never extends or cuts the first:
 * DrChrono may still hold that older token if the first new one was never pasted). Expired ones are dropped.
 * `overlapMs = 0` is a cut-over: only the new token is accepted from now on (for a leaked token).
 */
export function rotateWebhookSecret(current: TeamSecret, newToken: string, nowMs: number, overlapMs: number): TeamSecret {
  if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > MAX_ROTATION_OVERLAP_MS) {
    throw new RangeError(`overlap must be between 0 and ${MAX_ROTATION_OVERLAP_MS} ms`);
  }
  const previous =
    overlapMs === 0
      ? []
      : [
          { token: current.webhookSecret, acceptedUntil: nowMs + overlapMs },
          ...(current.previousWebhookSecrets ?? []).filter((p) => p.acceptedUntil > nowMs && p.token !== current.webhookSecret),
        ].filter((p) => p.token !== newToken);
  if (previous.length > MAX_PREVIOUS_WEBHOOK_SECRETS) {
    throw new TooManyWebhookSecretsError(
      `${previous.length - 1} earlier rotations are still in their overlap; wait until one ends, or rotate with --overlap 0 to accept only the new token`,
    );
  }
  const { previousWebhookSecrets: _dropped, ...rest } = current;
  return { ...rest, webhookSecret: newToken, ...(previous.length ? { previousWebhookSecrets: previous } : {}) };
}
