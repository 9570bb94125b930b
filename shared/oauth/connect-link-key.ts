import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import { connectLinkUrl, DEFAULT_CONNECT_LINK_TTL_SECONDS, KeyIdSchema, signConnectLink, type SigningKey } from './connect-link';

/**
 * The connect-link signing keys: one Secrets Manager secret per stack (`drchrono-sync/<stage>/connect-link-key`),
 * JSON `{"keys":[{"id","secret","createdAt"}, ...]}`, newest first: `keys[0]` signs, `keys[0..1]` verify. So a
 * rotation leaves links signed with the previous key valid until they expire, and a second rotation ends them
 * (rotate at most once per link lifetime, 30 days at most, unless that is the point: `--drop-previous`).
 *
 * The stack creates the secret with a generated `initialKey` (CloudFormation can only generate a string into a
 * JSON template); it is read as the key `initial`, and the first rotation writes the `keys` form.
 */
export const INITIAL_KEY_ID = 'initial';

const KeySchema = z.object({ id: KeyIdSchema, secret: z.string().check(z.minLength(32)), createdAt: z.optional(z.string()) });
const KeySecretSchema = z.object({
  keys: z.optional(z.array(KeySchema)),
  initialKey: z.optional(z.string().check(z.minLength(32))),
});

export type StoredKey = z.infer<typeof KeySchema>;

export interface ConnectLinkKeys {
  /** Newest first; at most two. */
  keys: StoredKey[];
}

export class ConnectLinkKeyError extends Error {
  override name = 'ConnectLinkKeyError';
}

export function parseConnectLinkKeys(secretString: string | undefined): ConnectLinkKeys {
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    throw new ConnectLinkKeyError('connect-link key secret is not JSON');
  }
  const parsed = KeySecretSchema.safeParse(json);
  if (!parsed.success) throw new ConnectLinkKeyError('connect-link key secret has an unexpected shape');
  const keys = [...(parsed.data.keys ?? [])];
  if (keys.length === 0 && parsed.data.initialKey) keys.push({ id: INITIAL_KEY_ID, secret: parsed.data.initialKey });
  if (keys.length === 0) throw new ConnectLinkKeyError('connect-link key secret holds no key');
  return { keys: keys.slice(0, 2) };
}

export function signingKey(keys: ConnectLinkKeys): SigningKey {
  const k = keys.keys[0]!;
  return { id: k.id, secret: k.secret };
}

export function verificationKey(keys: ConnectLinkKeys, keyId: string): SigningKey | undefined {
  const k = keys.keys.find((x) => x.id === keyId);
  return k ? { id: k.id, secret: k.secret } : undefined;
}

export function generateKey(now: Date): StoredKey {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return { id: `k${stamp}-${randomBytes(3).toString('hex')}`, secret: randomBytes(32).toString('base64url'), createdAt: now.toISOString() };
}

/** The next key set: a new current key, the old current as previous (or nothing with dropPrevious). */
export function rotatedKeys(keys: ConnectLinkKeys, now: Date, opts: { dropPrevious?: boolean } = {}): ConnectLinkKeys {
  const next = generateKey(now);
  return { keys: opts.dropPrevious ? [next] : [next, keys.keys[0]!] };
}

/** A fresh key set (the local platform creates its secret with this). */
export function initialKeys(now: Date): ConnectLinkKeys {
  return { keys: [generateKey(now)] };
}

export function serializeKeys(keys: ConnectLinkKeys): string {
  return JSON.stringify({ keys: keys.keys });
}

export async function readConnectLinkKeys(client: SecretsManagerClient, secretId: string): Promise<ConnectLinkKeys> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  return parseConnectLinkKeys(out.SecretString);
}

export async function writeConnectLinkKeys(client: SecretsManagerClient, secretId: string, keys: ConnectLinkKeys): Promise<void> {
  await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: serializeKeys(keys) }));
}

/**
 * Per-container cache of the keys for the authorize route: at most one Secrets Manager read per `ttlMs`, plus one
 * re-read when a link names a key id the cache does not hold (a key rotated in since), at most once per
 * `missRefreshMs` (5 s), so links carrying random key ids cost at most one Secrets Manager call per 5 s per container.
 */
export class ConnectLinkKeyCache {
  private cached: { keys: ConnectLinkKeys; fetchedAt: number } | undefined;
  private inflight: Promise<ConnectLinkKeys> | undefined;
  private readonly ttlMs: number;
  private readonly missRefreshMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: { load: () => Promise<ConnectLinkKeys>; ttlMs?: number; missRefreshMs?: number; now?: () => number }) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.missRefreshMs = opts.missRefreshMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  async key(keyId: string): Promise<SigningKey | undefined> {
    const fresh = this.cached && this.younger(this.cached.fetchedAt, this.ttlMs) ? this.cached : { keys: await this.load(), fetchedAt: this.now() };
    const found = verificationKey(fresh.keys, keyId);
    if (found || this.younger(fresh.fetchedAt, this.missRefreshMs)) return found;
    return verificationKey(await this.load(), keyId);
  }

  /**
   * Read less than `ms` ago. A read stamped in the future (the clock stepped back: NTP, or the local platform's
   * clock reset after a test advanced it) counts as old: otherwise the cache would not re-read for as long as the
   * step, and a rotated key would be refused all that time.
   */
  private younger(fetchedAt: number, ms: number): boolean {
    const age = this.now() - fetchedAt;
    return age >= 0 && age < ms;
  }

  private async load(): Promise<ConnectLinkKeys> {
    this.inflight ??= this.opts
      .load()
      .then((keys) => {
        this.cached = { keys, fetchedAt: this.now() };
        return keys;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}

/** A signed connect link with the current key, read fresh (the CLI and the test helpers; never the oauth function). */
export async function mintConnectLink(
  client: SecretsManagerClient,
  secretId: string,
  apiBaseUrl: string,
  teamId: string,
  opts: { ttlSeconds?: number; allowAccountChange?: boolean; now?: Date } = {},
): Promise<{ url: string; expiresAt: Date; allowAccountChange: boolean; keyId: string }> {
  const key = signingKey(await readConnectLinkKeys(client, secretId));
  const now = opts.now ?? new Date();
  const expiresAt = Math.floor(now.getTime() / 1000) + (opts.ttlSeconds ?? DEFAULT_CONNECT_LINK_TTL_SECONDS);
  const allowAccountChange = opts.allowAccountChange ?? false;
  const params = signConnectLink(key, { teamId, expiresAt, allowAccountChange });
  return { url: connectLinkUrl(apiBaseUrl, teamId, params), expiresAt: new Date(expiresAt * 1000), allowAccountChange, keyId: key.id };
}
