import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RouteDef } from '../../shared/http/routes';

/**
 * Turns a plain HTTP request into the API Gateway HTTP API event (payload format 2.0) that the deployed
 * handlers receive, following the rules AWS documents for that format.
 */
export interface IncomingHttpRequest {
  method: string;
  /** path and query exactly as on the request line */
  url: string;
  /** node's rawHeaders: [name, value, name, value, ...] */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  protocol: string;
}

export interface RouteMatch {
  route: RouteDef;
  routeKey: string;
  pathParameters?: Record<string, string>;
}

/** Matches `{name}` segments the way API Gateway does: one whole, non-empty path segment each. */
export function matchRoute(routes: readonly RouteDef[], method: string, rawPath: string): RouteMatch | undefined {
  const segments = rawPath.split('/');
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i += 1) {
      const p = pattern[i]!;
      const s = segments[i]!;
      const param = /^\{([A-Za-z0-9_]+)\}$/.exec(p);
      if (param) {
        if (s === '') ok = false;
        else params[param[1]!] = safeDecode(s);
      } else if (p !== s) ok = false;
    }
    if (ok) {
      return {
        route,
        routeKey: `${route.method} ${route.path}`,
        ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}),
      };
    }
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** API Gateway passes these bodies as text and base64-encodes everything else. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type === 'application/javascript' ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** requestContext.time, e.g. `21/Nov/2026:16:10:06 +0000` */
export function apiGatewayTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function toApiGatewayEvent(req: IncomingHttpRequest, match: RouteMatch, now = new Date()): APIGatewayProxyEventV2 {
  const queryAt = req.url.indexOf('?');
  const rawPath = queryAt === -1 ? req.url : req.url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : req.url.slice(queryAt + 1).split('#')[0]!;

  // Lower-cased names, duplicates joined with commas; cookies move to their own field.
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((c) => c.trim()).filter((c) => c !== ''));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }

  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;

  const hasBody = req.body.length > 0;
  const isBase64Encoded = hasBody && !isTextContentType(headers['content-type']);
  const host = headers.host ?? 'localhost';
  const domainPrefix = host.split(':')[0]!.split('.')[0]!;

  return {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: host,
      domainPrefix,
      http: {
        method: req.method,
        path: rawPath,
        protocol: req.protocol,
        sourceIp: req.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: match.routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(hasBody ? { body: isBase64Encoded ? req.body.toString('base64') : req.body.toString('utf8') } : {}),
    isBase64Encoded,
  };
}
