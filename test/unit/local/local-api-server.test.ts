import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ROUTES } from '../../../shared/http/routes';
import { MAX_PAYLOAD_BYTES, startLocalApi, type LocalApi } from '../../../local/api/server';
import { jsonResponse } from '../../../local/api/http-response';
import { LOCAL_CREDENTIALS, signRequest } from '../../../shared/http/sigv4';

let api: LocalApi;
let invoked: { fn: string; event: APIGatewayProxyEventV2 }[];
let result: () => Promise<unknown>;
let logLines: string[];

beforeEach(async () => {
  invoked = [];
  logLines = [];
  result = async () => ({ statusCode: 204 });
  api = await startLocalApi(
    { port: 0 },
    {
      routes: ROUTES,
      invoke: async (fn, event) => {
        invoked.push({ fn, event });
        return result();
      },
      control: async (method, path) => jsonResponse(200, { method, path }),
      log: (l) => logLines.push(l),
    },
  );
});

afterEach(() => api.close());

describe('local API server', () => {
  it('invokes the route function with the event built from the request', async () => {
    const res = await fetch(`${api.url}/drchronowebhook/t-1?msg=hello`, { method: 'GET' });
    expect(res.status).toBe(204);
    expect(invoked).toHaveLength(1);
    expect(invoked[0]!.fn).toBe('webhook');
    expect(invoked[0]!.event.pathParameters).toEqual({ teamId: 't-1' });
    expect(invoked[0]!.event.queryStringParameters).toEqual({ msg: 'hello' });
  });

  it('answers 404 JSON for an unknown route without invoking anything', async () => {
    const res = await fetch(`${api.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: 'Not Found' });
    expect(invoked).toHaveLength(0);
  });

  it('answers 413 for a payload over 10 MB without invoking anything', async () => {
    const res = await fetch(`${api.url}/drchronowebhook/t-1`, { method: 'POST', body: Buffer.alloc(MAX_PAYLOAD_BYTES + 1) });
    expect(res.status).toBe(413);
    expect(invoked).toHaveLength(0);
  });

  it('answers 500 Internal Server Error when the handler throws, without leaking the error', async () => {
    result = async () => {
      throw new Error('secret detail');
    };
    const res = await fetch(`${api.url}/integration-oauth/callback?code=abc`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"message":"Internal Server Error"}');
  });

  it('answers 500 when the handler returns an invalid proxy response', async () => {
    result = async () => ({ statusCode: 'teapot' });
    expect((await fetch(`${api.url}/integration-oauth/callback`)).status).toBe(500);
  });

  it('routes /_local/ paths to the control routes', async () => {
    const res = await fetch(`${api.url}/_local/health`);
    expect(await res.json()).toEqual({ method: 'GET', path: '/_local/health' });
  });

  it('logs method, route template, status and duration, never the raw path or query', async () => {
    await fetch(`${api.url}/integration-oauth/callback?code=SECRETCODE&state=xyz`);
    await fetch(`${api.url}/drchronowebhook/team-42`);
    expect(logLines[0]).toMatch(/^GET \/integration-oauth\/callback 204 \d+ms$/);
    expect(logLines[1]).toMatch(/^GET \/drchronowebhook\/\{teamId\} 204 \d+ms$/);
    expect(logLines.join('\n')).not.toMatch(/SECRETCODE|team-42/);
  });

  it('answers 500 and keeps serving when the handler returns a header value node cannot send', async () => {
    result = async () => ({ statusCode: 200, headers: { 'x-bad': 'line\nbreak' }, body: 'ok' });
    const res = await fetch(`${api.url}/drchronowebhook/t-1`);
    expect(res.status).toBe(500);
    result = async () => ({ statusCode: 204 });
    expect((await fetch(`${api.url}/drchronowebhook/t-1`)).status).toBe(204);
  });

  it('keeps serving after a client aborts while sending its body', async () => {
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request(`${api.url}/drchronowebhook/t-1`, { method: 'POST', headers: { 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('{"partial":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`${api.url}/drchronowebhook/t-1`)).status).toBe(204);
  });
});

describe('local API server: SigV4 on auth iam routes', () => {
  const TEAM = '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f';
  let iamApi: LocalApi;
  let calls: string[];
  let lines: string[];

  async function start(iam: boolean): Promise<void> {
    iamApi = await startLocalApi(
      { port: 0 },
      {
        routes: ROUTES,
        ...(iam ? { iam: { region: 'us-east-1', credentials: LOCAL_CREDENTIALS } } : {}),
        invoke: async (fn) => {
          calls.push(fn);
          return { statusCode: 202, body: '{}' };
        },
        log: (l) => lines.push(l),
      },
    );
  }

  beforeEach(() => {
    calls = [];
    lines = [];
  });
  afterEach(() => iamApi.close());

  async function signedPut(url: string, body: string, credentials = LOCAL_CREDENTIALS): Promise<Record<string, string>> {
    return signRequest({ method: 'PUT', url, headers: { 'content-type': 'application/json' }, body }, { credentials, region: 'us-east-1' });
  }

  it('invokes write-api for a request signed with the local key, as sent by fetch', async () => {
    await start(true);
    const url = `${iamApi.url}/teams/${TEAM}/patients/CH%201?x=1`;
    const body = '{"Email":"a@b.example"}';
    const res = await fetch(url, { method: 'PUT', headers: await signedPut(url, body), body });
    expect(res.status).toBe(202);
    expect(calls).toEqual(['write-api']);
  });

  it('answers a plain 403 Forbidden to an unsigned request and logs only the reason class', async () => {
    await start(true);
    const res = await fetch(`${iamApi.url}/teams/${TEAM}/changes/c1`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Forbidden' });
    expect(calls).toEqual([]);
    expect(lines[0]).toMatch(/^GET \/teams\/\{teamId\}\/changes\/\{changeId\} \(sigv4: unsigned\) 403 \d+ms$/);
  });

  it('answers 403 to a wrong secret and to a body changed after signing', async () => {
    await start(true);
    const url = `${iamApi.url}/teams/${TEAM}/patients/CH1`;
    const body = '{"Email":"a@b.example"}';
    const wrong = await signedPut(url, body, { accessKeyId: 'local', secretAccessKey: 'guess' });
    expect((await fetch(url, { method: 'PUT', headers: wrong, body })).status).toBe(403);
    const right = await signedPut(url, body);
    expect((await fetch(url, { method: 'PUT', headers: right, body: body.replace('a@', 'b@') })).status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('fails closed: without an iam configuration even a signed request gets 403', async () => {
    await start(false);
    const url = `${iamApi.url}/teams/${TEAM}/patients/CH1`;
    const body = '{}';
    expect((await fetch(url, { method: 'PUT', headers: await signedPut(url, body), body })).status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('does not ask routes without auth for a signature', async () => {
    await start(true);
    expect((await fetch(`${iamApi.url}/drchronowebhook/t-1`)).status).toBe(202);
  });
});
