import http from 'node:http';
import https from 'node:https';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { axios } from '../http/axios-without-fetch-probe';
import type * as z from 'zod/mini';
import { logger } from '../logging/logger';
import {
  DrChronoError,
  DrChronoForbiddenError,
  DrChronoNetworkError,
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoResponseValidationError,
  DrChronoServerError,
  DrChronoUnauthorizedError,
  type DrChronoErrorDetails,
} from './errors';

/**
 * Plumbing shared by the API clients (plain and bulk) and the token client: one axios instance, status → typed
 * error, backoff, and the authorized request loop.
 */

export interface CallInfo {
  method: string;
  /** Path template, e.g. `/api/patients/{id}`. */
  path: string;
}

export const DEFAULT_BASE_URL = 'https://drchrono.com';
export const DEFAULT_TIMEOUT_MS = 10_000;

export function resolveBaseUrl(baseUrl?: string): string {
  const url = baseUrl ?? process.env.DRCHRONO_BASE_URL ?? DEFAULT_BASE_URL;
  return url.replace(/\/+$/, '');
}

/**
 * Every status is handed back to us (no axios throw, no automatic redirects) so that each request, including
 * a redirect follow, passes through our own accounting and error mapping.
 */
export function createHttp(timeoutMs: number): AxiosInstance {
  return axios.create({
    timeout: timeoutMs,
    // Node's http adapter only: the fetch adapter's feature probe was skipped at load (shared/http/axios-without-fetch-probe.ts).
    adapter: 'http',
    maxRedirects: 0,
    validateStatus: () => true,
    httpAgent: new http.Agent({ keepAlive: true }),
    httpsAgent: new https.Agent({ keepAlive: true }),
    // Timeouts surface as ETIMEDOUT rather than ECONNABORTED. (Axios errors still carry the request config with
    // our Authorization header: callers map them through toNetworkError and never rethrow or log them raw.)
    transitional: { clarifyTimeoutError: true },
  });
}

/** Network failure codes meaning the request never reached the server, so even a non-idempotent call may be repeated. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

export function networkCode(err: unknown): string | undefined {
  if (axios.isAxiosError(err)) return err.code ?? 'ERR_NETWORK';
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function neverReachedServer(code: string | undefined): boolean {
  return code !== undefined && NOT_SENT_CODES.has(code);
}

/** Translate a transport exception into our error without carrying axios' config (headers, URL) along. */
export function toNetworkError(err: unknown, details: DrChronoErrorDetails): DrChronoNetworkError {
  return new DrChronoNetworkError(networkCode(err), details);
}

const WAIT_IN_BODY = /Expected available in (\d+(?:\.\d+)?) seconds?/i;

/**
 * Seconds to wait after a 429: the larger of DrChrono's body text ("Expected available in X seconds") and a
 * Retry-After header (seconds or HTTP date), if either is present; otherwise `fallbackSeconds`.
 */
export function rateLimitWaitSeconds(body: unknown, retryAfterHeader: unknown, now = Date.now(), fallbackSeconds = 60): number {
  const candidates: number[] = [];
  const detail = body && typeof body === 'object' && 'detail' in body ? (body as { detail: unknown }).detail : body;
  if (typeof detail === 'string') {
    const m = WAIT_IN_BODY.exec(detail);
    if (m?.[1]) candidates.push(Math.ceil(Number(m[1])));
  }
  if (typeof retryAfterHeader === 'string' && retryAfterHeader.trim() !== '') {
    const v = retryAfterHeader.trim();
    if (/^\d+$/.test(v)) candidates.push(Number(v));
    else {
      const at = Date.parse(v);
      if (!Number.isNaN(at)) candidates.push(Math.max(0, Math.ceil((at - now) / 1000)));
    }
  }
  return candidates.length > 0 ? Math.max(...candidates) : fallbackSeconds;
}

