import { InvalidLambdaResponseError, toHttpResponse } from '../../../local/api/http-response';

describe('toHttpResponse (HTTP API payload 2.0 response rules)', () => {
  it('uses an object with statusCode as is, lower-casing header names', () => {
    const r = toHttpResponse({ statusCode: 201, headers: { 'X-Id': 'abc', 'Retry-After': 5 }, body: 'done' });
    expect(r.statusCode).toBe(201);
    expect(r.headers).toEqual({ 'x-id': 'abc', 'retry-after': '5' });
    expect(r.body.toString()).toBe('done');
  });

  it('decodes a base64 body', () => {
    const r = toHttpResponse({ statusCode: 200, body: Buffer.from([1, 2, 250]).toString('base64'), isBase64Encoded: true });
    expect([...r.body]).toEqual([1, 2, 250]);
  });

  it('sends cookies as set-cookie values', () => {
    expect(toHttpResponse({ statusCode: 302, cookies: ['a=1', 'b=2'] }).cookies).toEqual(['a=1', 'b=2']);
  });

  it('turns an object without statusCode into a 200 JSON body', () => {
    const r = toHttpResponse({ ok: true });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body.toString()).toBe('{"ok":true}');
  });

  it('sends a returned string as the body of a 200', () => {
    const r = toHttpResponse('hello');
    expect(r.statusCode).toBe(200);
    expect(r.body.toString()).toBe('hello');
  });

  it.each([
    ['a non-numeric statusCode', { statusCode: '200' }],
    ['an out-of-range statusCode', { statusCode: 700 }],
    ['a non-string body', { statusCode: 200, body: { a: 1 } }],
    ['non-object headers', { statusCode: 200, headers: 'x' }],
    ['an object header value', { statusCode: 200, headers: { a: { b: 1 } } }],
  ])('rejects %s', (_label, result) => {
    expect(() => toHttpResponse(result)).toThrow(InvalidLambdaResponseError);
  });
});
