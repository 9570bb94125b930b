import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type RunningSandbox } from '../../local/drchrono-sandbox/index';
import { waitFor } from './helpers/wait-for';

/**
 * The sandbox's webhook deliveries reach a real HTTP receiver (started here): handshake, headers and body,
 * DrChrono's retry schedule (scaled), redelivery, and the injected duplicate / delay / reorder / off modes.
 */
const SECRET = 'a'.repeat(40);
const APP = 'hook-app';
// 1 h becomes 50 ms, so the 1 h / 3 h / 7 h retries land at 50 / 150 / 350 ms.
const TIME_SCALE = 72_000;

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let sb: RunningSandbox;
let receiver: Server;
let receiverUrl: string;
let received: Received[];
/** What the receiver answers to POSTs; GET ?msg= is answered correctly unless `verifyWrong`. */
let postStatus: number;
let verifyWrong: boolean;

beforeAll(async () => {
  sb = await startSandbox({ port: 0, timeScale: TIME_SCALE });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const msg = new URL(req.url ?? '/', 'http://x').searchParams.get('msg');
      if (req.method === 'GET' && msg !== null) {
        const token = verifyWrong ? 'nope' : createHmac('sha256', SECRET).update(msg).digest('hex');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ secret_token: token }));
        return;
      }
      res.writeHead(postStatus).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/drchronowebhook/team-1`;
});
afterAll(async () => {
  await sb.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

beforeEach(async () => {
  received = [];
  postStatus = 200;
  verifyWrong = false;
  await control('POST', '/reset', { seed: true });
  await control('POST', '/apps', { clientId: APP, clientSecret: 's' });
  await control('PUT', `/apps/${APP}/webhook`, {
    callbackUrl: receiverUrl,
    secretToken: SECRET,
    events: ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'],
    active: true,
  });
});

async function control(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sb.url}/_sandbox${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown> & Array<Record<string, unknown>>;
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const posts = () => received.filter((r) => r.method === 'POST');

describe('sandbox webhook deliveries', () => {
  it('verifies the URL with GET ?msg= before the first POST, then signs and labels the delivery', async () => {
    const created = await control('POST', '/patients', { first_name: 'Hook', last_name: 'Testwood' });
    await sb.idle();
    expect(received.map((r) => r.method)).toEqual(['GET', 'POST']);
    const post = posts()[0]!;
    expect(post.headers['x-drchrono-event']).toBe('PATIENT_CREATE');
    expect(post.headers['x-drchrono-signature']).toBe(SECRET);
    expect(post.headers['x-drchrono-delivery']).toMatch(/^\d+$/);
    const body = JSON.parse(post.body);
    expect(Object.keys(body).sort()).toEqual(['object', 'receiver']);
    expect(body.object.id).toBe(created.id);
    expect(body.object.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(JSON.stringify(body.receiver)).not.toContain(SECRET);

    await control('PATCH', `/patients/${created.id}`, { cell_phone: '(555) 555-0199' });
    await sb.idle();
    expect(received.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    expect(posts()[1]!.headers['x-drchrono-event']).toBe('PATIENT_MODIFY');
  });

  it('sends HMAC-SHA256 of the body as the signature when configured so', async () => {
    await control('PATCH', `/apps/${APP}/webhook`, { signatureMode: 'hmac-sha256' });
    await control('POST', '/patients', { first_name: 'Hmac' });
    await sb.idle();
    const post = posts()[0]!;
    expect(post.headers['x-drchrono-signature']).toBe(createHmac('sha256', SECRET).update(post.body).digest('hex'));
  });

  it('sends APPOINTMENT_DELETE with deleted_flag true, and nothing for a patient delete', async () => {
    await control('DELETE', '/appointments/246813579');
    const p = await control('POST', '/patients', { first_name: 'Short', last_name: 'Lived' });
    await control('DELETE', `/patients/${p.id}`);
    await sb.idle();
    expect(posts().map((r) => r.headers['x-drchrono-event'])).toEqual(['APPOINTMENT_DELETE', 'PATIENT_CREATE']);
    expect(JSON.parse(posts()[0]!.body).object).toMatchObject({ id: '246813579', deleted_flag: true });
  });

  it('sends nothing to a URL that fails verification', async () => {
    verifyWrong = true;
    await control('POST', '/patients', { first_name: 'Unverified' });
    await sb.idle();
    expect(received.map((r) => r.method)).toEqual(['GET']);
    const [d] = await control('GET', `/deliveries?clientId=${APP}`);
    expect(d!.attempts).toEqual([expect.objectContaining({ ok: false, error: 'verification failed' })]);
  });

  it('retries a failed delivery on the 1 h / 3 h / 7 h schedule (scaled), then marks it failed', async () => {
    postStatus = 500;
    const t0 = Date.now();
    await control('POST', '/patients', { first_name: 'Retry' });
    const d = await waitFor(
      async () => {
        const [x] = await control('GET', `/deliveries?clientId=${APP}`);
        return x?.status === 'failed' ? x : undefined;
      },
      { timeoutMs: 20_000, description: 'delivery to fail after its retries' },
    );
    const attempts = d.attempts as Array<{ at: number; kind: string; status: number }>;
    expect(attempts.map((a) => a.kind)).toEqual(['initial', 'retry', 'retry', 'retry']);
    expect(attempts.every((a) => a.status === 500)).toBe(true);
    const hourMs = 3_600_000 / TIME_SCALE;
    [1, 3, 7].forEach((h, i) => expect(attempts[i + 1]!.at - t0).toBeGreaterThanOrEqual(h * hourMs - 5));
    expect(new Set(posts().map((r) => r.headers['x-drchrono-delivery'])).size).toBe(1);
  });

  it('stops retrying once a retry succeeds', async () => {
    postStatus = 503;
    await control('POST', '/patients', { first_name: 'Flaky' });
    await sb.idle();
    postStatus = 200;
    const d = await waitFor(async () => {
      const [x] = await control('GET', `/deliveries?clientId=${APP}`);
      return x?.status === 'delivered' ? x : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const [after] = await control('GET', `/deliveries?clientId=${APP}`);
    expect((after!.attempts as unknown[]).length).toBe((d.attempts as unknown[]).length);
  });

  it('redelivers a failed delivery by id with the same id and body', async () => {
    await control('PATCH', `/apps/${APP}/webhook`, { callbackUrl: receiverUrl.replace(/:\d+\//, ':9/') });
    await control('POST', '/patients', { first_name: 'Lost' });
    // Wait until DrChrono has given up (every scheduled retry spent), so no retry can race the redelivery.
    const d = await waitFor(
      async () => {
        const [x] = await control('GET', `/deliveries?clientId=${APP}`);
        return x?.status === 'failed' ? x : undefined;
      },
      { timeoutMs: 20_000, description: 'delivery to fail after its retries' },
    );
    await control('PATCH', `/apps/${APP}/webhook`, { callbackUrl: receiverUrl });
    const r = await control('POST', `/deliveries/${d.id}/redeliver`);
    expect(r.status).toBe('delivered');
    await sb.idle();
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.headers['x-drchrono-delivery']).toBe(d.id);
    const full = await control('GET', `/deliveries/${d.id}`);
    expect(JSON.parse(posts()[0]!.body)).toEqual(full.body);
  });

  it('injects a duplicate: the same delivery arrives twice', async () => {
    await control('POST', `/apps/${APP}/webhook/quirks`, { duplicateNext: 1 });
    await control('POST', '/patients', { first_name: 'Twice' });
    await control('POST', '/patients', { first_name: 'Once' });
    await sb.idle();
    const ids = posts().map((r) => r.headers['x-drchrono-delivery']);
    const [twice, once] = (await control('GET', `/deliveries?clientId=${APP}`)).map((d) => d.id);
    expect(ids.filter((id) => id === twice)).toHaveLength(2);
    expect(ids.filter((id) => id === once)).toHaveLength(1);
    expect(ids).toHaveLength(3);
  });

  it('holds deliveries and releases them in reverse order', async () => {
    await control('POST', `/apps/${APP}/webhook/quirks`, { holding: true });
    const p = await control('POST', '/patients', { first_name: 'Order' });
    await control('PATCH', `/patients/${p.id}`, { first_name: 'Order2' });
    await sb.idle();
    expect(posts()).toHaveLength(0);
    await control('POST', `/apps/${APP}/webhook/release`, { order: 'reverse' });
    expect(posts().map((r) => r.headers['x-drchrono-event'])).toEqual(['PATIENT_MODIFY', 'PATIENT_CREATE']);
  });

  it('delays deliveries by the configured time', async () => {
    await control('POST', `/apps/${APP}/webhook/quirks`, { delayMs: 300 });
    const t0 = Date.now();
    await control('POST', '/patients', { first_name: 'Late' });
    await waitFor(() => posts().length === 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('sends nothing while delivery is switched off, and records the skipped delivery', async () => {
    await control('PATCH', `/apps/${APP}/webhook`, { active: false });
    await control('POST', '/patients', { first_name: 'Muted' });
    await sb.idle();
    expect(received).toHaveLength(0);
    const [d] = await control('GET', `/deliveries?clientId=${APP}`);
    expect(d!.status).toBe('disabled');
  });

  it('sends only subscribed events', async () => {
    await control('PATCH', `/apps/${APP}/webhook`, { events: ['APPOINTMENT_MODIFY'] });
    await control('POST', '/patients', { first_name: 'Ignored' });
    await control('PATCH', '/appointments/246813579', { status: 'Arrived' });
    await sb.idle();
    expect(posts().map((r) => r.headers['x-drchrono-event'])).toEqual(['APPOINTMENT_MODIFY']);
  });
});

describe('sandbox → the local platform webhook route', () => {
  it('a sandbox change is verified, delivered and accepted by /drchronowebhook/{teamId}', async () => {
    const { registerTeam } = await import('../../shared/teams/register-team');
    const { documentClient, secretsClient } = await import('../../shared/aws/clients');
    const { platform } = await import('./helpers/platform');
    const info = platform();
    if (!info.sandboxUrl) throw new Error('the platform runs without the sandbox');
    const teamId = crypto.randomUUID();
    const clientId = `e2e-${teamId.slice(0, 8)}`;
    const { webhookSecret } = await registerTeam(
      { teamId, clientId, clientSecret: 'e2e-secret' },
      { ddb: documentClient(), secrets: secretsClient(), teamsTable: info.resources.teamsTable, teamSecretPrefix: info.resources.teamSecretPrefix },
    );
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${info.sandboxUrl}/_sandbox${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      expect(res.status).toBeLessThan(300);
      return (await res.json()) as Record<string, unknown> & Array<Record<string, unknown>>;
    };
    await call('POST', '/apps', { clientId, clientSecret: 'e2e-secret' });
    await call('PUT', `/apps/${clientId}/webhook`, {
      callbackUrl: info.webhookUrlTemplate.replace('{teamId}', teamId),
      secretToken: webhookSecret,
      events: ['PATIENT_CREATE'],
      active: true,
    });
    expect(await call('POST', `/apps/${clientId}/webhook/verify`)).toMatchObject({ ok: true });
    const created = await call('POST', '/patients', { first_name: 'Route', last_name: 'Check' });
    await call('POST', '/idle');
    const [d] = await call('GET', `/deliveries?clientId=${clientId}&objectId=${created.id}`);
    expect(d).toMatchObject({ event: 'PATIENT_CREATE', status: 'delivered' });
  });
});
