/** Small fetch wrappers for tests: status, lower-cased headers, and the body as text or parsed JSON. */
export interface HttpResult<T> {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: T;
}

export async function httpRequest(
  method: string,
  url: string,
  init: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<HttpResult<string>> {
  const res = await fetch(url, { method, headers: init.headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, body: text };
}

/** JSON in and out; with expectStatus, any other status throws with the response text. */
export async function httpJson<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  expectStatus?: number,
): Promise<HttpResult<T>> {
  const res = await httpRequest(method, url, {
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (expectStatus !== undefined && res.status !== expectStatus) {
    throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}, expected ${expectStatus}: ${res.text}`);
  }
  let parsed: unknown;
  try {
    parsed = res.text === '' ? undefined : JSON.parse(res.text);
  } catch {
    parsed = res.text;
  }
  return { ...res, body: parsed as T };
}
