import * as crypto from 'node:crypto';

jest.mock('node:crypto', () => {
  const actual: typeof crypto = jest.requireActual('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});
import { connectLinkUrl, parseLinkLifetime, signConnectLink, verifyConnectLink, type SigningKey } from '../../../shared/oauth/connect-link';

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = 1_790_000_000;
const KEY: SigningKey = { id: 'k1', secret: 'connect-link-unit-test-key-0123456789abcdef' };
const OTHER: SigningKey = { id: 'k2', secret: 'another-connect-link-test-key-0123456789abcd' };
const keys = async (id: string) => [KEY, OTHER].find((k) => k.id === id);
const verify = (q: Record<string, string | undefined>, teamId = TEAM, now = NOW) => verifyConnectLink(teamId, q, keys, now);

describe('connect links: signing and verification', () => {
  it('accepts a link as signed, with its claims', async () => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: false });
    await expect(verify(q)).resolves.toEqual({ ok: true, keyId: 'k1', claims: { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: false } });
  });

  it('carries a random link id only on an account-change link, and verifies it', async () => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: true });
    expect(q.acc).toBe('1');
    expect(q.lid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const r = await verify(q);
    expect(r).toMatchObject({ ok: true, claims: { allowAccountChange: true, linkId: q.lid } });
    expect(signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: true }).lid).not.toBe(q.lid);
  });

  it('reports a link without a signature as unsigned', async () => {
    await expect(verify({})).resolves.toEqual({ ok: false, reason: 'unsigned' });
    await expect(verify({ exp: String(NOW + 60) })).resolves.toEqual({ ok: false, reason: 'unsigned' });
  });

  it.each([
    ['a later expiry', (q: Record<string, string>) => ({ ...q, exp: String(Number(q.exp) + 86_400) })],
    ['an added account-change permission', (q: Record<string, string>) => ({ ...q, acc: '1', lid: 'A'.repeat(22) })],
    ['a changed signature', (q: Record<string, string>) => ({ ...q, sig: (q.sig!.startsWith('A') ? 'B' : 'A') + q.sig!.slice(1) })],
    ['a truncated signature', (q: Record<string, string>) => ({ ...q, sig: q.sig!.slice(0, 20) })],
    ['an unknown key id', (q: Record<string, string>) => ({ ...q, kid: 'k9' })],
    ["another key's id", (q: Record<string, string>) => ({ ...q, kid: 'k2' })],
  ])('reports a link with %s as altered', async (_name, alter) => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: false });
    await expect(verify(alter(q))).resolves.toEqual({ ok: false, reason: 'altered' });
  });

  it("reports another team's link as altered (the team id is signed)", async () => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: false });
    await expect(verify(q, '1b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10')).resolves.toEqual({ ok: false, reason: 'altered' });
  });

  it('reports a link whose account-change link id was swapped as altered', async () => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: true });
    await expect(verify({ ...q, lid: 'B'.repeat(22) })).resolves.toEqual({ ok: false, reason: 'altered' });
    await expect(verify({ ...q, acc: undefined })).resolves.toEqual({ ok: false, reason: 'altered' });
  });

  it('reports a correctly signed link past its expiry as expired', async () => {
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW, allowAccountChange: false });
    await expect(verify(q)).resolves.toEqual({ ok: false, reason: 'expired' });
  });

  it('compares signatures in constant time (crypto.timingSafeEqual)', async () => {
    const spy = crypto.timingSafeEqual as jest.Mock;
    spy.mockClear();
    const q = signConnectLink(KEY, { teamId: TEAM, expiresAt: NOW + 60, allowAccountChange: false });
    await verify({ ...q, sig: (q.sig!.startsWith('A') ? 'B' : 'A') + q.sig!.slice(1) });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('builds the authorize URL with the signed query', () => {
    const url = new URL(connectLinkUrl('http://127.0.0.1:3000/', TEAM, { exp: '1', kid: 'k1', sig: 's' }));
    expect(url.pathname).toBe(`/integration-oauth/authorize/${TEAM}`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ exp: '1', kid: 'k1', sig: 's' });
  });
});

describe('parseLinkLifetime', () => {
  it.each([
    ['7d', 604_800],
    ['12h', 43_200],
    ['30m', 1_800],
    ['90', 90],
    ['30d', 2_592_000],
  ])('%s is %i seconds', (text, seconds) => expect(parseLinkLifetime(text)).toBe(seconds));

  it.each(['0', '31d', '-1d', '1w', '', 'abc'])('refuses %p', (text) => expect(parseLinkLifetime(text)).toBeUndefined());
});
