import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { $ZodError } from 'zod/v4/core';
import '../../shared/validation/english-messages';
import { readRequestBody } from '../http/read-body';
import { bulkList, clearBulkLists, isBulkArea } from './bulk';
import { SandboxHttpError, type SandboxEngine } from './engine';
import { decodeCursor, paginate, pageSizeFor, serialize } from './serializer';
import type { Delivery, Json, SandboxApp, SandboxData, TokenPair } from './types';
import type { WebhookDispatcher } from './webhooks';

/** HTTP face of the sandbox: DrChrono's OAuth pages and API, plus the `/_sandbox/` control API. */

const MAX_BODY = 1_000_000;
const THROTTLED = (n: number) => ({ detail: `Request was throttled. Expected available in ${n} seconds.` });
const NO_AUTH = { detail: 'Authentication credentials were not provided.' };
const FORBIDDEN = { detail: 'You do not have permission to perform this action.' };

/** Scopes that allow each API area (any one suffices; write implies read). From DrChrono's spec `security`. */
const SCOPES: Record<string, string[]> = {
  patients: ['patients:read', 'patients:write'],
  appointments: ['calendar:read', 'calendar:write', 'clinical:read', 'clinical:write'],
  doctors: ['user:read', 'user:write'],
  appointment_profiles: ['calendar:read', 'calendar:write', 'settings:read', 'settings:write'],
  patient_flag_types: ['patients:read', 'patients:write', 'settings:read', 'settings:write'],
  patients_list: ['patients:read', 'patients:write'],
  appointments_list: ['calendar:read', 'calendar:write', 'clinical:read', 'clinical:write'],
  offices: ['user:read', 'user:write'],
};

/**
 * The scope a write needs. DrChrono's spec lists clinical:write beside calendar:write for appointments; the
 * sandbox takes the stricter reading (calendar:write), which is what the product asks for.
 */
const WRITE_SCOPE: Record<string, string> = { patients: 'patients:write', appointments: 'calendar:write' };

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  body: Buffer;
}

export class SandboxRouter {
  /** Responses deliberately left hanging by a 'timeout' fault; destroyed on close. */
  readonly hanging = new Set<ServerResponse>();

