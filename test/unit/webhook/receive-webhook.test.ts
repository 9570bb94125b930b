import { createHmac } from 'node:crypto';
import type { IngestMessageInput } from '../../../shared/ingest/ingest-queue';
import { SqsMessageTooLargeError } from '../../../shared/ingest/sqs-message-body';
import type { TeamSecret } from '../../../shared/teams/team-secret';
import {
  MAX_WEBHOOK_BODY_BYTES,
  receiveWebhook,
  SECRET_REFRESH_MIN_AGE_MS,
  SECRET_VERSION_REREAD_MIN_AGE_MS,
  type WebhookDeps,
  type WebhookRequest,
  type WebhookTeamView,
} from '../../../shared/webhook/receive-webhook';

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const TOKEN = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a0';
const NOW = new Date('2026-11-21T16:30:00.000Z');
const secretOf = (webhookSecret: string): TeamSecret => ({ clientId: 'cid', clientSecret: 'csecret', webhookSecret });

/** Fake deps: a secret store whose refresh() can return a newer secret, plus recorded enqueues and counts. */
function fakeDeps(
  opts: {
    secret?: TeamSecret | null;
    refreshed?: TeamSecret | null;
    enqueueError?: Error;
    getError?: Error;
    state?: 'active' | 'disabled' | 'gone';
    teamTokenVersion?: number;
    /** What the container's team-state cache still holds (default: the same as a fresh read). */
    cached?: WebhookTeamView;
    teamError?: Error;
  } = {},
) {
  const enqueued: IngestMessageInput[] = [];
  const ignored: { teamId: string; receivedAt: string }[] = [];
  const calls = { get: 0, refresh: [] as (number | undefined)[], atLeastVersion: [] as [number, number][], teamGet: 0, teamFresh: 0 };
  const current = opts.secret === undefined ? secretOf(TOKEN) : opts.secret;
  const freshView = (): WebhookTeamView => ({ state: opts.state ?? 'active', tokenVersion: opts.teamTokenVersion });
  const deps: WebhookDeps = {
    teamState: {
      get: async () => {
        calls.teamGet++;
        if (opts.teamError) throw opts.teamError;
        return opts.cached ?? freshView();
      },
      fresh: async () => {
        calls.teamFresh++;
        if (opts.teamError) throw opts.teamError;
        return freshView();
      },
    },
    secrets: {
      get: async () => {
        calls.get++;
        if (opts.getError) throw opts.getError;
        return current;
      },
      refresh: async (_teamId, minAgeMs) => {
        calls.refresh.push(minAgeMs);
        if (opts.getError) throw opts.getError;
        return opts.refreshed === undefined ? current : opts.refreshed;
      },
      atLeastVersion: async (_teamId, version, minAgeMs) => {
        calls.atLeastVersion.push([version, minAgeMs]);
        return opts.refreshed === undefined ? current : opts.refreshed;
      },
    },
    enqueue: async (msg) => {
      if (opts.enqueueError) throw opts.enqueueError;
      enqueued.push(msg);
    },
    countIgnored: async (teamId, receivedAt) => {
      ignored.push({ teamId, receivedAt });
    },
    now: () => NOW,
  };
  return { deps, enqueued, ignored, calls };
}

const envelope = { receiver: { id: 11, url: 'https://example.test' }, object: { id: 4242, chart_id: 'ABCD0001', first_name: 'Zed' } };

function post(overrides: Partial<WebhookRequest> & { body?: unknown; headerOverrides?: Record<string, string | undefined> } = {}): WebhookRequest {
  const raw = overrides.rawBody ?? Buffer.from(typeof overrides.body === 'string' ? overrides.body : JSON.stringify(overrides.body ?? envelope));
  return {
    teamId: overrides.teamId ?? TEAM,
    method: overrides.method ?? 'POST',
    query: overrides.query ?? {},
    headers: {
      'x-drchrono-signature': TOKEN,
      'x-drchrono-event': 'PATIENT_MODIFY',
      'x-drchrono-delivery': 'delivery-1',
      ...overrides.headerOverrides,
    },
    rawBody: raw,
  };
}

