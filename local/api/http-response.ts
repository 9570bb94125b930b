/**
 * Maps a handler's return value to an HTTP response by the API Gateway HTTP API rules for payload
 * format 2.0: an object with statusCode is used as is (base64 bodies decoded); any other JSON value is a
 * 200 with that value as an application/json body.
 */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

export class InvalidLambdaResponseError extends Error {
  constructor(reason: string) {
    super(`invalid Lambda proxy response: ${reason}`);
    this.name = 'InvalidLambdaResponseError';
  }
}

export function jsonResponse(statusCode: number, body: unknown): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(JSON.stringify(body)),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function toHttpResponse(result: unknown): HttpResponse {
  if (!isRecord(result) || !('statusCode' in result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(body) };
  }
  const { statusCode, headers, cookies, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new InvalidLambdaResponseError('statusCode must be an integer between 100 and 599');
  }
  const outHeaders: Record<string, string> = {};
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers)) throw new InvalidLambdaResponseError('headers must be an object');
    for (const [k, v] of Object.entries(headers)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new InvalidLambdaResponseError(`header ${k} must be a string, number or boolean`);
      }
      outHeaders[k.toLowerCase()] = String(v);
    }
  }
  let outCookies: string[] = [];
  if (cookies !== undefined && cookies !== null) {
    if (!Array.isArray(cookies) || !cookies.every((c) => typeof c === 'string')) {
      throw new InvalidLambdaResponseError('cookies must be a list of strings');
    }
    outCookies = cookies as string[];
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw new InvalidLambdaResponseError('body must be a string');
  }
  const text = (body as string | undefined | null) ?? '';
  return {
    statusCode,
    headers: outHeaders,
    cookies: outCookies,
    body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'),
  };
}
