import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';

/**
 * Signed, expiring connect links: `GET /integration-oauth/authorize/{teamId}?exp=&acc=&lid=&kid=&sig=`.
 *
 * - `exp`  expiry, epoch seconds.
 * - `acc`  `1` when the link may bind the team to another DrChrono account (once; see account-binding.ts).
 * - `lid`  a random link id, only on `acc=1` links: the id whose use the team item records, so the permission works once.
 * - `kid`  the id of the signing key (connect-link-key.ts keeps the current and the previous key).
 * - `sig`  HMAC-SHA256(key, canonical payload), base64url: covers the team id, `exp`, `acc` and `lid`.
 *
 * The authorize route verifies the link before it reads or writes anything, so an unsigned, altered or expired link
 * starts nothing. The comparison is constant-time.
 */
export const CONNECT_LINK_QUERY_KEYS = ['exp', 'acc', 'lid', 'kid', 'sig'] as const;

/** Default and maximum lifetime of a connect link. */
export const DEFAULT_CONNECT_LINK_TTL_SECONDS = 7 * 86_400;
export const MAX_CONNECT_LINK_TTL_SECONDS = 30 * 86_400;

export interface ConnectLinkClaims {
  teamId: string;
  /** Epoch seconds. */
  expiresAt: number;
  allowAccountChange: boolean;
  /** Present exactly when allowAccountChange. */
  linkId?: string;
}

export interface SigningKey {
  id: string;
  secret: string;
}

export const KeyIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/));
const LinkIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{22}$/));
const SignatureSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/));

const LinkQuerySchema = z.object({
  exp: z.string().check(z.regex(/^\d{1,12}$/)),
  acc: z.optional(z.enum(['0', '1'])),
  lid: z.optional(LinkIdSchema),
  kid: KeyIdSchema,
  sig: SignatureSchema,
});

function payload(c: ConnectLinkClaims): string {
  // Newline-separated fixed fields: no field can contain a newline (UUID, digits, 0/1, base64url), so no two claim
  // sets share a payload.
  return ['drchrono-sync-connect-link/v1', c.teamId.toLowerCase(), String(c.expiresAt), c.allowAccountChange ? '1' : '0', c.linkId ?? ''].join('\n');
}

function mac(key: SigningKey, c: ConnectLinkClaims): Buffer {
  return createHmac('sha256', key.secret).update(payload(c)).digest();
}

export function newLinkId(): string {
  return randomBytes(16).toString('base64url');
}

/** The query parameters of a signed link. */
export function signConnectLink(key: SigningKey, claims: Omit<ConnectLinkClaims, 'linkId'> & { linkId?: string }): Record<string, string> {
  const c: ConnectLinkClaims = { ...claims, ...(claims.allowAccountChange ? { linkId: claims.linkId ?? newLinkId() } : { linkId: undefined }) };
  return {
    exp: String(c.expiresAt),
    ...(c.allowAccountChange ? { acc: '1', lid: c.linkId! } : {}),
    kid: key.id,
    sig: mac(key, c).toString('base64url'),
  };
}

/** The whole connect link for a team: `<apiBase>/integration-oauth/authorize/<teamId>?...`. */
export function connectLinkUrl(apiBaseUrl: string, teamId: string, params: Record<string, string>): string {
  const url = new URL(`${apiBaseUrl.replace(/\/+$/, '')}/integration-oauth/authorize/${teamId}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

export type LinkVerification =
  | { ok: true; claims: ConnectLinkClaims; keyId: string }
  | { ok: false; reason: 'unsigned' | 'altered' | 'expired' };

/**
 * Verify a connect link's query. `keyFor` returns the signing key with that id (current or previous), or undefined.
 * Order: shape, key, signature, then expiry, so an altered `exp` is reported as altered, not expired.
 */
export async function verifyConnectLink(
  teamId: string,
  rawQuery: Record<string, string | undefined> | undefined,
  keyFor: (keyId: string) => Promise<SigningKey | undefined>,
  nowSeconds: number,
): Promise<LinkVerification> {
  const q = rawQuery ?? {};
  if (q.sig === undefined && q.kid === undefined) return { ok: false, reason: 'unsigned' };
  const parsed = LinkQuerySchema.safeParse(q);
  if (!parsed.success) return { ok: false, reason: 'altered' };
  const { exp, acc, lid, kid, sig } = parsed.data;
  const allowAccountChange = acc === '1';
  // A permission without its link id (or a link id without the permission) was not produced by signConnectLink.
  if (allowAccountChange !== (lid !== undefined)) return { ok: false, reason: 'altered' };
  const key = await keyFor(kid);
  if (!key) return { ok: false, reason: 'altered' };
  const claims: ConnectLinkClaims = { teamId, expiresAt: Number(exp), allowAccountChange, ...(lid ? { linkId: lid } : {}) };
  const expected = mac(key, claims);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'altered' };
  if (claims.expiresAt <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims, keyId: key.id };
}

/** `7d`, `12h`, `30m`, `90s` (or plain seconds) → seconds, within (0, MAX_CONNECT_LINK_TTL_SECONDS]. */
export function parseLinkLifetime(text: string): number | undefined {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 } as const)[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return seconds > 0 && seconds <= MAX_CONNECT_LINK_TTL_SECONDS ? seconds : undefined;
}
