import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import { ACCESS_TOKEN_SECONDS } from '../../../local/drchrono-sandbox/index';
import { api, connect, control, REDIRECT, sandbox, tokenRequest } from './helpers';

let sb: RunningSandbox;
beforeEach(async () => {
  sb = await sandbox({ codeTtlSeconds: 60 });
});
afterEach(() => sb.close());

const APP = { client_id: 'sandbox-client', client_secret: 'sandbox-secret' };

async function approve(extra: Record<string, unknown> = {}) {
  const { body } = await control(sb, 'POST', '/oauth/approve', { client_id: APP.client_id, redirect_uri: REDIRECT, state: 'st-1', ...extra });
  return new URL(body.location);
}

describe('sandbox /o/authorize/', () => {
  it('shows an approve/deny page for a registered app', async () => {
    const res = await fetch(`${sb.url}/o/authorize/?response_type=code&client_id=sandbox-client&redirect_uri=${encodeURIComponent(REDIRECT)}&state=abc`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('value="approve"');
    expect(html).toContain('value="deny"');
  });

  it('approving from the page redirects with code and the given state', async () => {
    const form = new URLSearchParams({ client_id: 'sandbox-client', redirect_uri: REDIRECT, response_type: 'code', state: 'abc', decision: 'approve' });
    const res = await fetch(`${sb.url}/o/authorize/`, { method: 'POST', body: form, redirect: 'manual' });
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get('location')!);
    expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('abc');
    expect(loc.searchParams.get('code')).toMatch(/^[0-9a-f]{30}$/);
  });

  it('denying redirects with error=access_denied and the state', async () => {
    const loc = await approve({ decision: 'deny' });
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('state')).toBe('st-1');
    expect(loc.searchParams.has('code')).toBe(false);
  });

  it('shows an error instead of redirecting to an unregistered redirect URI', async () => {
    const res = await fetch(`${sb.url}/o/authorize/?client_id=sandbox-client&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
  });

  it('approval takes the whole authorize URL, as a test gets it from a 302', async () => {
    const url = `${sb.url}/o/authorize/?response_type=code&client_id=sandbox-client&redirect_uri=${encodeURIComponent(REDIRECT)}&state=from-url`;
    const { body } = await control(sb, 'POST', '/oauth/approve', { url });
    expect(new URL(body.location).searchParams.get('state')).toBe('from-url');
  });
});

describe('sandbox /o/token/', () => {
  it('issues 48 h tokens for a code', async () => {
    const t = await connect(sb);
    expect(t.expires_in).toBe(ACCESS_TOKEN_SECONDS);
    expect(ACCESS_TOKEN_SECONDS).toBe(172800);
    expect((await api(sb, t.access_token, '/api/doctors')).status).toBe(200);
  });

  it('codes are single-use', async () => {
    const code = (await approve()).searchParams.get('code')!;
    const form = { ...APP, grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    expect((await tokenRequest(sb, form)).status).toBe(200);
    const again = await tokenRequest(sb, form);
    expect(again).toEqual({ status: 401, body: { error: 'invalid_grant' } });
  });

  it('codes expire quickly', async () => {
    const code = (await approve()).searchParams.get('code')!;
    sb.engine.advanceClock(61_000);
    const r = await tokenRequest(sb, { ...APP, grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(r.body).toEqual({ error: 'invalid_grant' });
  });

  it('a wrong client secret is invalid_client', async () => {
    const code = (await approve()).searchParams.get('code')!;
    const r = await tokenRequest(sb, { ...APP, client_secret: 'wrong', grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(r).toEqual({ status: 401, body: { error: 'invalid_client' } });
  });

  async function basicTokenRequest(credentials: string, form: Record<string, string>) {
    const res = await fetch(`${sb.url}/o/token/`, {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  it('accepts client credentials sent with HTTP Basic', async () => {
    const code = (await approve()).searchParams.get('code')!;
    const r = await basicTokenRequest(`${APP.client_id}:${APP.client_secret}`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(r.status).toBe(200);
  });

  it('a malformed percent-escape in HTTP Basic credentials is invalid_client, not a server error', async () => {
    const code = (await approve()).searchParams.get('code')!;
    const r = await basicTokenRequest(`${APP.client_id}:%E0%A4%A`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(r).toEqual({ status: 401, body: { error: 'invalid_client' } });
  });

  it('an HTTP Basic client secret may contain a colon', async () => {
    await control(sb, 'POST', '/apps', { clientId: 'colon-app', clientSecret: 'se:cret', redirectUris: [REDIRECT] });
    const { body } = await control(sb, 'POST', '/oauth/approve', { client_id: 'colon-app', redirect_uri: REDIRECT, state: 's' });
    const code = new URL(body.location).searchParams.get('code')!;
    const r = await basicTokenRequest('colon-app:se:cret', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(r.status).toBe(200);
  });

  it('an app configured for invalid_client refuses even correct credentials', async () => {
    const t = await connect(sb);
    await control(sb, 'PATCH', '/apps/sandbox-client', { invalidClient: true });
    const r = await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(r.body).toEqual({ error: 'invalid_client' });
  });

  it('refreshing kills the previous access token; without rotation the refresh token is reused', async () => {
    const t = await connect(sb);
    const r = await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(r.body.refresh_token).toBe(t.refresh_token);
    expect((await api(sb, t.access_token, '/api/doctors')).status).toBe(401);
    expect((await api(sb, r.body.access_token, '/api/doctors')).status).toBe(200);
    const r2 = await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(r2.status).toBe(200);
  });

  it('with rotation on, the old refresh token dies', async () => {
    await control(sb, 'PATCH', '/apps/sandbox-client', { rotateRefreshTokens: true });
    const t = await connect(sb);
    const r = await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(r.body.refresh_token).not.toBe(t.refresh_token);
    const reuse = await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(reuse).toEqual({ status: 401, body: { error: 'invalid_grant' } });
  });

  it('re-running OAuth for the same user invalidates the earlier tokens', async () => {
    const first = await connect(sb);
    await connect(sb);
    expect((await api(sb, first.access_token, '/api/doctors')).status).toBe(401);
    expect((await tokenRequest(sb, { ...APP, grant_type: 'refresh_token', refresh_token: first.refresh_token })).body).toEqual({ error: 'invalid_grant' });
  });

  it('an access token past 48 h gets 401', async () => {
    const t = await connect(sb);
    sb.engine.advanceClock(ACCESS_TOKEN_SECONDS * 1000 + 1000);
    expect((await api(sb, t.access_token, '/api/doctors')).status).toBe(401);
  });

  it('a token without the scope gets 403', async () => {
    const t = await connect(sb, undefined, undefined, 'patients:read');
    expect((await api(sb, t.access_token, '/api/patients')).status).toBe(200);
    expect((await api(sb, t.access_token, '/api/doctors')).status).toBe(403);
  });
});