  constructor(
    private readonly engine: SandboxEngine,
    private readonly hooks: WebhookDispatcher,
    private readonly baseUrl: () => string,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', this.baseUrl());
      const method = (req.method ?? 'GET').toUpperCase();
      const read = await readRequestBody(req, MAX_BODY);
      if (read.kind === 'aborted') {
        res.destroy();
        return;
      }
      if (read.kind === 'too-large') return send(res, 413, { detail: 'Request body too large.' });
      const body = read.body;
      const ctx: Ctx = { req, res, url, method, body };
      if (url.pathname.startsWith('/_sandbox/')) return await this.control(ctx);

      const fault = this.engine.takeFault(method, url.pathname);
      if (fault) {
        switch (fault.kind) {
          case 'timeout':
            this.hanging.add(res);
            res.on('close', () => this.hanging.delete(res));
            return;
          case 'reset':
            req.socket.destroy();
            return;
          case '429': {
            const n = fault.retryAfterSeconds ?? 60;
            return send(res, 429, THROTTLED(n), fault.retryAfterHeader ? { 'retry-after': String(n) } : {});
          }
          case '401':
            return send(res, 401, NO_AUTH);
          default:
            return send(res, Number(fault.kind), { detail: 'A server error occurred.' });
        }
      }
      if (url.pathname === '/o/authorize/' || url.pathname === '/o/authorize') return await this.authorize(ctx);
      if (url.pathname === '/o/token/' || url.pathname === '/o/token') return await this.token(ctx);
      if (url.pathname.startsWith('/api/')) return await this.api(ctx);
      send(res, 404, { detail: 'Not found.' });
    } catch (err) {
      if (err instanceof SandboxHttpError) return send(res, err.status, err.body);
      if (err instanceof $ZodError) return send(res, 400, { detail: 'invalid request', issues: err.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      const status = (err as { status?: number }).status;
      if (status && status < 500) return send(res, status, { detail: (err as Error).message });
      // A sandbox bug, not an injected fault: show it to the developer (the sandbox holds synthetic data only).
      console.error('[drchrono-sandbox] unexpected error', err instanceof Error ? err.stack : err);
      send(res, 500, { detail: 'sandbox error' });
    }
  }

  // ---------------------------------------------------------------- OAuth

  private async authorize(ctx: Ctx): Promise<void> {
    const q = ctx.method === 'POST' ? new URLSearchParams(ctx.body.toString()) : ctx.url.searchParams;
    const clientId = q.get('client_id') ?? undefined;
    const redirectUri = q.get('redirect_uri') ?? undefined;
    const app = this.engine.state.apps[clientId ?? ''];
    if (app && !(await this.admit(ctx, app, '/o/authorize/'))) return;
    try {
      this.engine.checkAuthorizeRequest({ clientId, redirectUri, responseType: q.get('response_type') ?? undefined });
    } catch (err) {
      if (err instanceof SandboxHttpError) return sendHtml(ctx.res, 400, `<h1>Authorization error</h1><p>${esc(String(err.body.detail ?? err.body.error))}</p>`);
      throw err;
    }
    if (ctx.method === 'POST') {
      const location = this.engine.decide({
        clientId: clientId!,
        redirectUri: redirectUri!,
        scope: q.get('scope') ?? undefined,
        state: q.get('state') ?? undefined,
        approve: q.get('decision') === 'approve',
        userId: q.get('user_id') ? Number(q.get('user_id')) : undefined,
      });
      ctx.res.writeHead(302, { location }).end();
      return;
    }
    const hidden = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state']
      .filter((k) => q.get(k) !== null)
      .map((k) => `<input type="hidden" name="${k}" value="${esc(q.get(k)!)}">`)
      .join('');
    // Who is "logged in" and approves: any user of any sandbox practice (default: the app's defaultUserId).
    const selected = app?.defaultUserId;
    const options = this.engine
      .allUsers()
      .map((u) => `<option value="${u.id}"${u.id === selected ? ' selected' : ''}>${esc(u.username)} (${esc(u.practiceName)}, practice group ${esc(u.practiceGroup)})</option>`)
      .join('');
    sendHtml(
      ctx.res,
      200,
      `<h1>DrChrono sandbox</h1><p>The application <b>${esc(clientId!)}</b> asks for access to your sandbox practice` +
        ` (scopes: ${esc(q.get('scope') || 'all')}).</p><form method="post" action="/o/authorize/">${hidden}` +
        `<label>Approve as <select name="user_id">${options}</select></label> ` +
        `<button name="decision" value="approve">Approve</button> <button name="decision" value="deny">Cancel</button></form>`,
    );
  }

  private async token(ctx: Ctx): Promise<void> {
    if (ctx.method !== 'POST') return send(ctx.res, 405, { detail: `Method "${ctx.method}" not allowed.` });
    const form = new URLSearchParams(ctx.body.toString());
    const basic = parseBasic(ctx.req.headers.authorization);
    const app = this.engine.state.apps[form.get('client_id') ?? basic?.id ?? ''];
    if (app && !(await this.admit(ctx, app, '/o/token/'))) return;
    send(ctx.res, 200, this.engine.token(form, basic), { 'cache-control': 'no-store' });
  }

  /** Latency and the hourly budget, applied to every call an app makes. False when answered with 429. */
  private async admit(ctx: Ctx, app: SandboxApp, template: string): Promise<boolean> {
    if (app.latencyMs > 0) await new Promise((r) => setTimeout(r, app.latencyMs));
    const c = this.engine.charge(app.clientId, template);
    if (c.ok) return true;
    send(ctx.res, 429, THROTTLED(c.waitSeconds), app.sendRetryAfter ? { 'retry-after': String(c.waitSeconds) } : {});
    return false;
  }

  // ---------------------------------------------------------------- API

  private async api(ctx: Ctx): Promise<void> {
    const bearer = /^Bearer (.+)$/i.exec(ctx.req.headers.authorization ?? '')?.[1];
    const tok = bearer ? this.engine.authenticate(bearer) : undefined;
    if (!tok) return send(ctx.res, 401, NO_AUTH);
    // Segments are percent-decoded, as DrChrono's router does: an appointment id may hold spaces, '/', non-ASCII.
    const parts = decodeSegments(ctx.url.pathname.replace(/\/+$/, '').split('/').slice(2)); // ['patients', '123']
    if (parts === undefined) return send(ctx.res, 404, { detail: 'Not found.' });
    const [area, id, ...rest] = parts;
    if (!area || rest.length > 0) return send(ctx.res, 404, { detail: 'Not found.' });
    const template = `/api/${area}${id === undefined ? '' : id === 'current' ? '/current' : '/{id}'}`;
    const app = this.engine.app(tok.clientId);
    if (!(await this.admit(ctx, app, template))) return;
    if (area !== 'users' && !hasScope(tok, SCOPES[area] ?? [])) return send(ctx.res, SCOPES[area] ? 403 : 404, SCOPES[area] ? FORBIDDEN : { detail: 'Not found.' });

    const q = ctx.url.searchParams;
    const verbose = q.get('verbose') === 'true';
    // The token's user decides which practice the API shows (DrChrono scopes every list to the practice group).
    const d = this.engine.practiceOf(tok.userId);
    // Bulk lists (bulk.ts): POST generates, GET polls; both are reads, so this precedes the write-scope check.
    if (isBulkArea(area) && id === undefined) {
      // Generated lists are cached per app; per app and practice for the non-default practices.
      const cacheOwner = d === this.engine.state.data ? tok.clientId : `${tok.clientId}@${String(d.users[0]?.practice_group)}`;
      const out = bulkList(area, ctx.method, q, d, cacheOwner, this.engine.clock.now());
      return send(ctx.res, out.status, out.body);
    }
    if (d !== this.engine.state.data) return this.otherPracticeApi(ctx, d, area, id, tok.userId);
    const write = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method);
    const writeScope = WRITE_SCOPE[area];
    if (write && writeScope && !hasScope(tok, [writeScope])) return send(ctx.res, 403, FORBIDDEN);

    switch (area) {
      case 'users':
        if (ctx.method !== 'GET') break;
        if (id === 'current') {
          ctx.res.writeHead(302, { location: `${this.baseUrl()}/api/users/${tok.userId}` }).end();
          return;
        }
        if (id === undefined) return this.list(ctx, d.users, 'default');
        return send(ctx.res, 200, findOr404(d.users, (u) => String(u.id) === id));
      case 'doctors':
        if (ctx.method !== 'GET') break;
        if (id === undefined) return this.list(ctx, filterDoctor(d.doctors, q), 'default');
        return send(ctx.res, 200, findOr404(d.doctors, (x) => String(x.id) === id));
      case 'appointment_profiles':
      case 'patient_flag_types': {
        if (ctx.method !== 'GET') break;
        const items = area === 'appointment_profiles' ? d.profiles : d.flagTypes;
        if (id === undefined) return this.list(ctx, filterDoctor(items, q, 'doctor'), 'default');
        return send(ctx.res, 200, findOr404(items, (x) => String(x.id) === id));
      }
      case 'offices':
        if (ctx.method !== 'GET') break;
        if (id === undefined) return this.list(ctx, filterDoctor(d.offices ?? [], q, 'doctor').map((o) => serialize('office', o, verbose)), 'default');
        return send(ctx.res, 200, serialize('office', findOr404(d.offices ?? [], (x) => String(x.id) === id), verbose));
      case 'patients':
        if (id === undefined) {
          // 201 with the object as GET serialises it (verbose only when asked for).
          if (ctx.method === 'POST') return send(ctx.res, 201, serialize('patient', this.engine.apiCreatePatient(parseBody(ctx)), verbose));
          if (ctx.method !== 'GET') break;
          let items = filterDoctor(d.patients, q, 'doctor');
          const since = q.get('since');
          if (since) items = items.filter((p) => String(p.updated_at) >= since);
          for (const f of ['chart_id', 'first_name', 'last_name', 'gender', 'date_of_birth', 'email'] as const) {
            const v = q.get(f);
            if (v !== null) items = items.filter((p) => String(p[f]) === v);
          }
          return this.list(ctx, items.map((p) => serialize('patient', p, verbose)), 'default');
        }
        if (ctx.method === 'GET') return send(ctx.res, 200, serialize('patient', this.engine.patient(numericId(id)), verbose));
        if (ctx.method === 'PATCH' || ctx.method === 'PUT') {
          this.engine.apiUpdatePatient(numericId(id), parseBody(ctx), ctx.method === 'PUT' ? 'update' : 'partial');
          return noContent(ctx.res);
        }
        if (ctx.method === 'DELETE') {
          this.engine.deletePatient(numericId(id));
          return noContent(ctx.res);
        }
        break;
      case 'appointments':
        if (id === undefined) {
          if (ctx.method === 'POST') return send(ctx.res, 201, serialize('appointment', this.engine.apiCreateAppointment(parseBody(ctx)), verbose));
          if (ctx.method !== 'GET') break;
          const since = q.get('since');
          const date = q.get('date');
          const range = q.get('date_range');
          if (!since && !date && !range) return send(ctx.res, 400, { detail: 'One of since, date or date_range is required.' });
          let items = filterDoctor(d.appointments, q, 'doctor');
          if (since) items = items.filter((a) => String(a.updated_at) >= since);
          if (date) items = items.filter((a) => String(a.scheduled_time).slice(0, 10) === date);
          if (range) {
            const m = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(range);
            if (!m) return send(ctx.res, 400, { date_range: ['Expected YYYY-MM-DD/YYYY-MM-DD.'] });
            items = items.filter((a) => {
              const day = String(a.scheduled_time).slice(0, 10);
              return day >= m[1]! && day <= m[2]!;
            });
          }
          for (const f of ['patient', 'status', 'office'] as const) {
            const v = q.get(f);
            if (v !== null) items = items.filter((a) => String(a[f]) === v);
          }
          return this.list(ctx, items.map((a) => serialize('appointment', a, verbose)), 'appointments');
        }
        if (ctx.method === 'GET') return send(ctx.res, 200, serialize('appointment', this.engine.appointment(id), verbose));
        if (ctx.method === 'PATCH' || ctx.method === 'PUT') {
          this.engine.apiUpdateAppointment(id, parseBody(ctx), ctx.method === 'PUT' ? 'update' : 'partial');
          return noContent(ctx.res);
        }
        if (ctx.method === 'DELETE') {
          this.engine.apiDeleteAppointment(id);
          return noContent(ctx.res);
        }
        break;
      default:
        return send(ctx.res, 404, { detail: 'Not found.' });
    }
    send(ctx.res, 405, { detail: `Method "${ctx.method}" not allowed.` });
  }

