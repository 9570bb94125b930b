import type { AxiosInstance, AxiosResponse } from 'axios';
import { DrChronoError, InvalidClientError, InvalidGrantError } from './errors';
import { TokenErrorBodySchema, TokenResponseBodySchema } from './schemas';
import {
  DEFAULT_TIMEOUT_MS,
  createHttp,
  errorForStatus,
  networkCode,
  neverReachedServer,
  parseBody,
  resolveBaseUrl,
  sleep,
  toNetworkError,
} from './transport';

/**
 * DrChrono's OAuth token endpoint (`POST /o/token/`, form-encoded, client credentials in the body).
 *
 * Retries: a code is single-use and a refresh may rotate the refresh token, so a request that may have
 * reached the server is never repeated here. Only failures that prove the request was never sent
 * (connection refused, DNS) are retried; a timeout or 5xx surfaces as DrChronoNetworkError/DrChronoServerError
 * and the caller decides (for a refresh: re-read the stored tokens before trying again).
 */

export interface TokenResponse {
  accessToken: string;
  refreshToken: string;
  /** Seconds; DrChrono issues 48 h access tokens (172800). */
  expiresIn: number;
  scope?: string;
  tokenType?: string;
}

interface CommonParams {
  baseUrl?: string;
  clientId: string;
  clientSecret: string;
  timeoutMs?: number;
  /** Runs before each HTTP request (the token endpoint counts against DrChrono's hourly limit). */
  beforeCall?: (info: { method: string; path: string }) => Promise<void>;
}

export interface ExchangeCodeParams extends CommonParams {
  code: string;
  redirectUri: string;
}

export interface RefreshParams extends CommonParams {
  refreshToken: string;
}

const TOKEN_PATH = '/o/token/';
const NOT_SENT_TRIES = 3;

const httpByTimeout = new Map<number, AxiosInstance>();
function httpFor(timeoutMs: number): AxiosInstance {
  let h = httpByTimeout.get(timeoutMs);
  if (!h) {
    h = createHttp(timeoutMs);
    httpByTimeout.set(timeoutMs, h);
  }
  return h;
}

export function exchangeAuthorizationCode(p: ExchangeCodeParams): Promise<TokenResponse> {
  return postToken(p, {
    grant_type: 'authorization_code',
    code: p.code,
    redirect_uri: p.redirectUri,
    client_id: p.clientId,
    client_secret: p.clientSecret,
  });
}

export function refreshAccessToken(p: RefreshParams): Promise<TokenResponse> {
  return postToken(p, {
    grant_type: 'refresh_token',
    refresh_token: p.refreshToken,
    client_id: p.clientId,
    client_secret: p.clientSecret,
  });
}

async function postToken(p: CommonParams, form: Record<string, string>): Promise<TokenResponse> {
  const details = { method: 'POST', path: TOKEN_PATH };
  const http = httpFor(p.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const url = `${resolveBaseUrl(p.baseUrl)}${TOKEN_PATH}`;
  const body = new URLSearchParams(form).toString();

  for (let attempt = 1; ; attempt++) {
    await p.beforeCall?.(details);
    let res;
    try {
      res = await http.post(url, body, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      });
    } catch (err) {
      if (neverReachedServer(networkCode(err)) && attempt < NOT_SENT_TRIES) {
        await sleep(100 * attempt);
        continue;
      }
      throw toNetworkError(err, details);
    }

    if (res.status >= 200 && res.status < 300) {
      const b = parseBody(TokenResponseBodySchema, res.data, details);
      return {
        accessToken: b.access_token,
        refreshToken: b.refresh_token,
        expiresIn: b.expires_in,
        ...(b.scope !== undefined ? { scope: b.scope } : {}),
        ...(b.token_type !== undefined ? { tokenType: b.token_type } : {}),
      };
    }
    throw tokenError(res, details);
  }
}

function tokenError(res: AxiosResponse, details: { method: string; path: string }): DrChronoError {
  const status = res.status;
  const d = { ...details, status };
  const parsed = TokenErrorBodySchema.safeParse(res.data);
  if (parsed.success) {
    if (parsed.data.error === 'invalid_grant') return new InvalidGrantError(d);
    if (parsed.data.error === 'invalid_client') return new InvalidClientError(d);
  }
  if (status === 429 || status >= 500) return errorForStatus(res, details);
  if (status === 401) return new InvalidClientError(d);
  return new DrChronoError(`POST ${TOKEN_PATH}: token request rejected (HTTP ${status}${parsed.success ? `, ${safeCode(parsed.data.error)}` : ''})`, d);
}

/** OAuth error codes are a fixed vocabulary; anything else is not echoed into our messages. */
function safeCode(code: string): string {
  return /^[a-z_]{1,40}$/.test(code) ? code : 'error';
}

