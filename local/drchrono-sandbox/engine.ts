import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppointmentSchema, PatientSchema } from '../../shared/drchrono/schemas';
import { SandboxClock, practiceTimestamp } from './clock';
import { buildAppointment, buildPatient, seedData, seedOffices, seedSecondPractice } from './seed';
import type { Fault, FaultKind, Json, RateCounter, SandboxApp, SandboxData, SandboxState, TokenPair } from './types';
import { MSG, deriveChartId, findOverlap, newAppointment, newPatient, validateFields, type FieldErrors, type RefKind, type WriteMode } from './write-rules';

/** Errors the HTTP layer turns into a response: status plus a JSON body shaped like DrChrono's. */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(`HTTP ${status}`);
  }
}

export const ACCESS_TOKEN_SECONDS = 172_800;
export const DEFAULT_HOURLY_BUDGET = 500;
export const ALL_SCOPES = [
  'billing:patient-payment:read', 'billing:patient-payment:write', 'billing:read', 'billing:write', 'calendar:read',
  'calendar:write', 'clinical:read', 'clinical:write', 'labs:read', 'labs:write', 'messages:read', 'messages:write',
  'patients:read', 'patients:write', 'patients:summary:read', 'patients:summary:write', 'settings:read', 'settings:write',
  'tasks:read', 'tasks:write', 'user:read', 'user:write',
];

export const DEFAULT_APP = { clientId: 'sandbox-client', clientSecret: 'sandbox-secret' } as const;

export type ChangeListener = (event: string, objectType: 'patient' | 'appointment' | 'patient_flag', object: Json) => void;

export interface EngineOptions {
  statePath?: string;
  seed?: boolean;
  /** Seconds an authorization code lives. DrChrono: "expires extremely quickly". */
  codeTtlSeconds?: number;
}

const randomToken = (bytes = 20) => randomBytes(bytes).toString('hex');

export function newApp(clientId: string, clientSecret: string): SandboxApp {
  return {
    clientId,
    clientSecret,
    redirectUris: [],
    rotateRefreshTokens: false,
    invalidClient: false,
    latencyMs: 0,
    hourlyBudget: DEFAULT_HOURLY_BUDGET,
    sendRetryAfter: false,
    defaultUserId: 9001,
    webhook: { callbackUrl: null, secretToken: randomToken(), events: [], active: true, signatureMode: 'token', verboseObjects: true, verifiedUrl: null },
    quirks: { duplicateNext: 0, delayMs: 0, holding: false },
  };
}

/**
 * The sandbox's model of one DrChrono practice: data, API apps, OAuth grants and tokens, hourly rate counters
 * and injected faults. Pure state and rules; HTTP lives in server.ts, webhook delivery in webhooks.ts.
 */
export class SandboxEngine {
  readonly clock = new SandboxClock();
  state: SandboxState;
  private readonly faults: Fault[] = [];
  private nextFaultId = 1;
  private readonly listeners: ChangeListener[] = [];
  private persistTimer: NodeJS.Timeout | undefined;
  private readonly codeTtlMs: number;

  constructor(private readonly opts: EngineOptions = {}) {
    this.codeTtlMs = (opts.codeTtlSeconds ?? 60) * 1000;
    const loaded = opts.statePath && existsSync(opts.statePath) ? (JSON.parse(readFileSync(opts.statePath, 'utf8')) as SandboxState) : undefined;
    // A state file written before offices were modelled: its practice was seeded with the same doctors.
    if (loaded && loaded.data.offices === undefined) loaded.data.offices = seedOffices();
    this.state = loaded ?? this.freshState(opts.seed ?? true);
    this.clock.offsetMs = this.state.clockOffsetMs ?? 0;
  }