/** The typed error for a non-2xx API answer. */
export function errorForStatus(res: AxiosResponse, details: DrChronoErrorDetails): DrChronoError {
  const d = { ...details, status: res.status };
  switch (res.status) {
    case 401:
      return new DrChronoUnauthorizedError(d);
    case 403:
      return new DrChronoForbiddenError(d);
    case 404:
      return new DrChronoNotFoundError(d);
    case 429:
      return new DrChronoRateLimitedError(rateLimitWaitSeconds(res.data, res.headers['retry-after']), d);
    default:
      if (res.status >= 500) return new DrChronoServerError(d);
      return new DrChronoError(`${details.method} ${details.path}: unexpected HTTP ${res.status}`, d);
  }
}

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)]. */
export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Validate a 2xx body; on failure report field paths and issue codes only (values may be PHI). */
export function parseBody<S extends z.ZodMiniType>(schema: S, body: unknown, details: DrChronoErrorDetails): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}:${i.code}`);
  throw new DrChronoResponseValidationError(issues, details);
}

/** What the authorized request loop needs from a client's options. */
export interface RequestOptions {
  /** Asked before every request, so a token refreshed elsewhere is picked up. */
  accessToken: () => Promise<string>;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Extra tries after a 5xx or network failure. Default 2 (3 tries in all). */
  maxRetries?: number;
  /** Backoff tuning (full jitter). Defaults 250 ms base, 4 s cap. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Runs before EVERY HTTP request (each page, each retry, the redirect follow). If it throws, no request is made. */
  beforeCall?: (info: CallInfo) => Promise<void>;
}

export interface SendOptions {
  /** A non-2xx answer handed back as it is rather than as an error (e.g. a redirect the caller follows itself). */
  accept?: (res: AxiosResponse) => boolean;
  /** A caller-specific error for a non-2xx answer, checked before the status mapping; never retried. */
  errorFor?: (res: AxiosResponse) => DrChronoError | undefined;
}

/**
 * One logical authorized request: beforeCall → bearer token → HTTP → typed error, retrying 5xx and network
 * failures with jittered backoff. Only for calls that are safe to repeat (GETs, and bulk-list POSTs).
 */
export class AuthorizedRequester {
  private readonly http: AxiosInstance;
  private readonly maxRetries: number;
  private readonly backoff: BackoffOptions;

  constructor(private readonly opts: RequestOptions) {
    this.http = createHttp(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.maxRetries = opts.maxRetries ?? 2;
    this.backoff = { baseDelayMs: opts.retryBaseDelayMs ?? 250, maxDelayMs: opts.retryMaxDelayMs ?? 4000 };
  }

  async send(method: 'GET' | 'POST', url: string, info: CallInfo, o: SendOptions = {}): Promise<AxiosResponse> {
    return this.request(method, url, info, o, undefined, true);
  }

  /**
   * A write (write-back). PATCH, PUT and DELETE set a state, so repeating one is harmless: retried like reads.
   * A POST creates: after a 5xx or a network failure DrChrono may have created the object, and a blind retry could
   * create it twice, so it is retried only when the request never reached the server (connection refused, DNS);
   * otherwise the error surfaces and the caller decides (the write-back worker looks for the object first).
   */
  async write(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, info: CallInfo, data: unknown, o: SendOptions = {}): Promise<AxiosResponse> {
    return this.request(method, url, info, o, data, method !== 'POST');
  }

  private async request(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    info: CallInfo,
    o: SendOptions,
    data: unknown,
    idempotent: boolean,
  ): Promise<AxiosResponse> {
    for (let attempt = 0; ; attempt++) {
      await this.opts.beforeCall?.(info);
      const token = await this.opts.accessToken();
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
      if (data !== undefined) headers['Content-Type'] = 'application/json';
      let res: AxiosResponse;
      try {
        res = await this.http.request({ method, url, headers, ...(data !== undefined ? { data } : {}) });
      } catch (err) {
        const e = toNetworkError(err, info);
        if (attempt < this.maxRetries && (idempotent || neverReachedServer(e.code))) {
          await this.pause(attempt, info, e.code ?? 'network');
          continue;
        }
        throw e;
      }
      if (res.status >= 200 && res.status < 300) return res;
      if (o.accept?.(res)) return res;
      const own = o.errorFor?.(res);
      if (own) throw own;
      const e = errorForStatus(res, info);
      if (e instanceof DrChronoServerError && idempotent && attempt < this.maxRetries) {
        await this.pause(attempt, info, String(res.status));
        continue;
      }
      throw e;
    }
  }

  private async pause(attempt: number, info: CallInfo, reason: string): Promise<void> {
    const delayMs = backoffDelayMs(attempt, this.backoff);
    logger.warn('DrChrono call retrying', { method: info.method, path: info.path, reason, attempt: attempt + 1, delayMs });
    await sleep(delayMs);
  }
}
