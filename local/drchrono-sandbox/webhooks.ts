import { createHmac, randomBytes } from 'node:crypto';
import type { SandboxEngine } from './engine';
import { serialize } from './serializer';
import type { Delivery, DeliveryAttempt, Json, SandboxApp } from './types';

/**
 * The event name an app subscribed to for `event`, or undefined. DrChrono's docs spell the flag change event
 * PATIENT_FLAG_CMODIFY, its console reportedly PATIENT_FLAG_MODIFY: an app ticking either gets it, so spelled.
 */
export function subscribedSpelling(events: string[], event: string): string | undefined {
  if (events.includes(event)) return event;
  if (event === 'PATIENT_FLAG_CMODIFY' && events.includes('PATIENT_FLAG_MODIFY')) return 'PATIENT_FLAG_MODIFY';
  return undefined;
}

/** DrChrono retries a failed hook 1 h, 3 h and 7 h after the event, then only by manual redelivery. */
export const RETRY_HOURS = [1, 3, 7] as const;
const MAX_KEPT_DELIVERIES = 10_000;

export interface DispatcherOptions {
  /** Divides the retry schedule: 3600 turns 1 h into 1 s. */
  timeScale: number;
  deliveryTimeoutMs?: number;
}

/**
 * Sends webhook deliveries the way DrChrono does: the GET ?msg= handshake before anything goes to an unverified
 * URL, POST {receiver, object} with X-drchrono-event / -signature / -delivery, any 2xx is success, and failures
 * are retried on the 1 h / 3 h / 7 h schedule. Test quirks (duplicate, delay, hold-and-release) sit on top.
 */
