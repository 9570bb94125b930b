import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Checks `X-drchrono-signature`. DrChrono documents it as the webhook's secret token itself; some receivers
 * report a hex HMAC-SHA256 of the raw body keyed by the token instead. Either form is accepted. The HMAC form is
 * only safe because the GET handshake (same key) refuses to sign anything that could be a body (receive-webhook.ts).
 *
 * Both sides are hashed to SHA-256 before timingSafeEqual, so the comparison is constant-time and never
 * leaks the token's length. Both candidates are always compared (no short-circuit).
 */
export function isValidDeliverySignature(signature: string | undefined, secretToken: string, rawBody: Buffer): boolean {
  if (signature === undefined || signature.length === 0 || secretToken.length === 0) return false;
  const given = digest(signature.trim());
  const givenLower = digest(signature.trim().toLowerCase());
  const bodyHmac = createHmac('sha256', secretToken).update(rawBody).digest('hex');
  const matchesToken = timingSafeEqual(given, digest(secretToken));
  const matchesHmac = timingSafeEqual(givenLower, digest(bodyHmac));
  return matchesToken || matchesHmac;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The signature check during a secret rotation: true when the header matches any of `tokens` (the current token
 * and the previous ones still accepted), in either form. Every token is compared, whichever matches, so the time
 * taken depends only on how many tokens the team has, never on which one (or how much of one) matched.
 */
export function isAcceptedDeliverySignature(signature: string | undefined, tokens: readonly string[], rawBody: Buffer): boolean {
  let ok = false;
  for (const token of tokens) ok = isValidDeliverySignature(signature, token, rawBody) || ok;
  return ok;
}