const get = (query: Record<string, string | undefined>, teamId: string = TEAM): WebhookRequest => ({
  teamId,
  method: 'GET',
  query,
  headers: {},
  rawBody: Buffer.alloc(0),
});

const bodyOf = (r: { body: string }) => JSON.parse(r.body) as Record<string, unknown>;

describe('receiveWebhook: GET verification handshake', () => {
  it('answers 200 with the hex HMAC-SHA256 of msg keyed by the team token', async () => {
    const { deps } = fakeDeps();
    const r = await receiveWebhook(get({ msg: 'challenge' }), deps);
    expect(r.statusCode).toBe(200);
    expect(bodyOf(r)).toEqual({ secret_token: createHmac('sha256', TOKEN).update('challenge').digest('hex') });
  });

  it('answers 400 when msg is missing', async () => {
    const r = await receiveWebhook(get({}), fakeDeps().deps);
    expect(r.statusCode).toBe(400);
  });

  it('answers 404 for a team with no secret', async () => {
    const r = await receiveWebhook(get({ msg: 'x' }), fakeDeps({ secret: null }).deps);
    expect(r.statusCode).toBe(404);
  });

  it('answers 404 for a team id that is not a UUID, without reading any secret', async () => {
    const { deps, calls } = fakeDeps();
    const r = await receiveWebhook(get({ msg: 'x' }, 'not-a-uuid'), deps);
    expect(r.statusCode).toBe(404);
    expect(calls.get + calls.refresh.length).toBe(0);
  });

  it('reads the secret through the bounded refresh, so a just-rotated token verifies', async () => {
    const { deps, calls } = fakeDeps({ refreshed: secretOf('rotated-token') });
    const r = await receiveWebhook(get({ msg: 'm' }), deps);
    expect(bodyOf(r).secret_token).toBe(createHmac('sha256', 'rotated-token').update('m').digest('hex'));
    expect(calls.refresh).toEqual([SECRET_REFRESH_MIN_AGE_MS]);
  });

  it('treats an upper-case team id as the same team', async () => {
    const r = await receiveWebhook(get({ msg: 'x' }, TEAM.toUpperCase()), fakeDeps().deps);
    expect(r.statusCode).toBe(200);
  });

  it('refuses to sign a msg that could be a delivery body, so the handshake cannot mint a body-HMAC signature', async () => {
    const forged = JSON.stringify({ receiver: { id: 1 }, object: { id: 4242, first_name: 'Forged' } });
    const { deps, enqueued } = fakeDeps();
    const handshake = await receiveWebhook(get({ msg: forged }), deps);
    expect(handshake.statusCode).toBe(400);
    expect(handshake.body).not.toContain('secret_token');
    const oracle = typeof bodyOf(handshake).secret_token === 'string' ? String(bodyOf(handshake).secret_token) : 'none';
    const delivery = await receiveWebhook(post({ body: forged, headerOverrides: { 'x-drchrono-signature': oracle } }), deps);
    expect(delivery.statusCode).toBe(401);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 400 for a msg longer than any challenge', async () => {
    const r = await receiveWebhook(get({ msg: 'a'.repeat(5000) }), fakeDeps().deps);
    expect(r.statusCode).toBe(400);
  });
});

