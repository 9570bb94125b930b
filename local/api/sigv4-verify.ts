import { timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { EXECUTE_API_SERVICE, NodeSha256, queryRecord, sha256Hex, type SigV4Credentials } from '../../shared/http/sigv4';

/**
 * The local stand-in for API Gateway's IAM authorizer on `auth: 'iam'` routes: recomputes the SigV4 signature
 * from the request (method, path, query, the signed headers, the body's hash) with the one key pair the platform
 * knows and compares in constant time. API Gateway answers every failure with the same 403; the reason class is
 * for the platform log only (never a header value).
 */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export type SigV4Rejection = 'unsigned' | 'malformed' | 'unknown-key' | 'wrong-scope' | 'stale-date' | 'body-hash' | 'bad-signature';

export interface SignedRequestView {
  method: string;
  /** the path as on the request line (percent-encoded) */
  rawPath: string;
  rawQueryString: string;
  /** lower-cased names */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
}

export interface VerifyOptions {
  region: string;
  credentials: SigV4Credentials;
  now: Date;
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9\-;]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(s: string): Date | undefined {
  const m = AMZ_DATE.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function verifySigV4(req: SignedRequestView, opts: VerifyOptions): Promise<{ ok: true } | { ok: false; reason: SigV4Rejection }> {
  const authorization = req.headers.authorization;
  if (authorization === undefined || authorization === '') return { ok: false, reason: 'unsigned' };
  const m = AUTH_PATTERN.exec(authorization.trim());
  if (!m) return { ok: false, reason: 'malformed' };
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (!sameText(accessKeyId, opts.credentials.accessKeyId)) return { ok: false, reason: 'unknown-key' };

  const amzDate = req.headers['x-amz-date'];
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  const signedHeaders = signedHeaderList.split(';');
  if (!signedAt || !signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) return { ok: false, reason: 'malformed' };
  if (scopeDate !== amzDate!.slice(0, 8) || region !== opts.region || service !== EXECUTE_API_SERVICE) return { ok: false, reason: 'wrong-scope' };
  if (Math.abs(opts.now.getTime() - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'stale-date' };

  // The signer trusts x-amz-content-sha256 as the payload hash, so check it against the body actually received.
  const bodyHash = sha256Hex(req.body);
  const claimedHash = req.headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== bodyHash) return { ok: false, reason: 'body-hash' };

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return { ok: false, reason: 'malformed' };
    headers[name] = value;
  }
  const signer = new SignatureV4({
    service: EXECUTE_API_SERVICE,
    region: opts.region,
    credentials: opts.credentials,
    sha256: NodeSha256,
    uriEscapePath: true,
    // Sign exactly the headers the caller signed: never add x-amz-content-sha256 on our side.
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: req.rawPath,
      query: queryRecord(new URLSearchParams(req.rawQueryString)),
      headers,
      body: req.body.length === 0 ? undefined : req.body,
    },
    { signingDate: signedAt, signableHeaders: new Set(signedHeaders) },
  );
  const expectedAuth = String(expected.headers.authorization ?? '');
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(expectedAuth)?.[1] ?? '';
  const expectedList = /SignedHeaders=([^,]+),/.exec(expectedAuth)?.[1] ?? '';
  if (expectedList !== signedHeaderList || !sameText(expectedSignature, signature)) return { ok: false, reason: 'bad-signature' };
  return { ok: true };
}