  /**
   * A non-default practice, read-only: users, doctors, profiles, flag types, patients and appointments (lists with
   * the same filters the sync uses, and single objects). Writes and bulk lists are only modelled for the default one.
   */
  private otherPracticeApi(ctx: Ctx, d: SandboxData, area: string, id: string | undefined, userId: number): void {
    if (ctx.method !== 'GET') return send(ctx.res, 403, FORBIDDEN);
    const q = ctx.url.searchParams;
    const verbose = q.get('verbose') === 'true';
    const one = (items: Json[], kind?: 'patient' | 'appointment' | 'office') => {
      const x = findOr404(items, (o) => String(o.id) === id);
      return send(ctx.res, 200, kind ? serialize(kind, x, verbose) : x);
    };
    const since = q.get('since');
    switch (area) {
      case 'users':
        if (id === 'current') {
          ctx.res.writeHead(302, { location: `${this.baseUrl()}/api/users/${userId}` }).end();
          return;
        }
        return id === undefined ? this.list(ctx, d.users, 'default') : one(d.users);
      case 'doctors':
        return id === undefined ? this.list(ctx, filterDoctor(d.doctors, q), 'default') : one(d.doctors);
      case 'offices':
        return id === undefined ? this.list(ctx, filterDoctor(d.offices ?? [], q, 'doctor').map((o) => serialize('office', o, verbose)), 'default') : one(d.offices ?? [], 'office');
      case 'appointment_profiles':
      case 'patient_flag_types': {
        const items = area === 'appointment_profiles' ? d.profiles : d.flagTypes;
        return id === undefined ? this.list(ctx, filterDoctor(items, q, 'doctor'), 'default') : one(items);
      }
      case 'patients': {
        if (id !== undefined) return one(d.patients, 'patient');
        let items = filterDoctor(d.patients, q, 'doctor');
        if (since) items = items.filter((p) => String(p.updated_at) >= since);
        return this.list(ctx, items.map((p) => serialize('patient', p, verbose)), 'default');
      }
      case 'appointments': {
        if (id !== undefined) return one(d.appointments, 'appointment');
        let items = filterDoctor(d.appointments, q, 'doctor');
        if (since) items = items.filter((a) => String(a.updated_at) >= since);
        const range = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(q.get('date_range') ?? '');
        if (range) items = items.filter((a) => String(a.scheduled_time).slice(0, 10) >= range[1]! && String(a.scheduled_time).slice(0, 10) <= range[2]!);
        const date = q.get('date');
        if (date) items = items.filter((a) => String(a.scheduled_time).slice(0, 10) === date);
        return this.list(ctx, items.map((a) => serialize('appointment', a, verbose)), 'appointments');
      }
      default:
        return send(ctx.res, 404, { detail: 'Not found.' });
    }
  }

