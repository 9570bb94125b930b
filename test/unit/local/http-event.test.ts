import { ROUTES } from '../../../shared/http/routes';
import { apiGatewayTime, isTextContentType, matchRoute, toApiGatewayEvent, type IncomingHttpRequest } from '../../../local/api/http-event';

function request(over: Partial<IncomingHttpRequest>): IncomingHttpRequest {
  return {
    method: 'GET',
    url: '/',
    rawHeaders: ['Host', '127.0.0.1:3000', 'User-Agent', 'test-agent'],
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    protocol: 'HTTP/1.1',
    ...over,
  };
}

describe('matchRoute', () => {
  it('matches a route and decodes its path parameters', () => {
    const match = matchRoute(ROUTES, 'POST', '/drchronowebhook/team%201');
    expect(match?.routeKey).toBe('POST /drchronowebhook/{teamId}');
    expect(match?.pathParameters).toEqual({ teamId: 'team 1' });
  });

  it('gives no pathParameters for a route without any', () => {
    const match = matchRoute(ROUTES, 'GET', '/integration-oauth/callback');
    expect(match?.routeKey).toBe('GET /integration-oauth/callback');
    expect(match?.pathParameters).toBeUndefined();
  });

  it.each([
    ['a wrong method', 'DELETE', '/integration-oauth/callback'],
    ['a method API Gateway cannot route', 'TRACE', '/drchronowebhook/t1'],
    ['an empty parameter', 'GET', '/drchronowebhook/'],
    ['an extra segment', 'GET', '/drchronowebhook/t1/extra'],
    ['a trailing slash', 'GET', '/integration-oauth/callback/'],
  ])('does not match %s', (_label, method, path) => {
    expect(matchRoute(ROUTES, method, path)).toBeUndefined();
  });
});

describe('the webhook path answers every method API Gateway routes', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])('routes %s /drchronowebhook/{teamId} to the webhook function', (method) => {
    const match = matchRoute(ROUTES, method, '/drchronowebhook/t1');
    expect(match?.route.fn).toBe('webhook');
    expect(match?.routeKey).toBe(`${method} /drchronowebhook/{teamId}`);
  });
});

describe('toApiGatewayEvent (payload format 2.0)', () => {
  const match = matchRoute(ROUTES, 'POST', '/drchronowebhook/t1')!;

  it('fills the top-level fields and requestContext like API Gateway', () => {
    const now = new Date('2026-11-21T16:10:06.123Z');
    const event = toApiGatewayEvent(request({ method: 'POST', url: '/drchronowebhook/t1?a=1&b=x%20y' }), match, now);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /drchronowebhook/{teamId}',
      rawPath: '/drchronowebhook/t1',
      rawQueryString: 'a=1&b=x%20y',
      queryStringParameters: { a: '1', b: 'x y' },
      pathParameters: { teamId: 't1' },
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: '127.0.0.1:3000',
        domainPrefix: '127',
        http: { method: 'POST', path: '/drchronowebhook/t1', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test-agent' },
        routeKey: 'POST /drchronowebhook/{teamId}',
        stage: '$default',
        time: '21/Nov/2026:16:10:06 +0000',
        timeEpoch: now.getTime(),
      },
    });
    expect(event.body).toBeUndefined();
    expect(event.cookies).toBeUndefined();
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lower-cases header names, joins duplicates with commas and moves cookies out of the headers', () => {
    const event = toApiGatewayEvent(
      request({ rawHeaders: ['X-Thing', 'a', 'x-thing', 'b', 'Cookie', 'c1=1; c2=2', 'Host', 'h'] }),
      match,
    );
    expect(event.headers).toEqual({ 'x-thing': 'a,b', host: 'h' });
    expect(event.cookies).toEqual(['c1=1', 'c2=2']);
  });

  it('joins repeated query parameters with commas', () => {
    const event = toApiGatewayEvent(request({ url: '/drchronowebhook/t1?k=1&k=2' }), match);
    expect(event.queryStringParameters).toEqual({ k: '1,2' });
  });

  it('passes a JSON body as text', () => {
    const event = toApiGatewayEvent(
      request({ rawHeaders: ['Content-Type', 'application/json; charset=utf-8'], body: Buffer.from('{"x":1}') }),
      match,
    );
    expect(event.isBase64Encoded).toBe(false);
    expect(event.body).toBe('{"x":1}');
  });

  it('base64-encodes a body whose content type is not text-like', () => {
    const body = Buffer.from([0, 255, 1]);
    const event = toApiGatewayEvent(request({ rawHeaders: ['Content-Type', 'application/octet-stream'], body }), match);
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(body);
  });
});

describe('isTextContentType', () => {
  it.each([
    ['text/plain', true],
    ['application/json', true],
    ['application/vnd.api+json', true],
    ['application/xml', true],
    ['application/x-www-form-urlencoded', false],
    ['application/octet-stream', false],
    [undefined, false],
  ])('%s → %s', (type, expected) => {
    expect(isTextContentType(type)).toBe(expected);
  });
});

describe('apiGatewayTime', () => {
  it('pads day and time fields', () => {
    expect(apiGatewayTime(new Date('2026-03-05T01:02:03Z'))).toBe('05/Mar/2026:01:02:03 +0000');
  });
});