export class WebhookDispatcher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly engine: SandboxEngine,
    private readonly opts: DispatcherOptions,
  ) {
    engine.onChange((event, type, obj) => {
      for (const app of Object.values(engine.state.apps)) {
        const spelled = subscribedSpelling(app.webhook.events, event);
        if (app.webhook.callbackUrl && spelled) this.enqueue(app, spelled, type, obj);
      }
    });
    // Resume retries persisted by an earlier run.
    for (const d of engine.state.deliveries) if (d.status === 'pending' && d.retryAt.length > 0) this.scheduleNextRetry(d);
  }

  private receiver(app: SandboxApp): Json {
    return { id: webhookId(app.clientId), callback_url: app.webhook.callbackUrl, events: app.webhook.events, active: app.webhook.active };
  }

  enqueue(app: SandboxApp, event: string, objectType: Delivery['objectType'], obj: Json): Delivery {
    const st = this.engine.state;
    const object = objectType === 'ping' ? {} : serialize(objectType, obj, app.webhook.verboseObjects);
    const d: Delivery = {
      id: String(st.nextDeliveryId++),
      clientId: app.clientId,
      event,
      objectType,
      objectId: objectType === 'ping' ? '' : String(obj.id),
      body: JSON.stringify({ receiver: this.receiver(app), object }),
      createdAt: Date.now(),
      status: 'pending',
      attempts: [],
      retryAt: [],
    };
    st.deliveries.push(d);
    if (st.deliveries.length > MAX_KEPT_DELIVERIES) st.deliveries.splice(0, st.deliveries.length - MAX_KEPT_DELIVERIES);
    if (!app.webhook.active) d.status = 'disabled';
    else if (app.quirks.holding) d.status = 'held';
    else this.track(this.firstSend(app, d));
    this.engine.persist();
    return d;
  }

  private async firstSend(app: SandboxApp, d: Delivery): Promise<void> {
    if (app.quirks.delayMs > 0) await new Promise((r) => setTimeout(r, app.quirks.delayMs));
    const ok = await this.attempt(d, 'initial');
    if (app.quirks.duplicateNext > 0) {
      app.quirks.duplicateNext--;
      await this.attempt(d, 'duplicate');
    }
    if (!ok && d.retryAt.length === 0 && d.attempts.filter((a) => a.kind === 'retry').length === 0) {
      const hour = 3_600_000 / this.opts.timeScale;
      d.retryAt = RETRY_HOURS.map((h) => d.createdAt + h * hour);
      this.scheduleNextRetry(d);
    }
  }

  private scheduleNextRetry(d: Delivery): void {
    const at = d.retryAt[0];
    if (at === undefined || this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.retryTimers.delete(d.id);
      this.fireRetry(d);
    }, Math.max(0, at - Date.now()));
    t.unref();
    this.timers.add(t);
    this.retryTimers.set(d.id, t);
  }

  private fireRetry(d: Delivery): Promise<unknown> {
    d.retryAt.shift();
    // A manual redelivery may have succeeded meanwhile: DrChrono stops once a hook is delivered.
    if (d.status === 'delivered') {
      d.retryAt = [];
      return Promise.resolve();
    }
    return this.track(
      this.attempt(d, 'retry').then((ok) => {
        if (ok) d.retryAt = [];
        else if (d.retryAt.length > 0) this.scheduleNextRetry(d);
        else d.status = 'failed';
        this.engine.persist();
      }),
    );
  }

  /**
   * Runs now every scheduled retry whose time has come by Date.now(). Timers follow the real clock; when a test
   * moves the process clock (the local platform's POST /_local/clock), this catches the retries up.
   */
  async runDueRetries(): Promise<number> {
    const now = Date.now();
    const due = this.engine.state.deliveries.filter((d) => d.status === 'pending' && d.retryAt[0] !== undefined && d.retryAt[0] <= now);
    for (const d of due) {
      const t = this.retryTimers.get(d.id);
      if (t) {
        clearTimeout(t);
        this.timers.delete(t);
        this.retryTimers.delete(d.id);
      }
    }
    await Promise.all(due.map((d) => this.fireRetry(d)));
    return due.length;
  }

  /** Deliveries still owed an attempt: in flight, or with a scheduled retry (held ones wait for a release). */
  pendingCount(): number {
    return this.inFlight.size + this.engine.state.deliveries.filter((d) => d.status === 'pending' && d.retryAt.length > 0).length;
  }

  /** Manual redelivery ("redeliver" in DrChrono's UI): same delivery id, same frozen body. */
  async redeliver(id: string): Promise<Delivery> {
    const d = this.find(id);
    await this.track(this.attempt(d, 'redelivery'));
    return d;
  }

  /** Sends held deliveries; 'reverse' (the default) delivers newest first to simulate reordering. */
  async release(clientId: string, order: 'reverse' | 'fifo' = 'reverse'): Promise<Delivery[]> {
    const app = this.engine.app(clientId);
    app.quirks.holding = false;
    const held = this.engine.state.deliveries.filter((d) => d.clientId === clientId && d.status === 'held');
    if (order === 'reverse') held.reverse();
    for (const d of held) {
      d.status = 'pending';
      await this.track(this.firstSend(app, d));
    }
    return held;
  }

  async ping(clientId: string): Promise<Delivery> {
    const app = this.engine.app(clientId);
    const d = this.enqueue(app, 'PING', 'ping', {});
    await this.idle();
    return d;
  }

  find(id: string): Delivery {
    const d = this.engine.state.deliveries.find((x) => x.id === id);
    if (!d) throw Object.assign(new Error('unknown delivery'), { status: 404 });
    return d;
  }

  /** DrChrono's handshake: GET callback?msg=<random>, expect 200 JSON {secret_token: hex HMAC-SHA256(secret, msg)}. */
  async verify(app: SandboxApp): Promise<{ ok: boolean; status?: number; error?: string }> {
    const url = app.webhook.callbackUrl;
    if (!url) return { ok: false, error: 'no callback URL' };
    const msg = randomBytes(16).toString('hex');
    const expected = createHmac('sha256', app.webhook.secretToken).update(msg).digest('hex');
    const target = new URL(url);
    target.searchParams.set('msg', msg);
    try {
      const res = await fetch(target, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(this.opts.deliveryTimeoutMs ?? 10_000) });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const token = body && typeof body === 'object' ? (body as Json).secret_token : undefined;
      const ok = res.status === 200 && token === expected;
      if (ok) app.webhook.verifiedUrl = url;
      this.engine.persist();
      return ok ? { ok, status: res.status } : { ok, status: res.status, error: 'verification failed' };
    } catch (err) {
      return { ok: false, error: `verification request failed: ${(err as Error).name}` };
    }
  }

  private async attempt(d: Delivery, kind: DeliveryAttempt['kind']): Promise<boolean> {
    const app = this.engine.state.apps[d.clientId];
    const rec: DeliveryAttempt = { at: Date.now(), kind, ok: false };
    d.attempts.push(rec);
    if (!app?.webhook.callbackUrl) {
      rec.error = 'no callback URL';
      return this.settle(d, rec);
    }
    if (!app.webhook.active && kind !== 'redelivery') {
      rec.error = 'webhook inactive';
      return this.settle(d, rec);
    }
    if (app.webhook.verifiedUrl !== app.webhook.callbackUrl) {
      const v = await this.verify(app);
      if (!v.ok) {
        rec.error = v.error ?? 'verification failed';
        if (v.status !== undefined) rec.status = v.status;
        return this.settle(d, rec);
      }
    }
    const signature = app.webhook.signatureMode === 'hmac-sha256' ? createHmac('sha256', app.webhook.secretToken).update(d.body).digest('hex') : app.webhook.secretToken;
    try {
      const res = await fetch(app.webhook.callbackUrl, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json', 'x-drchrono-event': d.event, 'x-drchrono-signature': signature, 'x-drchrono-delivery': d.id },
        body: d.body,
        signal: AbortSignal.timeout(this.opts.deliveryTimeoutMs ?? 10_000),
      });
      await res.arrayBuffer();
      rec.status = res.status;
      rec.ok = res.status >= 200 && res.status < 300;
    } catch (err) {
      rec.error = (err as Error).name === 'TimeoutError' ? 'timeout' : 'connection failed';
    }
    return this.settle(d, rec);
  }

  private settle(d: Delivery, rec: DeliveryAttempt): boolean {
    if (rec.ok) d.status = 'delivered';
    else if (d.status !== 'delivered') d.status = d.retryAt.length > 0 || rec.kind === 'initial' ? 'pending' : 'failed';
    this.engine.persist();
    return rec.ok;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Resolves when no delivery is being sent (scheduled retries are not waited for). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Drops every scheduled retry (used by reset). */
  cancelScheduled(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.retryTimers.clear();
  }

  close(): void {
    this.closed = true;
    this.cancelScheduled();
  }
}

export function webhookId(clientId: string): number {
  let h = 0;
  for (const c of clientId) h = (h * 31 + c.charCodeAt(0)) % 900_000;
  return 100_000 + h;
}