  private list(ctx: Ctx, items: Json[], kind: 'appointments' | 'default'): void {
    const q = ctx.url.searchParams;
    const size = pageSizeFor(kind, q.get('verbose') === 'true', q.get('page_size'));
    const offset = decodeCursor(q.get('cursor'));
    if (offset === undefined) return send(ctx.res, 404, { detail: 'Invalid cursor' });
    send(ctx.res, 200, paginate(items, new URL(ctx.url.pathname + ctx.url.search, this.baseUrl()), size, offset));
  }

  // ---------------------------------------------------------------- control API

  private async control(ctx: Ctx): Promise<void> {
    const { res, method } = ctx;
    const path = ctx.url.pathname.replace(/\/+$/, '');
    const seg = decodeSegments(path.split('/').slice(2)) ?? []; // after /_sandbox
    const json = () => parseJson(ctx.body);
    const e = this.engine;
    const r = (status: number, body: unknown) => send(res, status, body);

    const [a, b, c, d] = seg;
    if (a === 'health' && method === 'GET') return r(200, { ok: true, url: this.baseUrl() });
    if (a === 'reset' && method === 'POST') {
      const o = z.object({ seed: z._default(z.boolean(), true) }).parse(json());
      this.hooks.cancelScheduled();
      await this.hooks.idle();
      e.reset(o.seed);
      clearBulkLists();
      return r(200, { ok: true });
    }
    if (a === 'clock' && method === 'POST') {
      const o = z.object({ advanceSeconds: z.number() }).parse(json());
      e.advanceClock(o.advanceSeconds * 1000);
      return r(200, { offsetMs: e.clock.offsetMs });
    }
    if (a === 'idle' && method === 'POST') {
      await this.hooks.idle();
      return r(200, { ok: true, pendingRetries: this.hooks.pendingCount() });
    }
    // The whole practice as stored (verbose fields included): what a convergence check compares records with.
    if (a === 'data' && b === undefined && method === 'GET') {
      const { doctors, profiles, flagTypes, patients, appointments } = e.state.data;
      return r(200, { doctors, profiles, flagTypes, patients, appointments });
    }
    if (a === 'retries' && b === 'run' && method === 'POST') {
      const ran = await this.hooks.runDueRetries();
      return r(200, { ran, pendingRetries: this.hooks.pendingCount() });
    }
    // Doctors and appointment profiles fire no webhooks in DrChrono: edits show only in the API.
    if ((a === 'doctors' || a === 'appointment_profiles') && b !== undefined && c === undefined && method === 'PATCH') {
      const fields = z.record(z.string(), z.unknown()).parse(json());
      return r(200, a === 'doctors' ? e.modifyDoctor(Number(b), fields) : e.modifyProfile(Number(b), fields));
    }
    if (a === 'apps') {
      if (b === undefined && method === 'GET') return r(200, Object.values(e.state.apps).map(appView));
      if (b === undefined && method === 'POST') {
        const o = z.extend(AppInput, { clientId: z.string().check(z.minLength(1)) }).parse(json());
        return r(201, appView(e.upsertApp(o.clientId, o)));
      }
      if (b !== undefined && c === undefined) {
        if (method === 'GET') return r(200, appView(e.app(b)));
        if (method === 'PATCH') {
          e.app(b);
          return r(200, appView(e.upsertApp(b, AppInput.parse(json()))));
        }
      }
      if (b !== undefined && c === 'rate-limit') {
        if (method === 'GET') return r(200, e.rateLimitView(b));
        if (method === 'DELETE') {
          delete e.state.counters[b];
          return r(200, e.rateLimitView(b));
        }
      }
      if (b !== undefined && c === 'webhook') {
        const app = e.app(b);
        if (d === undefined && (method === 'PUT' || method === 'PATCH')) {
          const o = WebhookInput.parse(json());
          if (o.callbackUrl !== undefined && o.callbackUrl !== app.webhook.callbackUrl) app.webhook.verifiedUrl = null;
          Object.assign(app.webhook, o);
          e.persist();
          return r(200, appView(app).webhook);
        }
        if (d === undefined && method === 'GET') return r(200, appView(app).webhook);
        if (d === 'verify' && method === 'POST') return r(200, await this.hooks.verify(app));
        if (d === 'ping' && method === 'POST') return r(200, deliveryView(await this.hooks.ping(b)));
        if (d === 'quirks' && method === 'POST') {
          Object.assign(app.quirks, QuirksInput.parse(json()));
          e.persist();
          return r(200, app.quirks);
        }
        if (d === 'release' && method === 'POST') {
          const o = z.object({ order: z._default(z.enum(['reverse', 'fifo']), 'reverse') }).parse(json());
          return r(200, (await this.hooks.release(b, o.order)).map(deliveryView));
        }
      }
    }
    if (a === 'oauth' && b === 'approve' && method === 'POST') {
      const o = ApproveInput.parse(json());
      const u = o.url ? new URL(o.url).searchParams : undefined;
      const pick = (k: string, v?: string) => v ?? u?.get(k) ?? undefined;
      const clientId = pick('client_id', o.client_id);
      const redirectUri = pick('redirect_uri', o.redirect_uri);
      if (!clientId || !redirectUri) return r(400, { detail: 'client_id and redirect_uri (or url) are required' });
      const location = e.decide({ clientId, redirectUri, scope: pick('scope', o.scope), state: pick('state', o.state), approve: o.decision === 'approve', userId: o.user_id });
      return r(200, { location });
    }
    // The practice revokes the app's access (DrChrono's "revoke" in the account's connected apps): every access
    // and refresh token of the app dies, so the next refresh answers invalid_grant.
    if (a === 'tokens' && b === 'revoke' && method === 'POST') {
      const o = z.object({ clientId: z.string().check(z.minLength(1)) }).parse(json());
      return r(200, { revoked: e.revokeTokens(o.clientId) });
    }
    if (a === 'tokens' && b === 'expire' && method === 'POST') {
      const o = z.object({ clientId: z.optional(z.string()), accessToken: z.optional(z.string()) }).parse(json());
      return r(200, { expired: e.expireTokens(o) });
    }
    if (a === 'patients' && b !== undefined && c === 'flags') {
      const patientId = numericId(b);
      if (d === undefined && method === 'POST') return r(201, e.attachFlag(patientId, FlagInput.parse(json())));
      if (d !== undefined && method === 'PATCH') return r(200, e.modifyFlag(patientId, numericId(d), z.partial(FlagInput).parse(json())));
      if (d !== undefined && method === 'DELETE') return r(200, e.removeFlag(patientId, numericId(d)));
    }
    if (a === 'patients' || a === 'appointments') {
      const isPatient = a === 'patients';
      if (b === undefined && method === 'GET') return r(200, isPatient ? e.state.data.patients : e.state.data.appointments);
      if (b === undefined && method === 'POST') {
        const obj = isPatient ? e.createPatient(Fields.parse(json())) : e.createAppointment(Fields.parse(json()), { allowId: true });
        return r(201, obj);
      }
      if (b !== undefined) {
        if (method === 'GET') return r(200, isPatient ? e.patient(numericId(b)) : e.appointment(b));
        if (method === 'PATCH') return r(200, isPatient ? e.modifyPatient(numericId(b), Fields.parse(json())) : e.modifyAppointment(b, Fields.parse(json())));
        if (method === 'DELETE') {
          if (isPatient) {
            e.deletePatient(numericId(b));
            return r(200, { deleted: true, id: Number(b), webhook: 'none (DrChrono has no PATIENT_DELETE event)' });
          }
          return r(200, e.deleteAppointment(b));
        }
      }
    }
    if (a === 'deliveries') {
      if (b === undefined && method === 'GET') {
        const q = ctx.url.searchParams;
        const list = e.state.deliveries.filter(
          (x) =>
            (!q.get('clientId') || x.clientId === q.get('clientId')) &&
            (!q.get('status') || x.status === q.get('status')) &&
            (!q.get('event') || x.event === q.get('event')) &&
            (!q.get('objectId') || x.objectId === q.get('objectId')),
        );
        return r(200, list.map(deliveryView));
      }
      if (b !== undefined && c === undefined && method === 'GET') return r(200, { ...deliveryView(this.hooks.find(b)), body: JSON.parse(this.hooks.find(b).body) });
      if (b !== undefined && c === 'redeliver' && method === 'POST') return r(200, deliveryView(await this.hooks.redeliver(b)));
    }
    if (a === 'faults') {
      if (method === 'GET') return r(200, e.listFaults());
      if (method === 'DELETE') {
        e.clearFaults();
        return r(200, { ok: true });
      }
      if (method === 'POST') return r(201, e.addFault(FaultInput.parse(json())));
    }
    r(404, { detail: `no control route ${method} ${path}` });
  }
}

