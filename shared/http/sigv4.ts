import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * AWS Signature Version 4 for the write API (docs/write-back.md, "Authorisation"): the API's routes use the HTTP
 * API's IAM authorizer on AWS, and the local API checks the same signature with the `local`/`local` key. Apps, the
 * CLI and the tests sign with signRequest(); the local API verifies with the same signer (local/api/sigv4-verify.ts),
 * so the two cannot drift apart.
 */
export const EXECUTE_API_SERVICE = 'execute-api';
/** The key pair the local API accepts (the emulators' credentials). */
export const LOCAL_CREDENTIALS: SigV4Credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
/** A fixed key pair, or a provider such as @aws-sdk/credential-provider-node's defaultProvider(). */
export type SigV4CredentialSource = SigV4Credentials | (() => Promise<SigV4Credentials>);

/** SHA-256 (and HMAC-SHA256 when given a key) on node:crypto, in the shape @smithy/signature-v4 asks for. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    // Never called by the signer for our use (one hash per instance); a used Hash cannot be reset.
    throw new Error('NodeSha256 cannot be reset; create a new one');
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body).digest('hex');
}

export function executeApiSigner(region: string, credentials: SigV4CredentialSource): SignatureV4 {
  return new SignatureV4({ service: EXECUTE_API_SERVICE, region, credentials, sha256: NodeSha256, uriEscapePath: true, applyChecksum: true });
}

/** `?a=1&a=2&b` → { a: ['1','2'], b: '' }, the query shape the signer canonicalises. */
export function queryRecord(search: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of search) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export interface SignRequestInput {
  method: string;
  /** Absolute URL, path and query exactly as they will be sent (the path stays percent-encoded as in the URL). */
  url: string | URL;
  /** Headers to send and sign too (e.g. content-type, if-match); names are lower-cased. */
  headers?: Record<string, string>;
  /** The exact bytes that will be sent (a string is sent as UTF-8). */
  body?: string | Uint8Array;
}

export interface SignRequestOptions {
  credentials: SigV4CredentialSource;
  region: string;
  /** Defaults to execute-api (API Gateway). */
  service?: string;
  /** Signing time; defaults to now. */
  now?: Date;
}

/**
 * Signs a request for API Gateway's IAM authorizer and returns every header to send: the caller's own (lower-cased),
 * `host`, `x-amz-date`, `x-amz-content-sha256`, `authorization` (and `x-amz-security-token` with temporary
 * credentials). Send them unchanged with the same method, URL and body; `host` may be left to the HTTP client,
 * which sends the same value (the URL's host, with its port when not the default).
 */
export async function signRequest(req: SignRequestInput, opts: SignRequestOptions): Promise<Record<string, string>> {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  const body = req.body ?? '';
  headers['x-amz-content-sha256'] = sha256Hex(body);
  const signer = opts.service === undefined || opts.service === EXECUTE_API_SERVICE
    ? executeApiSigner(opts.region, opts.credentials)
    : new SignatureV4({ service: opts.service, region: opts.region, credentials: opts.credentials, sha256: NodeSha256 });
  const signed = await signer.sign(
    {
      method: req.method.toUpperCase(),
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: queryRecord(url.searchParams),
      headers,
      body,
    },
    { signingDate: opts.now ?? new Date() },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = String(v);
  return out;
}
