import { startSandbox, type RunningSandbox } from '../../../local/drchrono-sandbox/index';

/** Response bodies are whatever JSON the sandbox sent; tests assert on their shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJson = any;

export const REDIRECT = 'http://127.0.0.1:3999/integration-oauth/callback';

export async function sandbox(opts: Partial<Parameters<typeof startSandbox>[0]> = {}): Promise<RunningSandbox> {
  return startSandbox({ port: 0, ...opts });
}

export async function control(sb: RunningSandbox, method: string, path: string, body?: unknown): Promise<{ status: number; body: AnyJson }> {
  const res = await fetch(`${sb.url}/_sandbox${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function tokenRequest(sb: RunningSandbox, form: Record<string, string>): Promise<{ status: number; body: AnyJson }> {
  const res = await fetch(`${sb.url}/o/token/`, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return { status: res.status, body: await res.json() };
}

/** Approve without a browser and exchange the code: the tokens of the default app. */
export async function connect(sb: RunningSandbox, clientId = 'sandbox-client', clientSecret = 'sandbox-secret', scope?: string) {
  const { body } = await control(sb, 'POST', '/oauth/approve', { client_id: clientId, redirect_uri: REDIRECT, state: 's1', ...(scope ? { scope } : {}) });
  const code = new URL(body.location).searchParams.get('code')!;
  const t = await tokenRequest(sb, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, client_secret: clientSecret });
  return t.body as { access_token: string; refresh_token: string; expires_in: number };
}

export async function api(sb: RunningSandbox, token: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: AnyJson; headers: Headers }> {
  const res = await fetch(`${sb.url}${path}`, { redirect: 'manual', ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}