// ---------------------------------------------------------------- control inputs

const FlagInput = z.strictObject({ flag_type: z.number().check(z.int(), z.nonnegative()), flag_text: z.optional(z.string().check(z.maxLength(2000))) });

const AppInput = z.partial(z.strictObject({
    clientSecret: z.string().check(z.minLength(1)),
    redirectUris: z.array(z.url()),
    rotateRefreshTokens: z.boolean(),
    invalidClient: z.boolean(),
    latencyMs: z.number().check(z.int(), z.minimum(0), z.maximum(120_000)),
    hourlyBudget: z.number().check(z.int(), z.minimum(0)),
    sendRetryAfter: z.boolean(),
    defaultUserId: z.number().check(z.int()),
  }));

const WebhookInput = z.partial(z.strictObject({
    callbackUrl: z.nullable(z.url()),
    secretToken: z.string().check(z.minLength(1)),
    events: z.array(z.string().check(z.regex(/^[A-Z_]+$/))),
    active: z.boolean(),
    signatureMode: z.enum(['token', 'hmac-sha256']),
    verboseObjects: z.boolean(),
  }));

const QuirksInput = z.partial(z.strictObject({ duplicateNext: z.number().check(z.int(), z.minimum(0)), delayMs: z.number().check(z.int(), z.minimum(0)), holding: z.boolean() }));