  private freshState(seed: boolean): SandboxState {
    const data = seed
      ? seedData(Date.now())
      : { doctors: [], users: [], profiles: [], flagTypes: [], patients: [], appointments: [], offices: [], nextPatientId: 104857601, nextAppointmentId: 246813579 };
    return {
      data,
      practices: seed ? [seedSecondPractice(Date.now())] : [],
      apps: { [DEFAULT_APP.clientId]: newApp(DEFAULT_APP.clientId, DEFAULT_APP.clientSecret) },
      grants: {},
      tokens: [],
      deliveries: [],
      nextDeliveryId: 700000001,
      counters: {},
      clockOffsetMs: 0,
    };
  }

  /** Every user of every practice, with the practice's name (the approve page's choice). */
  allUsers(): { id: number; username: string; practiceGroup: string; practiceName: string }[] {
    return [this.state.data, ...(this.state.practices ?? [])].flatMap((d) =>
      d.users.map((u) => ({
        id: Number(u.id),
        username: String(u.username),
        practiceGroup: String(u.practice_group),
        practiceName: String(d.doctors[0]?.practice_group_name ?? u.practice_group),
      })),
    );
  }

  /** The practice a user belongs to; the default practice for its own users (and for unknown ids). */
  practiceOf(userId: number): SandboxData {
    return (this.state.practices ?? []).find((d) => d.users.some((u) => u.id === userId)) ?? this.state.data;
  }

  onChange(l: ChangeListener): void {
    this.listeners.push(l);
  }

  reset(seed = true): void {
    this.state = this.freshState(seed);
    this.clock.offsetMs = 0;
    this.faults.length = 0;
    this.persist();
  }

  advanceClock(ms: number): void {
    this.clock.advance(ms);
    this.state.clockOffsetMs = this.clock.offsetMs;
    this.persist();
  }

  /** Debounced write of the whole state; the file is replaced atomically. */
  persist(): void {
    if (!this.opts.statePath || this.persistTimer) return;
    this.persistTimer = setTimeout(() => this.flush(), 50);
    this.persistTimer.unref();
  }

