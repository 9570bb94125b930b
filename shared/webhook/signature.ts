import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Checks `X-drchrono-signature`. DrChrono documents it as the webhook's secret token itself; some receivers
 * report a hex HMAC-SHA256 of the raw body keyed by the token instead. Either form is accepted. The HMAC form is
 * only safe because the GET handshake (same key) refuses to sign anything that could be a body (receive-webhook.ts).
 *
 * Both sides are hashed to SHA-256 before timingSafeEqual, so the comparison is constant-time and never
 * leaks the token's length. Both candidates are always compared (no short-circuit).
 */
export function isValidDeliverySignature(signature: string | undefined, secretToken: string, rawBody: Buffer | string): boolean {
  return isAcceptedDeliverySignature(signature, [secretToken], rawBody);
}

/** A hex HMAC-SHA256 is 64 hex digits: only such a header can be the body form. */
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * The signature check during a secret rotation: true when the header matches any of `tokens` (the current token
 * and the previous ones still accepted), in either form. Every token is compared, whichever matches, so the time
 * taken depends only on how many tokens the team has, never on which one (or how much of one) matched.
 *
 * The body's HMAC is computed only when the header has the HMAC's shape (64 hex digits): what is computed depends
 * on the header alone, which the sender chose, never on a token. DrChrono sends the token itself (40 characters),
 * so a delivery costs no HMAC of its body.
 */
export function isAcceptedDeliverySignature(signature: string | undefined, tokens: readonly string[], rawBody: Buffer | string): boolean {
  if (signature === undefined || signature.length === 0) return false;
  const trimmed = signature.trim();
  const given = digest(trimmed);
  const givenHmac = HEX_SHA256.test(trimmed) ? digest(trimmed.toLowerCase()) : undefined;
  let ok = false;
  for (const token of tokens) {
    if (token.length === 0) continue;
    const matchesToken = timingSafeEqual(given, tokenDigest(token));
    const matchesHmac = givenHmac !== undefined && timingSafeEqual(givenHmac, digest(createHmac('sha256', token).update(rawBody).digest('hex')));
    ok = matchesToken || matchesHmac || ok;
  }
  return ok;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** SHA-256 of each token, kept per container (a team has at most a handful; the secret cache holds them anyway). */
const tokenDigests = new Map<string, Buffer>();
const MAX_TOKEN_DIGESTS = 10_000;

function tokenDigest(token: string): Buffer {
  let d = tokenDigests.get(token);
  if (d === undefined) {
    if (tokenDigests.size >= MAX_TOKEN_DIGESTS) tokenDigests.clear();
    d = digest(token);
    tokenDigests.set(token, d);
  }
  return d;
}