const ApproveInput = z.object({
  url: z.optional(z.url()),
  client_id: z.optional(z.string()),
  redirect_uri: z.optional(z.string()),
  scope: z.optional(z.string()),
  state: z.optional(z.string()),
  user_id: z.optional(z.number().check(z.int())),
  decision: z._default(z.enum(['approve', 'deny']), 'approve'),
});

const FaultInput = z.strictObject({
    path: z.string().check(z.startsWith('/')),
    method: z.optional(z.string()),
    kind: z.enum(['500', '502', '503', 'timeout', 'reset', '429', '401']),
    count: z._default(z.number().check(z.int(), z.minimum(1)), 1),
    retryAfterSeconds: z.optional(z.number().check(z.int(), z.minimum(0))),
    retryAfterHeader: z.optional(z.boolean()),
  });

const Fields = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------- helpers

function appView(a: SandboxApp) {
  const { verifiedUrl, ...webhook } = a.webhook;
  return { ...a, webhook: { ...webhook, verified: verifiedUrl !== null && verifiedUrl === a.webhook.callbackUrl } };
}

function deliveryView(d: Delivery) {
  const { body: _body, ...rest } = d;
  return rest;
}

function hasScope(t: TokenPair, any: string[]): boolean {
  const granted = t.scope.split(' ');
  return any.some((s) => granted.includes(s));
}

