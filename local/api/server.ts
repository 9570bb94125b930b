import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RouteDef } from '../../shared/http/routes';
import type { SigV4Credentials } from '../../shared/http/sigv4';
import { listen, type ListeningServer } from '../http/listen';
import { readRequestBody } from '../http/read-body';
import { matchRoute, toApiGatewayEvent } from './http-event';
import { jsonResponse, toHttpResponse, type HttpResponse } from './http-response';
import { verifySigV4 } from './sigv4-verify';

/**
 * The local stand-in for the HTTP API: the same routes as the CDK stack (shared/http/routes.ts), each
 * request turned into a payload 2.0 event for the real handler. Paths under /_local/ are the platform's
 * own control routes and exist only here.
 */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const CONTROL_PREFIX = '/_local/';

export interface LocalApiDeps {
  routes: readonly RouteDef[];
  invoke(fn: RouteDef['fn'], event: APIGatewayProxyEventV2): Promise<unknown>;
  control?(method: string, path: string, body: Buffer): Promise<HttpResponse>;
  /**
   * What `auth: 'iam'` routes accept: SigV4 with this key pair and region (service execute-api). Without it such
   * routes answer 403 to everyone (fail closed).
   */
  iam?: { region: string; credentials: SigV4Credentials };
  /** Called when an invocation fails; must log ids/classes only. */
  onError?(fn: string, err: unknown): HttpResponse | undefined;
  log(line: string): void;
}

export type LocalApi = ListeningServer;

function send(res: ServerResponse, r: HttpResponse): void {
  res.statusCode = r.statusCode;
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.cookies.length > 0) res.setHeader('set-cookie', r.cookies);
  res.end(r.body);
}

/** Sends `r`, or a plain 500 when node refuses it (a header name or value a handler built badly); never throws. */
function sendSafely(res: ServerResponse, r: HttpResponse): HttpResponse {
  try {
    send(res, r);
    return r;
  } catch {
    const fallback = jsonResponse(500, { message: 'Internal Server Error' });
    if (res.headersSent) res.destroy();
    else {
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      send(res, fallback);
    }
    return fallback;
  }
}

/** Lower-cased names; repeated headers joined with commas, as SigV4 canonicalises them. */
function lowerCaseHeaders(rawHeaders: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

export async function startLocalApi(opts: { port: number; host?: string }, deps: LocalApiDeps): Promise<LocalApi> {
  const host = opts.host ?? '127.0.0.1';

  /** Undefined when the client went away mid-body: nobody to answer. */
  async function handle(req: IncomingMessage): Promise<{ response: HttpResponse; label: string } | undefined> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0]!;
    const read = await readRequestBody(req, MAX_PAYLOAD_BYTES);
    if (read.kind === 'aborted') return undefined;
    if (read.kind === 'too-large') return { response: jsonResponse(413, { message: 'Request Entity Too Large' }), label: '(too large)' };
    const body = read.body;
    if (rawPath.startsWith(CONTROL_PREFIX) && deps.control) {
      return { response: await deps.control(method, rawPath, body), label: rawPath.split('/').slice(0, 3).join('/') };
    }
    const match = matchRoute(deps.routes, method, rawPath);
    if (!match) return { response: jsonResponse(404, { message: 'Not Found' }), label: '(no route)' };
    if (match.route.auth === 'iam') {
      const queryAt = url.indexOf('?');
      const verdict = deps.iam
        ? await verifySigV4(
            {
              method,
              rawPath,
              rawQueryString: queryAt === -1 ? '' : url.slice(queryAt + 1).split('#')[0]!,
              headers: lowerCaseHeaders(req.rawHeaders),
              body,
            },
            { ...deps.iam, now: new Date() },
          )
        : ({ ok: false, reason: 'no-iam-configured' } as const);
      // Like API Gateway: one plain 403 for every failure; the reason class goes to the log only.
      if (!verdict.ok) return { response: jsonResponse(403, { message: 'Forbidden' }), label: `${match.route.path} (sigv4: ${verdict.reason})` };
    }
    const event = toApiGatewayEvent(
      {
        method,
        url,
        rawHeaders: req.rawHeaders,
        body,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        protocol: `HTTP/${req.httpVersion}`,
      },
      match,
    );
    try {
      return { response: toHttpResponse(await deps.invoke(match.route.fn, event)), label: match.route.path };
    } catch (err) {
      const custom = deps.onError?.(match.route.fn, err);
      return { response: custom ?? jsonResponse(500, { message: 'Internal Server Error' }), label: match.route.path };
    }
  }

  const server = createServer((req, res) => {
    const started = Date.now();
    void handle(req)
      .catch(() => ({ response: jsonResponse(500, { message: 'Internal Server Error' }), label: '(error)' }))
      .then((out) => {
        if (!out) {
          res.destroy();
          deps.log(`${req.method ?? '?'} (aborted) - ${Date.now() - started}ms`);
          return;
        }
        const { response, label } = out;
        const sent = sendSafely(res, response);
        // Route templates only: raw paths and query strings can carry OAuth codes and ids we do not log.
        deps.log(`${req.method ?? '?'} ${label} ${sent.statusCode} ${Date.now() - started}ms`);
      });
  });

  return listen(server, opts.port, host);
}