describe('receiveWebhook: POST deliveries', () => {
  it('queues a synced event with team, event, delivery id, received-at and the whole object, then answers 202', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post(), deps);
    expect(r.statusCode).toBe(202);
    expect(bodyOf(r)).toEqual({ ok: true, queued: true });
    expect(enqueued).toEqual([
      { v: 1, teamId: TEAM, event: 'PATIENT_MODIFY', deliveryId: 'delivery-1', receivedAt: NOW.toISOString(), source: 'webhook', object: envelope.object },
    ]);
  });

  it('accepts a hex HMAC of the raw body as the signature', async () => {
    const req = post();
    const hmac = createHmac('sha256', TOKEN).update(req.rawBody).digest('hex');
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': hmac } }), deps);
    expect(r.statusCode).toBe(202);
    expect(enqueued).toHaveLength(1);
  });

  it('answers 401 and queues nothing for a wrong signature', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': 'forged' } }), deps);
    expect(r.statusCode).toBe(401);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 401 for a missing signature header', async () => {
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': undefined } }), fakeDeps().deps);
    expect(r.statusCode).toBe(401);
  });

  it('re-reads the secret once, bounded by the minimum age, when the signature does not match the cached token', async () => {
    const { deps, enqueued, calls } = fakeDeps({ refreshed: secretOf('rotated-token') });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': 'rotated-token' } }), deps);
    expect(r.statusCode).toBe(202);
    expect(enqueued).toHaveLength(1);
    expect(calls.refresh).toEqual([SECRET_REFRESH_MIN_AGE_MS]);
  });

  it('does not re-read the secret when the signature matches', async () => {
    const { deps, calls } = fakeDeps();
    await receiveWebhook(post(), deps);
    expect(calls.refresh).toEqual([]);
  });

  it('answers 404 for an unknown team and queues nothing', async () => {
    const { deps, enqueued } = fakeDeps({ secret: null });
    const r = await receiveWebhook(post(), deps);
    expect(r.statusCode).toBe(404);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 404 for a team being removed or removed, without reading its secret, and queues nothing', async () => {
    const { deps, enqueued, calls } = fakeDeps({ state: 'gone' });
    const r = await receiveWebhook(post(), deps);
    expect(r).toMatchObject({ statusCode: 404, outcome: 'unknown_team' });
    expect(enqueued).toHaveLength(0);
    expect(calls.get).toBe(0);
  });

  it('acknowledges a disabled team\'s authenticated delivery with 200, counts it as ignored and queues nothing', async () => {
    const { deps, enqueued, ignored } = fakeDeps({ state: 'disabled' });
    const r = await receiveWebhook(post(), deps);
    expect(r).toMatchObject({ statusCode: 200, outcome: 'disabled' });
    expect(JSON.parse(r.body)).toEqual({ ok: true, queued: false });
    expect(enqueued).toHaveLength(0);
    expect(ignored).toEqual([{ teamId: TEAM, receivedAt: NOW.toISOString() }]);
  });

  it('still answers 401 to a forged delivery for a disabled team', async () => {
    const { deps, ignored } = fakeDeps({ state: 'disabled' });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': 'forged' } }), deps);
    expect(r.statusCode).toBe(401);
    expect(ignored).toHaveLength(0);
  });

  it('answers the handshake of a disabled team, so DrChrono can verify the hook meanwhile', async () => {
    const { deps } = fakeDeps({ state: 'disabled' });
    const r = await receiveWebhook(post({ method: 'GET', rawBody: Buffer.alloc(0), query: { msg: 'abc' } }), deps);
    expect(r).toMatchObject({ statusCode: 200, outcome: 'handshake' });
  });

  it('answers 503 when the team state cannot be read, so DrChrono redelivers', async () => {
    const { deps, enqueued } = fakeDeps({ teamError: new Error('ProvisionedThroughputExceededException') });
    const r = await receiveWebhook(post(), deps);
    expect(r.statusCode).toBe(503);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 200 to PING and queues nothing', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ body: '', headerOverrides: { 'x-drchrono-event': 'PING', 'x-drchrono-delivery': undefined } }), deps);
    expect(r.statusCode).toBe(200);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 401 to a PING with a wrong signature', async () => {
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-event': 'PING', 'x-drchrono-signature': 'nope' } }), fakeDeps().deps);
    expect(r.statusCode).toBe(401);
  });

  it('answers 400 when the event header is missing', async () => {
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-event': undefined } }), fakeDeps().deps);
    expect(r.statusCode).toBe(400);
  });

  it('answers 400 when the event header is not an event name', async () => {
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-event': 'patient modify; drop' } }), fakeDeps().deps);
    expect(r.statusCode).toBe(400);
  });

  it('answers 400 when the delivery header is missing', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-delivery': undefined } }), deps);
    expect(r.statusCode).toBe(400);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 400 for malformed JSON and queues nothing', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ body: '{"receiver": {' }), deps);
    expect(r.statusCode).toBe(400);
    expect(enqueued).toHaveLength(0);
  });

  it('answers 400 for an envelope whose object has no id', async () => {
    const { deps, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ body: { receiver: {}, object: { chart_id: 'X' } } }), deps);
    expect(r.statusCode).toBe(400);
    expect(bodyOf(r).error).toContain('object.id');
    expect(enqueued).toHaveLength(0);
  });

  it('answers 400 to a body nested 5,000 levels deep (10 KB) and queues nothing', async () => {
    const { deps, enqueued } = fakeDeps();
    // What the queue does with the message: JSON.stringify recurses, so a deep object overflows the stack there.
    deps.enqueue = async (msg) => {
      JSON.stringify(msg);
      enqueued.push(msg);
    };
    const deep = `{"receiver":{},"object":{"id":1,"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    const r = await receiveWebhook(post({ body: deep }), deps);
    expect(r.statusCode).toBe(400);
    expect(bodyOf(r).error).toContain('nests deeper');
    expect(enqueued).toHaveLength(0);
  });

  it('answers 413, not 503, when the message would be over the SQS limit once encoded', async () => {
    const { deps, enqueued } = fakeDeps({ enqueueError: new SqsMessageTooLargeError(300_000) });
    const r = await receiveWebhook(post(), deps);
    expect(r.statusCode).toBe(413);
    expect(r.outcome).toBe('too_large');
    expect(enqueued).toHaveLength(0);
  });

  it('answers 413 for a body over the limit, before reading any secret', async () => {
    const { deps, calls, enqueued } = fakeDeps();
    const r = await receiveWebhook(post({ rawBody: Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x20) }), deps);
    expect(r.statusCode).toBe(413);
    expect(calls.get).toBe(0);
    expect(enqueued).toHaveLength(0);
  });

  it('accepts a body of exactly the limit', async () => {
    const json = JSON.stringify(envelope);
    const padded = Buffer.from(json + ' '.repeat(MAX_WEBHOOK_BODY_BYTES - Buffer.byteLength(json)));
    const r = await receiveWebhook(post({ rawBody: padded }), fakeDeps().deps);
    expect(r.statusCode).toBe(202);
  });

  it('measures a text body in UTF-8 bytes: the limit in bytes is accepted, one more byte (a two-byte character) is 413', async () => {
    const json = JSON.stringify(envelope);
    const atLimit = json + ' '.repeat(MAX_WEBHOOK_BODY_BYTES - Buffer.byteLength(json));
    expect((await receiveWebhook(post({ rawBody: atLimit }), fakeDeps().deps)).statusCode).toBe(202);
    const over = `${atLimit.slice(0, -1)}é`;
    expect(over.length).toBe(atLimit.length);
    expect((await receiveWebhook(post({ rawBody: over }), fakeDeps().deps)).statusCode).toBe(413);
  });

  it('acknowledges an event the product does not sync with 200, counts it and queues nothing', async () => {
    const { deps, enqueued, ignored } = fakeDeps();
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-event': 'TASK_CREATE' } }), deps);
    expect(r.statusCode).toBe(200);
    expect(bodyOf(r)).toEqual({ ok: true, queued: false });
    expect(enqueued).toHaveLength(0);
    expect(ignored).toEqual([{ teamId: TEAM, receivedAt: NOW.toISOString() }]);
  });

  it('still acknowledges an ignored event when the counter update fails', async () => {
    const { deps } = fakeDeps();
    deps.countIgnored = async () => {
      throw new Error('ddb down');
    };
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-event': 'TASK_CREATE' } }), deps);
    expect(r.statusCode).toBe(200);
  });

  it('answers 503 when the queue rejects the message, so DrChrono redelivers', async () => {
    const r = await receiveWebhook(post(), fakeDeps({ enqueueError: new Error('sqs down') }).deps);
    expect(r.statusCode).toBe(503);
  });

  it('answers 503 when the secret cannot be read', async () => {
    const r = await receiveWebhook(post(), fakeDeps({ getError: new Error('secrets manager down') }).deps);
    expect(r.statusCode).toBe(503);
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])('answers 405 with Allow: GET, POST to %s, reading no secret', async (method) => {
    const f = fakeDeps();
    const r = await receiveWebhook(post({ method }), f.deps);
    expect(r.statusCode).toBe(405);
    expect(r.headers).toEqual({ allow: 'GET, POST' });
    expect(r.outcome).toBe('method_not_allowed');
  });
});

describe('receiveWebhook: webhook secret rotation overlap', () => {
  const OLD = 'old-token-0123456789abcdef0123456789abcd';
  const NEW = 'new-token-0123456789abcdef0123456789abcd';
  const rotated = (acceptedUntil: number): TeamSecret => ({ ...secretOf(NEW), previousWebhookSecrets: [{ token: OLD, acceptedUntil }] });
  const hmac = (token: string, body: Buffer) => createHmac('sha256', token).update(body).digest('hex');

  it.each([
    ['the token itself', (token: string) => token],
    ['a hex HMAC of the body', (token: string) => hmac(token, Buffer.from(JSON.stringify(envelope)))],
  ])('accepts the previous token as %s until its acceptedUntil, and the new one too', async (_form, sign) => {
    const f = fakeDeps({ secret: rotated(NOW.getTime() + 1) });
    expect((await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': sign(OLD) } }), f.deps)).statusCode).toBe(202);
    expect((await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': sign(NEW) } }), f.deps)).statusCode).toBe(202);
    expect(f.calls.refresh).toEqual([]);
  });

  it.each([
    ['the token itself', (token: string) => token],
    ['a hex HMAC of the body', (token: string) => hmac(token, Buffer.from(JSON.stringify(envelope)))],
  ])('refuses the previous token as %s once its acceptedUntil has passed, with the secret still cached', async (_form, sign) => {
    const f = fakeDeps({ secret: rotated(NOW.getTime()) });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': sign(OLD) } }), f.deps);
    expect(r.statusCode).toBe(401);
    expect(f.enqueued).toHaveLength(0);
    expect((await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': sign(NEW) } }), f.deps)).statusCode).toBe(202);
  });

  it('accepts the new token when the container cached the secret before the rotation, through one bounded re-read', async () => {
    const f = fakeDeps({ secret: secretOf(OLD), refreshed: rotated(NOW.getTime() + 3_600_000) });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': NEW } }), f.deps);
    expect(r.statusCode).toBe(202);
    expect(f.calls.refresh).toEqual([SECRET_REFRESH_MIN_AGE_MS]);
  });

  it('refuses the old token at once after a rotation without overlap, though the container cached the old secret', async () => {
    // The cache (5-minute TTL) still holds version 3 with OLD current; the team item says version 4 was written.
    const f = fakeDeps({ secret: { ...secretOf(OLD), tokenVersion: 3 }, refreshed: { ...secretOf(NEW), tokenVersion: 4 }, teamTokenVersion: 4 });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': OLD } }), f.deps);
    expect(r.statusCode).toBe(401);
    expect(f.enqueued).toHaveLength(0);
    expect(f.calls.atLeastVersion).toEqual([[4, SECRET_VERSION_REREAD_MIN_AGE_MS]]);
  });

  it('ends a shortened overlap at once in a container that cached the secret before the rotation', async () => {
    const f = fakeDeps({
      secret: { ...rotated(NOW.getTime() + 3_600_000), tokenVersion: 5 },
      refreshed: { ...rotated(NOW.getTime()), tokenVersion: 6 },
      teamTokenVersion: 6,
    });
    expect((await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': OLD } }), f.deps)).statusCode).toBe(401);
  });

  it('does not re-read a secret whose version is the team item\'s', async () => {
    const f = fakeDeps({ secret: { ...secretOf(OLD), tokenVersion: 4 }, refreshed: { ...secretOf(NEW), tokenVersion: 5 }, teamTokenVersion: 4 });
    expect((await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': OLD } }), f.deps)).statusCode).toBe(202);
    expect(f.calls.refresh).toEqual([]);
    expect(f.calls.atLeastVersion).toEqual([]);
  });

  it('answers the handshake during the overlap with the new token, the one just pasted into DrChrono', async () => {
    const f = fakeDeps({ secret: rotated(NOW.getTime() + 3_600_000) });
    const r = await receiveWebhook(get({ msg: 'verify-me' }), f.deps);
    expect(bodyOf(r)).toEqual({ secret_token: createHmac('sha256', NEW).update('verify-me').digest('hex') });
  });
});

describe('receiveWebhook: the cached team state', () => {
  const OLD = 'old-token-0123456789abcdef0123456789abcd';
  const NEW = 'new-token-0123456789abcdef0123456789abcd';

  it('answers a good delivery from the cached team view, without reading the team item', async () => {
    const f = fakeDeps();
    expect((await receiveWebhook(post(), f.deps)).statusCode).toBe(202);
    expect(f.calls).toMatchObject({ teamGet: 1, teamFresh: 0 });
  });

  it('accepts a delivery signed with a token written after the cached view: re-reads the team state, then the secret of that version', async () => {
    // Cached view and secret both at version 3 (OLD); the rotation wrote version 4 (NEW), which only a fresh read shows.
    const f = fakeDeps({
      secret: { ...secretOf(OLD), tokenVersion: 3 },
      refreshed: { ...secretOf(NEW), tokenVersion: 4 },
      cached: { state: 'active', tokenVersion: 3 },
      teamTokenVersion: 4,
    });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': NEW } }), f.deps);
    expect(r.statusCode).toBe(202);
    expect(f.enqueued).toHaveLength(1);
    expect(f.calls.teamFresh).toBe(1);
    expect(f.calls.atLeastVersion).toEqual([[4, SECRET_VERSION_REREAD_MIN_AGE_MS]]);
  });

  it('answers 404 to a delivery that fails verification when the fresh read finds the team removed, without re-reading its secret', async () => {
    const f = fakeDeps({ cached: { state: 'active' }, state: 'gone' });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': 'some-other-token' } }), f.deps);
    expect(r).toMatchObject({ statusCode: 404, outcome: 'unknown_team' });
    expect(f.calls.refresh).toEqual([]);
    expect(f.calls.atLeastVersion).toEqual([]);
  });

  it('answers 503, not 401, when the team state cannot be re-read after a verification failure', async () => {
    const f = fakeDeps({ secret: secretOf(OLD) });
    f.deps.teamState.fresh = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': NEW } }), f.deps);
    expect(r).toMatchObject({ statusCode: 503, outcome: 'team_unavailable' });
  });

  it('does not queue a delivery whose fresh re-read finds the team disabled', async () => {
    const f = fakeDeps({ secret: secretOf(OLD), refreshed: secretOf(NEW), cached: { state: 'active' }, state: 'disabled' });
    const r = await receiveWebhook(post({ headerOverrides: { 'x-drchrono-signature': NEW } }), f.deps);
    expect(r).toMatchObject({ statusCode: 200, outcome: 'disabled' });
    expect(f.enqueued).toHaveLength(0);
  });

  it('reads the team state fresh for the handshake, so "Verify webhook" right after a rotation is signed with the new token', async () => {
    const f = fakeDeps({
      secret: { ...secretOf(OLD), tokenVersion: 3 },
      refreshed: { ...secretOf(NEW), tokenVersion: 4 },
      cached: { state: 'active', tokenVersion: 3 },
      teamTokenVersion: 4,
    });
    const r = await receiveWebhook(get({ msg: 'verify-me' }), f.deps);
    expect(bodyOf(r)).toEqual({ secret_token: createHmac('sha256', NEW).update('verify-me').digest('hex') });
    expect(f.calls).toMatchObject({ teamGet: 0, teamFresh: 1 });
  });
});