/** Percent-decoded path segments; undefined for a malformed escape. */
function decodeSegments(parts: string[]): string[] | undefined {
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
}

function filterDoctor(items: Json[], q: URLSearchParams, field = 'id'): Json[] {
  const v = q.get('doctor');
  return v === null ? items : items.filter((x) => String(x[field]) === v);
}

function findOr404(items: Json[], pred: (x: Json) => boolean): Json {
  const x = items.find(pred);
  if (!x) throw new SandboxHttpError(404, { detail: 'Not found.' });
  return x;
}

function numericId(id: string): number {
  if (!/^\d+$/.test(id)) throw new SandboxHttpError(404, { detail: 'Not found.' });
  return Number(id);
}

/** An API write's body: JSON (any value; the engine answers a non-object as DRF does) or form-encoded fields. */
function parseBody(ctx: Ctx): unknown {
  const type = ctx.req.headers['content-type'] ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(ctx.body.toString()));
  return parseJson(ctx.body);
}

function noContent(res: ServerResponse): void {
  res.writeHead(204).end();
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new SandboxHttpError(400, { detail: 'JSON parse error' });
  }
}

/**
 * HTTP Basic client credentials (RFC 6749 2.3.1: each part form-encoded, the secret may hold colons).
 * Credentials that do not decode are bad credentials: 401 invalid_client, as DrChrono answers.
 */
function parseBasic(h: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic (.+)$/i.exec(h ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString();
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    throw new SandboxHttpError(401, { error: 'invalid_client' });
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><body>${html}</body></html>`);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
