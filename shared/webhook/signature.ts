import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { TeamSecret } from '../teams/team-secret';
import { previousTokenAccepted } from '../teams/webhook-secret-rotation';

/**
 * Checks `X-drchrono-signature`. DrChrono documents it as the webhook's secret token itself; some receivers
 * report a hex HMAC-SHA256 of the raw body keyed by the token instead. Either form is accepted. The HMAC form is
 * only safe because the GET handshake (same key) refuses to sign anything that could be a body (receive-webhook.ts).
 *
 * Both sides are hashed to SHA-256 before timingSafeEqual, so the comparison is constant-time and never
 * leaks the token's length. Both candidates are always compared (no short-circuit).
 */
export function isValidDeliverySignature(signature: string | undefined, secretToken: string, rawBody: Buffer | string): boolean {
  return isAcceptedDeliverySignature(signature, { webhookSecret: secretToken }, 0, rawBody);
}

/** The webhook tokens of a team secret: the current one and those of earlier rotations still in their overlap. */
export type WebhookTokens = Pick<TeamSecret, 'webhookSecret' | 'previousWebhookSecrets'>;

/** A hex HMAC-SHA256 is 64 hex digits: only such a header can be the body form. */
const NO_PREVIOUS: readonly { token: string; acceptedUntil: number }[] = [];

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * The signature check during a secret rotation: true when the header matches the current token or a previous one
 * still accepted at `nowMs` (webhook-secret-rotation.ts previousTokenAccepted), in either form. Every accepted
 * token is compared, whichever matches, so the time taken depends only on how many tokens the team has, never on
 * which one (or how much of one) matched.
 *
 * The body's HMAC is computed only when the header has the HMAC's shape (64 hex digits): what is computed depends
 * on the header alone, which the sender chose, never on a token. DrChrono sends the token itself (40 characters),
 * so a delivery costs no HMAC of its body.
 */
export function isAcceptedDeliverySignature(signature: string | undefined, secret: WebhookTokens, nowMs: number, rawBody: Buffer | string): boolean {
  if (signature === undefined || signature.length === 0) return false;
  const trimmed = signature.trim();
  const given = digest(trimmed);
  const givenHmac = HEX_SHA256.test(trimmed) ? digest(trimmed.toLowerCase()) : undefined;
  const previous = secret.previousWebhookSecrets ?? NO_PREVIOUS;
  const { tokens, digests } = tokenDigestsOf(secret, previous);
  let ok = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    // Index 0 is the current token; a previous one only until its overlap ends.
    if (token.length === 0 || (i > 0 && !previousTokenAccepted(previous[i - 1]!, nowMs))) continue;
    const matchesToken = timingSafeEqual(given, digests[i]!);
    const matchesHmac = givenHmac !== undefined && timingSafeEqual(givenHmac, digest(createHmac('sha256', token).update(rawBody).digest('hex')));
    ok = matchesToken || matchesHmac || ok;
  }
  return ok;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * SHA-256 of each of a secret's tokens, computed once per secret object and kept only as long as that object:
 * a WeakMap keyed by the secret the caller holds (the secret cache's copy), never by a token. A secret dropped
 * or replaced by the cache (TTL, rotation, eviction) takes its digests with it, so no token outlives the cache's
 * copy in this module (a Map keyed by tokens kept every token a container ever saw, rotated ones included).
 * `tokens` holds the secret's own strings (no copies), to notice an object changed in place.
 */
const digestsBySecret = new WeakMap<WebhookTokens, { tokens: readonly string[]; digests: readonly Buffer[] }>();

function tokenDigestsOf(secret: WebhookTokens, previous: readonly { token: string }[]): { tokens: readonly string[]; digests: readonly Buffer[] } {
  const cached = digestsBySecret.get(secret);
  if (cached && sameTokens(cached.tokens, secret.webhookSecret, previous)) return cached;
  const tokens = [secret.webhookSecret, ...previous.map((p) => p.token)];
  const entry = { tokens, digests: tokens.map(digest) };
  digestsBySecret.set(secret, entry);
  return entry;
}

function sameTokens(tokens: readonly string[], current: string, previous: readonly { token: string }[]): boolean {
  if (tokens.length !== previous.length + 1 || tokens[0] !== current) return false;
  for (let i = 0; i < previous.length; i++) if (tokens[i + 1] !== previous[i]!.token) return false;
  return true;
}
