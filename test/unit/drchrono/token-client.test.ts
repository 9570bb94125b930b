import { exchangeAuthorizationCode, refreshAccessToken } from '../../../shared/drchrono/token-client';
import type { DrChronoRateLimitedError} from '../../../shared/drchrono/errors';
import { DrChronoNetworkError, DrChronoServerError, InvalidClientError, InvalidGrantError } from '../../../shared/drchrono/errors';
import { StubServer } from './stub-server';

let stub: StubServer;
beforeEach(async () => {
  stub = await new StubServer().start();
});
afterEach(() => stub.stop());

const creds = () => ({ baseUrl: stub.url, clientId: 'cid', clientSecret: 'csecret' });
const ok = { access_token: 'new-access', refresh_token: 'new-refresh', expires_in: 172800, token_type: 'Bearer', scope: 'patients:read' };

describe('token client', () => {
  it('exchanges a code with a form-encoded body carrying the client credentials', async () => {
    stub.script({ status: 200, body: ok });
    const t = await exchangeAuthorizationCode({ ...creds(), code: 'the-code', redirectUri: 'https://app.example/cb' });
    expect(t).toEqual({ accessToken: 'new-access', refreshToken: 'new-refresh', expiresIn: 172800, tokenType: 'Bearer', scope: 'patients:read' });
    const req = stub.seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/o/token/');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: 'https://app.example/cb',
      client_id: 'cid',
      client_secret: 'csecret',
    });
  });

  it('refreshes with grant_type=refresh_token and no redirect_uri', async () => {
    stub.script({ status: 200, body: ok });
    await refreshAccessToken({ ...creds(), refreshToken: 'old-refresh' });
    expect(Object.fromEntries(new URLSearchParams(stub.seen[0]!.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'old-refresh',
      client_id: 'cid',
      client_secret: 'csecret',
    });
  });

  it('maps invalid_grant to InvalidGrantError', async () => {
    stub.script({ status: 401, body: { error: 'invalid_grant' } });
    await expect(refreshAccessToken({ ...creds(), refreshToken: 'dead' })).rejects.toBeInstanceOf(InvalidGrantError);
  });

  it('maps invalid_client to InvalidClientError, distinct from invalid_grant', async () => {
    stub.script({ status: 401, body: { error: 'invalid_client' } });
    const err = await refreshAccessToken({ ...creds(), refreshToken: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidClientError);
    expect(err).not.toBeInstanceOf(InvalidGrantError);
  });

  it('does not retry a refresh that got a 5xx: rotation may already have happened', async () => {
    stub.script({ status: 502 }, { status: 200, body: ok });
    await expect(refreshAccessToken({ ...creds(), refreshToken: 'r' })).rejects.toBeInstanceOf(DrChronoServerError);
    expect(stub.seen).toHaveLength(1);
  });

  it('does not retry a refresh that timed out', async () => {
    // Long enough for the request to reach the stub on a busy machine (it counts what arrived).
    stub.script('hang');
    await expect(refreshAccessToken({ ...creds(), refreshToken: 'r', timeoutMs: 1_000 })).rejects.toBeInstanceOf(DrChronoNetworkError);
    expect(stub.seen).toHaveLength(1);
  });

  it('retries when the connection was refused, because nothing reached the server', async () => {
    const url = stub.url;
    await stub.stop();
    let tries = 0;
    const beforeCall = async () => void tries++;
    const err = (await refreshAccessToken({ baseUrl: url, clientId: 'c', clientSecret: 's', refreshToken: 'r', beforeCall }).catch((e: unknown) => e)) as DrChronoNetworkError;
    expect(err).toBeInstanceOf(DrChronoNetworkError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(tries).toBe(3);
    stub = await new StubServer().start();
  });

  it('surfaces a throttled token call as DrChronoRateLimitedError', async () => {
    stub.script({ status: 429, body: { detail: 'Request was throttled. Expected available in 42 seconds.' } });
    const err = (await exchangeAuthorizationCode({ ...creds(), code: 'c', redirectUri: 'https://a/cb' }).catch((e: unknown) => e)) as DrChronoRateLimitedError;
    expect(err.retryAfterSeconds).toBe(42);
  });

  it('never puts the secret, code or tokens in the error message', async () => {
    stub.script({ status: 400, body: { error: 'invalid_request', error_description: 'code the-code is bad' } });
    const err = (await exchangeAuthorizationCode({ ...creds(), code: 'the-code', redirectUri: 'https://a/cb' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('POST /o/token/: token request rejected (HTTP 400, invalid_request)');
  });
});
