import { ConnectLinkKeyCache, INITIAL_KEY_ID, parseConnectLinkKeys, rotatedKeys, serializeKeys, signingKey, type ConnectLinkKeys } from '../../../shared/oauth/connect-link-key';
import { signConnectLink, verifyConnectLink } from '../../../shared/oauth/connect-link';

const NOW = new Date('2026-11-30T06:00:00.000Z');
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const K1 = { id: 'k1', secret: 'a'.repeat(43), createdAt: '2026-11-01T00:00:00.000Z' };

describe('connect-link keys', () => {
  it("reads the stack's generated initialKey as the key 'initial'", () => {
    expect(parseConnectLinkKeys(JSON.stringify({ initialKey: 'x'.repeat(64) })).keys).toEqual([{ id: INITIAL_KEY_ID, secret: 'x'.repeat(64) }]);
  });

  it('refuses a secret with no key, or that is not JSON', () => {
    expect(() => parseConnectLinkKeys('{}')).toThrow('no key');
    expect(() => parseConnectLinkKeys('nope')).toThrow('not JSON');
    expect(() => parseConnectLinkKeys(JSON.stringify({ keys: [{ id: 'k', secret: 'short' }] }))).toThrow('unexpected shape');
  });

  it('rotation puts a new signing key first and keeps the previous one for verification', () => {
    const next = rotatedKeys({ keys: [K1] }, NOW);
    expect(next.keys).toHaveLength(2);
    expect(next.keys[1]).toEqual(K1);
    expect(signingKey(next).id).not.toBe('k1');
    expect(next.keys[0]!.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(next.keys[0]!.createdAt).toBe(NOW.toISOString());
  });

  it('a second rotation drops the oldest key; --drop-previous keeps only the new one', () => {
    const twice = rotatedKeys(rotatedKeys({ keys: [K1] }, NOW), NOW);
    expect(twice.keys.map((k) => k.id)).not.toContain('k1');
    expect(rotatedKeys({ keys: [K1] }, NOW, { dropPrevious: true }).keys).toHaveLength(1);
  });

  it('links signed with the previous key stay valid after a rotation, and end after the next one', async () => {
    const before: ConnectLinkKeys = { keys: [K1] };
    const q = signConnectLink(signingKey(before), { teamId: TEAM, expiresAt: NOW.getTime() / 1000 + 60, allowAccountChange: false });
    const once = parseConnectLinkKeys(serializeKeys(rotatedKeys(before, NOW)));
    const lookup = (keys: ConnectLinkKeys) => async (id: string) => keys.keys.find((k) => k.id === id);
    await expect(verifyConnectLink(TEAM, q, lookup(once), NOW.getTime() / 1000)).resolves.toMatchObject({ ok: true, keyId: 'k1' });
    const twice = rotatedKeys(once, NOW);
    await expect(verifyConnectLink(TEAM, q, lookup(twice), NOW.getTime() / 1000)).resolves.toEqual({ ok: false, reason: 'altered' });
  });
});

describe('ConnectLinkKeyCache', () => {
  function cache(sets: ConnectLinkKeys[]) {
    let t = 0;
    let calls = 0;
    const load = jest.fn(async (): Promise<ConnectLinkKeys> => sets[Math.min(calls++, sets.length - 1)]!);
    const c = new ConnectLinkKeyCache({ load, ttlMs: 300_000, missRefreshMs: 5_000, now: () => t });
    return { c, load, advance: (ms: number) => (t += ms), setClock: (ms: number) => (t = ms) };
  }

  it('re-reads after the clock stepped back, so a key rotated meanwhile is not refused for as long as the step', async () => {
    const rotated = { keys: [{ id: 'k2', secret: 'b'.repeat(43) }, K1] };
    const { c, load, setClock } = cache([{ keys: [K1] }, rotated]);
    setClock(3_600_000); // read while the clock was an hour ahead
    await c.key('k1');
    setClock(0); // the clock steps back to real time
    await expect(c.key('k2')).resolves.toMatchObject({ id: 'k2' });
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('reads the secret once per TTL', async () => {
    const { c, load, advance } = cache([{ keys: [K1] }]);
    for (let i = 0; i < 5; i++) await expect(c.key('k1')).resolves.toMatchObject({ id: 'k1' });
    expect(load).toHaveBeenCalledTimes(1);
    advance(300_000);
    await c.key('k1');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('shares one read between concurrent first requests', async () => {
    const { c, load } = cache([{ keys: [K1] }]);
    await Promise.all([c.key('k1'), c.key('k1'), c.key('k1')]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('re-reads for an unknown key id at most once per 5 s, so a freshly rotated key works and random ids cost nothing', async () => {
    const rotated = { keys: [{ id: 'k2', secret: 'b'.repeat(43) }, K1] };
    const { c, load, advance } = cache([{ keys: [K1] }, rotated]);
    await c.key('k1');
    await expect(c.key('k2')).resolves.toBeUndefined(); // loaded just now: no re-read
    expect(load).toHaveBeenCalledTimes(1);
    advance(5_000);
    await expect(c.key('k2')).resolves.toMatchObject({ id: 'k2' });
    expect(load).toHaveBeenCalledTimes(2);
    for (let i = 0; i < 10; i++) await expect(c.key(`random${i}`)).resolves.toBeUndefined();
    expect(load).toHaveBeenCalledTimes(2);
  });
});
