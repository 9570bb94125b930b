import { createHash, timingSafeEqual } from 'node:crypto';
import { OAUTH_CALLBACK_PATH } from '../http/routes';
import { STATE_TTL_SECONDS } from './oauth-state';

/**
 * Binds an OAuth state to the browser that started the flow. The authorize route sets this cookie with the
 * state; the callback accepts a state only from the browser that carries the same cookie. Without it, anyone who
 * knows a team id could start a flow and hand the callback link (with their own DrChrono code) to someone else,
 * or complete a flow in a browser that never started it (login CSRF).
 *
 * HttpOnly, Secure, SameSite=Lax (DrChrono's redirect back is a top-level GET, which Lax allows), and scoped to
 * the callback path only.
 */
export const STATE_COOKIE_NAME = 'drchrono_sync_oauth_state';

export function stateCookie(state: string): string {
  return `${STATE_COOKIE_NAME}=${state}; Max-Age=${STATE_TTL_SECONDS}; Path=${OAUTH_CALLBACK_PATH}; HttpOnly; Secure; SameSite=Lax`;
}

/** Sent with every callback answer: the state is single-use, so its cookie is too. */
export function clearedStateCookie(): string {
  return `${STATE_COOKIE_NAME}=; Max-Age=0; Path=${OAUTH_CALLBACK_PATH}; HttpOnly; Secure; SameSite=Lax`;
}

/** The state cookie's value from API Gateway v2 `cookies` (each "name=value"), if present. */
export function stateFromCookies(cookies: readonly string[] | undefined): string | undefined {
  for (const c of cookies ?? []) {
    const eq = c.indexOf('=');
    if (eq > 0 && c.slice(0, eq).trim() === STATE_COOKIE_NAME) return c.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time comparison of the query's state with the cookie's. */
export function stateMatchesCookie(state: string, cookieState: string | undefined): boolean {
  if (cookieState === undefined || cookieState === '') return false;
  const a = createHash('sha256').update(state).digest();
  const b = createHash('sha256').update(cookieState).digest();
  return timingSafeEqual(a, b);
}