  flush(): void {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    if (!this.opts.statePath) return;
    mkdirSync(dirname(this.opts.statePath), { recursive: true });
    const tmp = `${this.opts.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.opts.statePath);
  }

  // ---------------------------------------------------------------- apps

  app(clientId: string): SandboxApp {
    const a = this.state.apps[clientId];
    if (!a) throw new SandboxHttpError(404, { detail: `unknown app ${clientId}` });
    return a;
  }

  upsertApp(clientId: string, patch: Partial<Omit<SandboxApp, 'clientId' | 'webhook' | 'quirks'>> & { clientSecret?: string }): SandboxApp {
    const existing = this.state.apps[clientId];
    const a = existing ?? newApp(clientId, patch.clientSecret ?? randomToken(16));
    Object.assign(a, patch);
    this.state.apps[clientId] = a;
    this.persist();
    return a;
  }

  // ---------------------------------------------------------------- OAuth

  private redirectAllowed(a: SandboxApp, uri: string): boolean {
    if (a.redirectUris.length > 0) return a.redirectUris.includes(uri);
    try {
      const u = new URL(uri);
      return (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
    } catch {
      return false;
    }
  }

  /** Checks an authorization request; errors here are shown to the user, never redirected (RFC 6749 §4.1.2.1). */
  checkAuthorizeRequest(q: { clientId?: string; redirectUri?: string; responseType?: string }): SandboxApp {
    if (!q.clientId || !this.state.apps[q.clientId]) throw new SandboxHttpError(400, { error: 'invalid_client', detail: 'unknown client_id' });
    const a = this.app(q.clientId);
    if (!q.redirectUri || !this.redirectAllowed(a, q.redirectUri)) throw new SandboxHttpError(400, { error: 'invalid_request', detail: 'redirect_uri not registered for this app' });
    if (q.responseType !== undefined && q.responseType !== 'code') throw new SandboxHttpError(400, { error: 'unsupported_response_type' });
    return a;
  }

  /** The user's decision on the approve/deny page; returns the redirect Location. */
  decide(q: { clientId: string; redirectUri: string; scope?: string; state?: string; approve: boolean; userId?: number }): string {
    const a = this.checkAuthorizeRequest(q);
    const loc = new URL(q.redirectUri);
    if (!q.approve) {
      loc.searchParams.set('error', 'access_denied');
    } else {
      const scope = q.scope && q.scope.trim() ? q.scope.trim().split(/\s+/).join(' ') : ALL_SCOPES.join(' ');
      const userId = q.userId ?? a.defaultUserId;
      if (!this.allUsers().some((u) => u.id === userId)) throw new SandboxHttpError(400, { detail: `unknown user ${userId}` });
      const code = randomToken(15);
      this.state.grants[code] = { code, clientId: a.clientId, redirectUri: q.redirectUri, scope, userId, expiresAt: this.clock.now() + this.codeTtlMs, used: false };
      loc.searchParams.set('code', code);
    }
    if (q.state !== undefined) loc.searchParams.set('state', q.state);
    this.persist();
    return loc.toString();
  }

  /** `POST /o/token/`. Returns the JSON body or throws a SandboxHttpError shaped as DrChrono's. */
  token(form: URLSearchParams, basic?: { id: string; secret: string }): Json {
    const clientId = form.get('client_id') ?? basic?.id;
    const clientSecret = form.get('client_secret') ?? basic?.secret;
    const a = clientId ? this.state.apps[clientId] : undefined;
    if (!a || a.invalidClient || a.clientSecret !== clientSecret) throw new SandboxHttpError(401, { error: 'invalid_client' });
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const g = this.state.grants[form.get('code') ?? ''];
      if (!g || g.used || g.clientId !== a.clientId || g.expiresAt < this.clock.now() || g.redirectUri !== form.get('redirect_uri')) {
        throw new SandboxHttpError(401, { error: 'invalid_grant' });
      }
      g.used = true;
      // Re-running the OAuth flow for the same DrChrono user invalidates that user's earlier tokens (SUP-ERR).
      for (const t of this.state.tokens) if (t.clientId === a.clientId && t.userId === g.userId) t.accessValid = t.refreshValid = false;
      return this.issue(a, g.userId, g.scope, randomToken());
    }
    if (grantType === 'refresh_token') {
      const t = this.state.tokens.find((x) => x.refreshToken === form.get('refresh_token') && x.clientId === a.clientId && x.refreshValid);
      if (!t) throw new SandboxHttpError(401, { error: 'invalid_grant' });
      // After a refresh the prior access token stops working; with rotation the old refresh token dies too.
      t.accessValid = false;
      t.refreshValid = false;
      return this.issue(a, t.userId, t.scope, a.rotateRefreshTokens ? randomToken() : t.refreshToken);
    }
    throw new SandboxHttpError(400, { error: 'unsupported_grant_type' });
  }

  private issue(a: SandboxApp, userId: number, scope: string, refreshToken: string): Json {
    const pair: TokenPair = {
      accessToken: randomToken(),
      refreshToken,
      clientId: a.clientId,
      userId,
      scope,
      accessExpiresAt: this.clock.now() + ACCESS_TOKEN_SECONDS * 1000,
      accessValid: true,
      refreshValid: true,
    };
    this.state.tokens = this.state.tokens.filter((t) => t.accessValid || t.refreshValid);
    this.state.tokens.push(pair);
    this.persist();
    return { access_token: pair.accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, refresh_token: refreshToken, scope };
  }

  /** The token pair behind a live access token, or undefined (unknown, expired, superseded, revoked). */
  authenticate(accessToken: string): TokenPair | undefined {
    const t = this.state.tokens.find((x) => x.accessToken === accessToken);
    if (!t || !t.accessValid || t.accessExpiresAt <= this.clock.now()) return undefined;
    return t;
  }

  /** Force tokens to expire now (all of an app's, or one). */
  expireTokens(sel: { clientId?: string; accessToken?: string }): number {
    let n = 0;
    for (const t of this.state.tokens) {
      if ((sel.accessToken && t.accessToken === sel.accessToken) || (sel.clientId && t.clientId === sel.clientId)) {
        t.accessExpiresAt = this.clock.now() - 1;
        n++;
      }
    }
    this.persist();
    return n;
  }

  /** Kills every token pair of an app (access and refresh). */
  revokeTokens(clientId: string): number {
    let n = 0;
    for (const t of this.state.tokens) {
      if (t.clientId !== clientId || (!t.accessValid && !t.refreshValid)) continue;
      t.accessValid = t.refreshValid = false;
      n++;
    }
    this.persist();
    return n;
  }

  // ---------------------------------------------------------------- rate limit

  private hourKey(now = this.clock.now()): string {
    return new Date(now).toISOString().slice(0, 13);
  }

  counter(clientId: string): RateCounter {
    const hour = this.hourKey();
    let c = this.state.counters[clientId];
    if (!c) c = this.state.counters[clientId] = { hour, calls: 0, throttled: 0, total: 0, byPath: {} };
    if (c.hour !== hour) Object.assign(c, { hour, calls: 0, throttled: 0 });
    return c;
  }

  secondsToNextHour(): number {
    const now = this.clock.now();
    const next = Math.floor(now / 3_600_000) * 3_600_000 + 3_600_000;
    return Math.max(1, Math.ceil((next - now) / 1000));
  }

  /** Counts one call against the app's clock-hour budget; returns the wait in seconds when over budget. */
  charge(clientId: string, pathTemplate: string): { ok: true } | { ok: false; waitSeconds: number } {
    const a = this.state.apps[clientId];
    if (!a) return { ok: true };
    const c = this.counter(clientId);
    if (c.calls >= a.hourlyBudget) {
      c.throttled++;
      return { ok: false, waitSeconds: this.secondsToNextHour() };
    }
    c.calls++;
    c.total++;
    c.byPath[pathTemplate] = (c.byPath[pathTemplate] ?? 0) + 1;
    this.persist();
    return { ok: true };
  }

  rateLimitView(clientId: string): Json {
    const a = this.app(clientId);
    const c = this.counter(clientId);
    return {
      clientId,
      hour: c.hour,
      budget: a.hourlyBudget,
      calls: c.calls,
      remaining: Math.max(0, a.hourlyBudget - c.calls),
      throttled: c.throttled,
      total: c.total,
      byPath: c.byPath,
      resetInSeconds: this.secondsToNextHour(),
    };
  }

  // ---------------------------------------------------------------- faults

  addFault(f: { path: string; method?: string; kind: FaultKind; count?: number; retryAfterSeconds?: number; retryAfterHeader?: boolean }): Fault {
    const { count, ...rest } = f;
    const fault: Fault = { ...rest, id: this.nextFaultId++, method: f.method?.toUpperCase(), remaining: count ?? 1 };
    this.faults.push(fault);
    return fault;
  }

  listFaults(): Fault[] {
    return [...this.faults];
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Consumes one matching injected fault, if any. */
  takeFault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && path.startsWith(x.path) && (!x.method || x.method === method));
    if (!f) return undefined;
    f.remaining--;
    if (f.remaining <= 0) this.faults.splice(this.faults.indexOf(f), 1);
    return f;
  }

  // ---------------------------------------------------------------- data

  private stamp(): string {
    return practiceTimestamp(this.clock.now());
  }

  private emit(event: string, type: 'patient' | 'appointment' | 'patient_flag', obj: Json): void {
    this.persist();
    for (const l of this.listeners) l(event, type, structuredClone(obj));
  }

  patient(id: number): Json {
    const p = this.state.data.patients.find((x) => x.id === id);
    if (!p) throw new SandboxHttpError(404, { detail: 'Not found.' });
    return p;
  }

  appointment(id: string): Json {
    const a = this.state.data.appointments.find((x) => x.id === id);
    if (!a) throw new SandboxHttpError(404, { detail: 'Not found.' });
    return a;
  }

  /**
   * The practice's staff creating a patient in DrChrono's UI (control API): unset fields get realistic demo
   * values, as in the seed. A Chart ID not given is derived from the name (deriveChartId); an explicit "" stays.
   */
  createPatient(fields: Json): Json {
    const id = this.state.data.nextPatientId++;
    const p = buildPatient(id, id % 997, this.clock.now(), { ...writable(fields), updated_at: this.stamp() });
    if (!('chart_id' in fields)) p.chart_id = deriveChartId(p.first_name, p.last_name, this.chartIds());
    this.checkPatient(p);
    this.state.data.patients.push(p);
    this.emit('PATIENT_CREATE', 'patient', p);
    return p;
  }

  modifyPatient(id: number, fields: Json): Json {
    const p = this.patient(id);
    const next = { ...p, ...writable(fields), updated_at: this.stamp() };
    this.checkPatient(next);
    Object.assign(p, next);
    this.emit('PATIENT_MODIFY', 'patient', p);
    return p;
  }

  /** DrChrono has no PATIENT_DELETE webhook: the patient just disappears. */
  deletePatient(id: number): void {
    this.patient(id);
    this.state.data.patients = this.state.data.patients.filter((x) => x.id !== id);
    this.persist();
  }

  // ------------------------------------------------------------ patient flags
  //
  // DrChrono documents neither the object of PATIENT_FLAG_* deliveries nor whether a flag change moves the
  // patient's updated_at. The sandbox takes the less convenient reading of both, so the product must cope:
  // the delivery carries the flag (as in patient_flags_attached) plus a `patient` reference, and the
  // patient's updated_at stays as it was. Removing a flag archives it (archived: true), as DrChrono's
  // soft-deleted flags appear, and fires the change event.

  private flag(patientId: number, flagId: number): { p: Json; f: Json } {
    const p = this.patient(patientId);
    const f = ((p.patient_flags_attached as Json[] | undefined) ?? []).find((x) => x.id === flagId);
    if (!f) throw new SandboxHttpError(404, { detail: 'Not found.' });
    return { p, f };
  }

  private flagType(id: number): Json {
    const t = this.state.data.flagTypes.find((x) => x.id === id && x.archived !== true);
    if (!t) throw new SandboxHttpError(400, { flag_type: ['Invalid pk - object does not exist.'] });
    return t;
  }

  /** `patient_flags`: the types of the patient's attached flags (the seed's reading of that field). */
  private syncFlagTypes(p: Json): void {
    const ids = new Set(((p.patient_flags_attached as Json[]) ?? []).filter((f) => f.archived !== true).map((f) => f.flag_type));
    p.patient_flags = this.state.data.flagTypes.filter((t) => ids.has(t.id));
  }

  attachFlag(patientId: number, input: { flag_type: number; flag_text?: string }): Json {
    const p = this.patient(patientId);
    this.flagType(input.flag_type);
    const ids = this.state.data.patients.flatMap((x) => ((x.patient_flags_attached as Json[] | undefined) ?? []).map((f) => Number(f.id)));
    const stamp = this.stamp();
    const f = { id: Math.max(88000, ...ids) + 1, flag_type: input.flag_type, flag_text: input.flag_text ?? '', archived: false, created_at: stamp, updated_at: stamp };
    p.patient_flags_attached = [...((p.patient_flags_attached as Json[] | undefined) ?? []), f];
    this.syncFlagTypes(p);
    this.emit('PATIENT_FLAG_CREATE', 'patient_flag', { ...f, patient: patientId });
    return { ...f, patient: patientId };
  }

  modifyFlag(patientId: number, flagId: number, input: { flag_type?: number; flag_text?: string }): Json {
    const { p, f } = this.flag(patientId, flagId);
    if (input.flag_type !== undefined) this.flagType(input.flag_type);
    Object.assign(f, input, { updated_at: this.stamp() });
    this.syncFlagTypes(p);
    this.emit('PATIENT_FLAG_CMODIFY', 'patient_flag', { ...f, patient: patientId });
    return { ...f, patient: patientId };
  }

  removeFlag(patientId: number, flagId: number): Json {
    const { p, f } = this.flag(patientId, flagId);
    Object.assign(f, { archived: true, updated_at: this.stamp() });
    this.syncFlagTypes(p);
    this.emit('PATIENT_FLAG_CMODIFY', 'patient_flag', { ...f, patient: patientId });
    return { ...f, patient: patientId };
  }

  /**
   * DrChrono appointment ids are "usually numeric but not always": the control API (opts.allowId) may set a
   * string id to exercise that; DrChrono's own API never takes one.
   */
  createAppointment(fields: Json, opts: { allowId?: boolean } = {}): Json {
    const given = opts.allowId && typeof fields.id === 'string' && fields.id !== '' ? fields.id : undefined;
    if (given !== undefined && this.state.data.appointments.some((x) => x.id === given)) throw new SandboxHttpError(400, { id: ['appointment with this id already exists.'] });
    const id = given ?? String(this.state.data.nextAppointmentId++);
    const seq = given === undefined ? Number(id) % 97 : this.state.data.appointments.length % 97;
    const base = buildAppointment(id, seq, this.clock.now(), null, { status: 'Confirmed' });
    const a = { ...base, ...writable(fields), id, deleted_flag: false, created_at: this.stamp(), updated_at: this.stamp(), extended_updated_at: this.stamp() };
    this.checkAppointment(a);
    this.state.data.appointments.push(a);
    this.emit('APPOINTMENT_CREATE', 'appointment', a);
    return a;
  }

  modifyAppointment(id: string, fields: Json): Json {
    const a = this.appointment(id);
    const next = { ...a, ...writable(fields), updated_at: this.stamp(), extended_updated_at: this.stamp() };
    this.checkAppointment(next, new Set(Object.keys(writable(fields))));
    Object.assign(a, next);
    this.emit('APPOINTMENT_MODIFY', 'appointment', a);
    return a;
  }

  /**
   * Soft delete: the appointment stays readable with deleted_flag true, and APPOINTMENT_DELETE carries it
   * (our assumption; DrChrono does not document the delete payload).
   */
  deleteAppointment(id: string): Json {
    const a = this.appointment(id);
    Object.assign(a, { deleted_flag: true, updated_at: this.stamp(), extended_updated_at: this.stamp() });
    this.emit('APPOINTMENT_DELETE', 'appointment', a);
    return a;
  }

  /** Doctors have no webhook in DrChrono; an edit is visible only to readers of /api/doctors. */
  modifyDoctor(id: number, fields: Json): Json {
    const doc = this.state.data.doctors.find((x) => x.id === id);
    if (!doc) throw new SandboxHttpError(404, { detail: 'Not found.' });
    Object.assign(doc, writable(fields));
    this.persist();
    return doc;
  }

  /** Appointment profiles have no webhook either; a rename changes no appointment's updated_at. */
  modifyProfile(id: number, fields: Json): Json {
    const prof = this.state.data.profiles.find((x) => x.id === id);
    if (!prof) throw new SandboxHttpError(404, { detail: 'Not found.' });
    Object.assign(prof, writable(fields));
    this.persist();
    return prof;
  }

  // ------------------------------------------------------------ API writes
  //
  // Writes through DrChrono's API (POST/PUT/PATCH/DELETE /api/patients, /api/appointments) are checked as
  // DrChrono's Django REST framework serializers check them (write-rules.ts): every bad field answered at once
  // in DRF's format, 409 for an overlapping appointment unless allow_overlapping, and a created object holds
  // what was sent plus blanks. They fire the same webhooks, with the same updated_at handling, as the control API.

  private chartIds(): Set<string> {
    return new Set(this.state.data.patients.map((p) => String(p.chart_id ?? '')).filter((c) => c !== ''));
  }

  private refs(kind: RefKind, id: number): boolean {
    const d = this.state.data;
    switch (kind) {
      case 'doctor':
        return d.doctors.some((x) => x.id === id);
      case 'patient':
        return d.patients.some((x) => x.id === id);
      case 'profile':
        return d.profiles.some((x) => x.id === id);
      case 'office':
        return this.liveOffice(id) !== undefined;
    }
  }

  /** A non-archived office (**assumption**: an archived office, which "should not be used", is refused like an unknown one). */
  private liveOffice(id: unknown): Json | undefined {
    return (this.state.data.offices ?? []).find((o) => o.id === id && o.archived !== true);
  }

  private validate(entity: 'patient' | 'appointment', body: unknown, mode: WriteMode): Json {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SandboxHttpError(400, { non_field_errors: [MSG.dict(body)] });
    }
    const r = validateFields(entity, body as Json, mode, (k, id) => this.refs(k, id));
    if (!r.ok) throw new SandboxHttpError(400, r.errors);
    return r.fields;
  }

  /** `POST /api/patients`. */
  apiCreatePatient(body: unknown): Json {
    const fields = this.validate('patient', body, 'create');
    const chartId = typeof fields.chart_id === 'string' && fields.chart_id !== '' ? fields.chart_id : deriveChartId(fields.first_name, fields.last_name, this.chartIds());
    const p = newPatient(this.state.data.nextPatientId++, fields, chartId, this.stamp());
    this.state.data.patients.push(p);
    this.emit('PATIENT_CREATE', 'patient', p);
    return p;
  }

  /** `PUT` (mode update: doctor and gender required) or `PATCH` (partial) `/api/patients/{id}`. */
  apiUpdatePatient(id: number, body: unknown, mode: Exclude<WriteMode, 'create'>): Json {
    const p = this.patient(id);
    const fields = this.validate('patient', body, mode);
    Object.assign(p, fields, { updated_at: this.stamp() });
    this.emit('PATIENT_MODIFY', 'patient', p);
    return p;
  }

  /** `POST /api/appointments`. */
  apiCreateAppointment(body: unknown): Json {
    const fields = this.validate('appointment', body, 'create');
    const profile = typeof fields.profile === 'number' ? this.state.data.profiles.find((x) => x.id === fields.profile) : undefined;
    const errors: FieldErrors = {};
    // DrChrono: duration is "optional if profile is provided" (the profile's duration is the default).
    if (fields.duration === undefined && typeof profile?.duration !== 'number') errors.duration = [MSG.required];
    const a = newAppointment(String(this.state.data.nextAppointmentId), fields, profile, this.stamp());
    this.checkApiAppointment(a, new Set(Object.keys(fields)), errors, fields.allow_overlapping === true, 'create');
    this.state.data.nextAppointmentId++;
    this.state.data.appointments.push(a);
    this.emit('APPOINTMENT_CREATE', 'appointment', a);
    return a;
  }

  /** `PUT` / `PATCH /api/appointments/{id}`: 409 when the moved appointment overlaps another. */
  apiUpdateAppointment(id: string, body: unknown, mode: Exclude<WriteMode, 'create'>): Json {
    const a = this.appointment(id);
    const fields = this.validate('appointment', body, mode);
    const next = { ...a, ...fields };
    this.checkApiAppointment(next, new Set(Object.keys(fields)), {}, fields.allow_overlapping === true, mode);
    Object.assign(a, fields, { updated_at: this.stamp(), extended_updated_at: this.stamp() });
    this.emit('APPOINTMENT_MODIFY', 'appointment', a);
    return a;
  }

  /**
   * `DELETE /api/appointments/{id}`: the soft delete of the control API (deleted_flag, APPOINTMENT_DELETE).
   * **Assumption:** deleting an already deleted appointment answers 204 again and changes nothing (no webhook).
   */
  apiDeleteAppointment(id: string): void {
    const a = this.appointment(id);
    if (a.deleted_flag === true) return;
    this.deleteAppointment(id);
  }

  /**
   * Cross-field rules on the appointment as it would be stored: a null patient only for breaks, the exam room one
   * of the office's, then (400s first) the overlap check when the slot is new or moved.
   */
  private checkApiAppointment(a: Json, sent: ReadonlySet<string>, errors: FieldErrors, allowOverlap: boolean, mode: WriteMode): void {
    const all = mode !== 'partial';
    if ((all || sent.has('patient') || sent.has('appt_is_break')) && a.patient === null && a.appt_is_break !== true && !errors.patient) {
      errors.patient = [MSG.breakOrPatient];
    }
    if (all || sent.has('office') || sent.has('exam_room')) {
      const office = this.liveOffice(a.office);
      const rooms = ((office?.exam_rooms as Json[] | undefined) ?? []).map((r) => r.index);
      // DrChrono does not publish this message; an unknown office is reported on `office` already.
      if (office && !rooms.includes(a.exam_room)) errors.exam_room = [MSG.examRoom];
    }
    if (Object.keys(errors).length > 0) throw new SandboxHttpError(400, errors);
    const moved = all || ['scheduled_time', 'duration', 'office', 'exam_room', 'appt_is_break'].some((f) => sent.has(f));
    if (moved && !allowOverlap && findOverlap(a, this.state.data.appointments) !== undefined) {
      throw new SandboxHttpError(409, { detail: MSG.overlap });
    }
  }

  private checkPatient(p: Json): void {
    const r = PatientSchema.safeParse(p);
    if (!r.success) throw new SandboxHttpError(400, { detail: 'invalid patient fields', fields: r.error.issues.map((i) => i.path.join('.')) });
    if (!this.state.data.doctors.some((d) => d.id === p.doctor)) throw new SandboxHttpError(400, { doctor: ['Invalid pk - object does not exist.'] });
  }

  /**
   * `changed`: on a PATCH, the fields it sets. DrChrono's API is Django REST framework, whose partial updates
   * validate only the fields given, so an appointment whose patient was deleted can still be edited (its stale
   * reference is not re-checked); a create or PUT (no `changed`) checks every reference.
   */
  private checkAppointment(a: Json, changed?: ReadonlySet<string>): void {
    const r = AppointmentSchema.safeParse(a);
    if (!r.success) throw new SandboxHttpError(400, { detail: 'invalid appointment fields', fields: r.error.issues.map((i) => i.path.join('.')) });
    const d = this.state.data;
    const checks = (field: string) => !changed || changed.has(field);
    if (checks('doctor') && !d.doctors.some((x) => x.id === a.doctor)) throw new SandboxHttpError(400, { doctor: ['Invalid pk - object does not exist.'] });
    if ((checks('patient') || checks('appt_is_break')) && a.patient === null && a.appt_is_break !== true) throw new SandboxHttpError(400, { patient: ['This field is required unless appt_is_break.'] });
    if (checks('patient') && a.patient !== null && !d.patients.some((x) => x.id === a.patient)) throw new SandboxHttpError(400, { patient: ['Invalid pk - object does not exist.'] });
    if (checks('profile') && a.profile != null && !d.profiles.some((x) => x.id === a.profile)) throw new SandboxHttpError(400, { profile: ['Invalid pk - object does not exist.'] });
  }
}

const READ_ONLY = new Set(['id', 'updated_at', 'created_at', 'extended_updated_at', 'deleted_flag']);
function writable(fields: Json): Json {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !READ_ONLY.has(k)));
}

