import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, NodeSha256, queryRecord, signRequest, type SigV4Credentials } from '../../../shared/http/sigv4';
import { MAX_CLOCK_SKEW_MS, verifySigV4, type SignedRequestView } from '../../../local/api/sigv4-verify';

const REGION = 'us-east-1';
const NOW = new Date('2026-11-30T08:30:00.000Z');
const URL_ = 'http://127.0.0.1:3456/teams/7c0e7d4e-5d7b-4a8e-9a50-0d4a3c2f1b11/patients/CH%20001?b=2&a=1';
const BODY = JSON.stringify({ 'Email Address': 'someone@example.invalid' });

async function signed(opts: { credentials?: SigV4Credentials; now?: Date; region?: string; url?: string; body?: string; headers?: Record<string, string> } = {}) {
  return signRequest(
    { method: 'PUT', url: opts.url ?? URL_, headers: opts.headers ?? { 'content-type': 'application/json' }, body: opts.body ?? BODY },
    { credentials: opts.credentials ?? LOCAL_CREDENTIALS, region: opts.region ?? REGION, now: opts.now ?? NOW },
  );
}

function view(headers: Record<string, string>, over: Partial<SignedRequestView> = {}): SignedRequestView {
  const u = new URL(URL_);
  return { method: 'PUT', rawPath: u.pathname, rawQueryString: u.search.slice(1), headers, body: Buffer.from(BODY), ...over };
}

const verify = (v: SignedRequestView, now = NOW) => verifySigV4(v, { region: REGION, credentials: LOCAL_CREDENTIALS, now });

describe('signRequest', () => {
  it('returns the headers to send: host, x-amz-date, the body hash and an execute-api authorization', async () => {
    const h = await signed();
    expect(h.host).toBe('127.0.0.1:3456');
    expect(h['x-amz-date']).toBe('20261130T083000Z');
    expect(h['x-amz-content-sha256']).toBe(createHash('sha256').update(BODY).digest('hex'));
    expect(h['content-type']).toBe('application/json');
    expect(h.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=local\/20261130\/us-east-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
  });

  it('computes the signature AWS specifies (checked against an independent canonical-request computation)', async () => {
    const h = await signed({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/teams/t1/changes/c1?x=1', region: 'eu-west-1', body: '' , headers: {} });
    const emptyHash = createHash('sha256').update('').digest('hex');
    const canonical = [
      'PUT',
      '/teams/t1/changes/c1',
      'x=1',
      `host:abc123.execute-api.eu-west-1.amazonaws.com\nx-amz-content-sha256:${emptyHash}\nx-amz-date:20261130T083000Z\n`,
      'host;x-amz-content-sha256;x-amz-date',
      emptyHash,
    ].join('\n');
    const scope = '20261130/eu-west-1/execute-api/aws4_request';
    const stringToSign = ['AWS4-HMAC-SHA256', '20261130T083000Z', scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    let key: Buffer = Buffer.from('AWS4local');
    for (const part of ['20261130', 'eu-west-1', 'execute-api', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
    expect(h.authorization).toBe(`AWS4-HMAC-SHA256 Credential=local/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`);
  });

  it('adds the session token of temporary credentials and signs it', async () => {
    const h = await signed({ credentials: { accessKeyId: 'AKIDTEMP', secretAccessKey: 's', sessionToken: 'tok' } });
    expect(h['x-amz-security-token']).toBe('tok');
    expect(h.authorization).toContain('x-amz-security-token');
  });
});

describe('verifySigV4 (the local IAM authorizer)', () => {
  it('accepts a request signed with the local key, percent-encoded path and query included', async () => {
    await expect(verify(view(await signed()))).resolves.toEqual({ ok: true });
  });

  it('accepts a date within the 15-minute window on either side', async () => {
    const h = await signed();
    await expect(verify(view(h), new Date(NOW.getTime() + MAX_CLOCK_SKEW_MS - 1000))).resolves.toEqual({ ok: true });
    await expect(verify(view(h), new Date(NOW.getTime() - MAX_CLOCK_SKEW_MS + 1000))).resolves.toEqual({ ok: true });
  });

  it('rejects an unsigned request', async () => {
    await expect(verify(view({ host: '127.0.0.1:3456' }))).resolves.toEqual({ ok: false, reason: 'unsigned' });
  });

  it('rejects a signature made with the wrong secret', async () => {
    const h = await signed({ credentials: { accessKeyId: 'local', secretAccessKey: 'not-local' } });
    await expect(verify(view(h))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('rejects an unknown access key', async () => {
    const h = await signed({ credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'local' } });
    await expect(verify(view(h))).resolves.toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('rejects a body altered after signing', async () => {
    const h = await signed();
    await expect(verify(view(h, { body: Buffer.from(BODY.replace('someone', 'sometwo')) }))).resolves.toEqual({ ok: false, reason: 'body-hash' });
  });

  it('checks the body of a client that signs without x-amz-content-sha256 (API Gateway does not require it)', async () => {
    const u = new URL(URL_);
    const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: LOCAL_CREDENTIALS, sha256: NodeSha256, applyChecksum: false });
    const req = await signer.sign(
      { method: 'PUT', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query: queryRecord(u.searchParams), headers: { host: u.host }, body: BODY },
      { signingDate: NOW },
    );
    const h = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    expect(h['x-amz-content-sha256']).toBeUndefined();
    await expect(verify(view(h))).resolves.toEqual({ ok: true });
    await expect(verify(view(h, { body: Buffer.from('{}') }))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('rejects a path, query, method or signed header changed after signing', async () => {
    const h = await signed({ headers: { 'content-type': 'application/json', 'if-match': '"v1"' } });
    await expect(verify(view(h))).resolves.toEqual({ ok: true });
    await expect(verify(view(h, { rawPath: '/teams/7c0e7d4e-5d7b-4a8e-9a50-0d4a3c2f1b11/patients/CH%20002' }))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    await expect(verify(view(h, { rawQueryString: 'b=2&a=3' }))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    await expect(verify(view(h, { method: 'PATCH' }))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    await expect(verify(view({ ...h, 'if-match': '"v2"' }))).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('rejects a stale or future date outside the 15-minute window', async () => {
    const h = await signed();
    await expect(verify(view(h), new Date(NOW.getTime() + MAX_CLOCK_SKEW_MS + 1000))).resolves.toEqual({ ok: false, reason: 'stale-date' });
    await expect(verify(view(h), new Date(NOW.getTime() - MAX_CLOCK_SKEW_MS - 1000))).resolves.toEqual({ ok: false, reason: 'stale-date' });
  });

  it('rejects a signature for another region or service', async () => {
    await expect(verify(view(await signed({ region: 'eu-west-1' })))).resolves.toEqual({ ok: false, reason: 'wrong-scope' });
    const other = await signRequest({ method: 'PUT', url: URL_, body: BODY }, { credentials: LOCAL_CREDENTIALS, region: REGION, service: 'lambda', now: NOW });
    await expect(verify(view(other))).resolves.toEqual({ ok: false, reason: 'wrong-scope' });
  });

  it('rejects a signature that does not sign host and x-amz-date', async () => {
    const h = await signed();
    const noHost = { ...h, authorization: h.authorization!.replace('content-type;host;', 'content-type;') };
    await expect(verify(view(noHost))).resolves.toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects garbage in the authorization header', async () => {
    await expect(verify(view({ ...(await signed()), authorization: 'Bearer abc' }))).resolves.toEqual({ ok: false, reason: 'malformed' });
  });
});
