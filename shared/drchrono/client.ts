import type { AxiosResponse } from 'axios';
import type * as z from 'zod/mini';
import { DrChronoConflictError, DrChronoError, DrChronoValidationError, parseFieldErrors } from './errors';
import { checkSince, dateRangeValue } from './list-filters';
import {
  AppointmentProfileSchema,
  AppointmentSchema,
  DoctorSchema,
  OfficeSchema,
  PageSchema,
  PatientFlagTypeSchema,
  PatientSchema,
  UserProfileSchema,
  type Appointment,
  type AppointmentProfile,
  type Doctor,
  type Office,
  type Patient,
  type PatientFlagType,
  type UserProfile,
} from './schemas';
import { AuthorizedRequester, parseBody, resolveBaseUrl, type CallInfo, type RequestOptions, type SendOptions } from './transport';

export type { CallInfo };

export interface DrChronoClientOptions extends RequestOptions {
  /** Defaults to env DRCHRONO_BASE_URL, then https://drchrono.com. */
  baseUrl?: string;
}

export interface ListPatientsOptions {
  /** Only patients updated since this date or timestamp (DrChrono `since`). */
  since?: string;
  verbose?: boolean;
  pageSize?: number;
}

export interface ListAppointmentsOptions {
  since?: string;
  /** Inclusive dates, YYYY-MM-DD; sent as DrChrono's `date_range=start/end`. */
  dateRange?: { start: string; end: string };
  verbose?: boolean;
  pageSize?: number;
}

/**
 * Page-size ceilings from DrChrono's docs: 250 for most lists, 20 for appointments, and `verbose=true`
 * lowers any list to at most 50. We always send an explicit page_size within those ceilings.
 */
export const PAGE_SIZE_MAX = { default: 250, appointments: 20, verbose: 50 } as const;

export function effectivePageSize(endpointMax: number, verbose: boolean, requested?: number): number {
  const max = verbose ? Math.min(endpointMax, PAGE_SIZE_MAX.verbose) : endpointMax;
  if (requested === undefined) return max;
  if (!Number.isInteger(requested) || requested < 1) throw new TypeError('pageSize must be a positive integer');
  return Math.min(requested, max);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class DrChronoClient {
  private readonly baseUrl: string;
  private readonly origin: string;
  private readonly requester: AuthorizedRequester;

  constructor(opts: DrChronoClientOptions) {
    this.baseUrl = resolveBaseUrl(opts.baseUrl);
    this.origin = new URL(this.baseUrl).origin;
    this.requester = new AuthorizedRequester(opts);
  }

  /**
   * DrChrono answers `/api/users/current` with a 302 to `/api/users/{id}`. The follow is ours: same origin only,
   * same method, Authorization kept.
   */
  async currentUser(): Promise<UserProfile> {
    const first = await this.send(`${this.baseUrl}/api/users/current`, { method: 'GET', path: '/api/users/current' }, true);
    if (!REDIRECTS.has(first.status)) return parseBody(UserProfileSchema, first.data, { method: 'GET', path: '/api/users/current' });
    const info = { method: 'GET', path: '/api/users/{id}' };
    const location = first.headers.location;
    if (typeof location !== 'string' || location === '') {
      throw new DrChronoError('GET /api/users/current: redirect without Location', { ...info, status: first.status });
    }
    const target = this.sameOrigin(new URL(location, `${this.baseUrl}/api/users/current`).toString(), info);
    const res = await this.send(target, info);
    return parseBody(UserProfileSchema, res.data, info);
  }

  getPatient(id: number | string, o: { verbose?: boolean } = {}): Promise<Patient> {
    return this.getOne(`/api/patients/${encodeId(id)}`, '/api/patients/{id}', PatientSchema, verboseQuery(o.verbose));
  }

  listPatients(o: ListPatientsOptions = {}): AsyncIterable<Patient> {
    return this.list('/api/patients', PatientSchema, patientsQuery(o));
  }

  /**
   * One page of `/api/patients`: the first for these options, or the page at `cursor` (a `next` link a
   * previous page returned). Lets reconcile and the deletion check persist their place between invocations.
   */
  patientsPage(o: ListPatientsOptions, cursor?: string | null): Promise<ListPage<Patient>> {
    return this.onePage('/api/patients', PatientSchema, patientsQuery(o), cursor);
  }

  getAppointment(id: number | string, o: { verbose?: boolean } = {}): Promise<Appointment> {
    return this.getOne(`/api/appointments/${encodeId(id)}`, '/api/appointments/{id}', AppointmentSchema, verboseQuery(o.verbose));
  }

  /** DrChrono requires `since` or `date_range` (or `date`) on this list. */
  listAppointments(o: ListAppointmentsOptions): AsyncIterable<Appointment> {
    return this.list('/api/appointments', AppointmentSchema, appointmentsQuery(o));
  }

  /** One page of `/api/appointments`, as patientsPage. */
  appointmentsPage(o: ListAppointmentsOptions, cursor?: string | null): Promise<ListPage<Appointment>> {
    return this.onePage('/api/appointments', AppointmentSchema, appointmentsQuery(o), cursor);
  }

  getDoctor(id: number | string): Promise<Doctor> {
    return this.getOne(`/api/doctors/${encodeId(id)}`, '/api/doctors/{id}', DoctorSchema);
  }

  listDoctors(): AsyncIterable<Doctor> {
    return this.list('/api/doctors', DoctorSchema, pageSizeQuery());
  }

  /** `/api/offices?doctor=`: the doctor's offices (the write API picks the default office of an appointment create). */
  listOffices(o: { doctor: number | string }): AsyncIterable<Office> {
    const q = pageSizeQuery();
    q.set('doctor', String(o.doctor));
    return this.list('/api/offices', OfficeSchema, q);
  }

  listAppointmentProfiles(): AsyncIterable<AppointmentProfile> {
    return this.list('/api/appointment_profiles', AppointmentProfileSchema, pageSizeQuery());
  }

  listPatientFlagTypes(): AsyncIterable<PatientFlagType> {
    return this.list('/api/patient_flag_types', PatientFlagTypeSchema, pageSizeQuery());
  }

  // ---- Writes (write-back, docs/write-back.md). Bodies are DrChrono's field names; never logged. ----

  /** `GET /api/patients?chart_id=`: every patient with exactly this Chart ID (DrChrono does not keep it unique). */
  async findPatientsByChartId(chartId: string): Promise<Patient[]> {
    const q = new URLSearchParams({ chart_id: chartId, page_size: String(PAGE_SIZE_MAX.default) });
    const found: Patient[] = [];
    for await (const p of this.list('/api/patients', PatientSchema, q)) found.push(p);
    return found;
  }

  /**
   * `GET /api/appointments?date=&doctor=&patient=`: the candidates a create that may have been applied is looked
   * for among (the write-back worker adopts a match instead of POSTing again).
   */
  async findAppointments(o: { date: string; doctor: number; patient?: number | null }): Promise<Appointment[]> {
    const q = new URLSearchParams({ date: o.date, doctor: String(o.doctor) });
    if (typeof o.patient === 'number') q.set('patient', String(o.patient));
    q.set('page_size', String(PAGE_SIZE_MAX.appointments));
    const found: Appointment[] = [];
    for await (const a of this.list('/api/appointments', AppointmentSchema, q)) found.push(a);
    return found;
  }

  /** POST /api/patients → 201 with the created patient (the same serializer as GET). */
  async createPatient(payload: Record<string, unknown>): Promise<Patient> {
    const info = { method: 'POST', path: '/api/patients' };
    const res = await this.requester.write('POST', `${this.baseUrl}/api/patients`, info, payload, writeErrors(info));
    return parseBody(PatientSchema, res.data, info);
  }

  /** PATCH /api/patients/{id} → 204, no body: read the patient back for its new state. */
  async updatePatient(id: number | string, payload: Record<string, unknown>): Promise<void> {
    const info = { method: 'PATCH', path: '/api/patients/{id}' };
    await this.requester.write('PATCH', `${this.baseUrl}/api/patients/${encodeId(id)}`, info, payload, writeErrors(info));
  }

  /** POST /api/appointments → 201 with the created appointment. 409 when it overlaps (no `allow_overlapping`). */
  async createAppointment(payload: Record<string, unknown>): Promise<Appointment> {
    const info = { method: 'POST', path: '/api/appointments' };
    const res = await this.requester.write('POST', `${this.baseUrl}/api/appointments`, info, payload, writeErrors(info));
    return parseBody(AppointmentSchema, res.data, info);
  }

  /** PATCH /api/appointments/{id} → 204, no body. */
  async updateAppointment(id: number | string, payload: Record<string, unknown>): Promise<void> {
    const info = { method: 'PATCH', path: '/api/appointments/{id}' };
    await this.requester.write('PATCH', `${this.baseUrl}/api/appointments/${encodeId(id)}`, info, payload, writeErrors(info));
  }

  /** DELETE /api/appointments/{id} → 204. */
  async deleteAppointment(id: number | string): Promise<void> {
    const info = { method: 'DELETE', path: '/api/appointments/{id}' };
    await this.requester.write('DELETE', `${this.baseUrl}/api/appointments/${encodeId(id)}`, info, undefined, writeErrors(info));
  }

  private async getOne<S extends z.ZodMiniType>(path: string, template: string, schema: S, q?: URLSearchParams): Promise<z.infer<S>> {
    const info = { method: 'GET', path: template };
    const qs = q && q.size > 0 ? `?${q.toString()}` : '';
    const res = await this.send(`${this.baseUrl}${path}${qs}`, info);
    return parseBody(schema, res.data, info);
  }

  /** Follows `next` until it is null. Each item is validated; a bad item fails the iteration with its index path. */
  private list<S extends z.ZodMiniType>(path: string, schema: S, q: URLSearchParams): AsyncIterable<z.infer<S>> {
    const info = { method: 'GET', path };
    const first = `${this.baseUrl}${path}?${q.toString()}`;
    return {
      [Symbol.asyncIterator]: async function* (this: DrChronoClient) {
        const seen = new Set<string>();
        let url: string | null | undefined = first;
        while (url) {
          if (seen.has(url)) throw new DrChronoError(`GET ${path}: pagination loops`, info);
          seen.add(url);
          const res = await this.send(url, info);
          const page = parseBody(PageSchema, res.data, info);
          for (let i = 0; i < page.results.length; i++) {
            yield parseBody(schema, page.results[i], { ...info }) as z.infer<S>;
          }
          url = page.next ? this.sameOrigin(new URL(page.next, first).toString(), info) : null;
        }
      }.bind(this),
    };
  }

  private async onePage<S extends z.ZodMiniType>(path: string, schema: S, q: URLSearchParams, cursor?: string | null): Promise<ListPage<z.infer<S>>> {
    const info = { method: 'GET', path };
    const first = `${this.baseUrl}${path}?${q.toString()}`;
    // A stored cursor is only ever followed to DrChrono's own origin, like a `next` link.
    const url = cursor ? this.sameOrigin(new URL(cursor, first).toString(), info) : first;
    const res = await this.send(url, info);
    const page = parseBody(PageSchema, res.data, info);
    const results = page.results.map((r) => parseBody(schema, r, info) as z.infer<S>);
    return { results, next: page.next ? this.sameOrigin(new URL(page.next, first).toString(), info) : null };
  }

  /** Our token only ever goes to the configured DrChrono origin. */
  private sameOrigin(url: string, info: CallInfo): string {
    if (new URL(url).origin !== this.origin) {
      throw new DrChronoError(`${info.method} ${info.path}: refusing to follow a link to another origin`, info);
    }
    return url;
  }

  /** GETs are idempotent, so the requester may retry them. */
  private send(url: string, info: CallInfo, acceptRedirect = false): Promise<AxiosResponse> {
    return this.requester.send('GET', url, info, acceptRedirect ? { accept: (res) => REDIRECTS.has(res.status) } : {});
  }
}

/** A write's refusals: 400 with DRF field messages, 409 overlap. Other statuses map as for reads. */
function writeErrors(info: CallInfo): SendOptions {
  return {
    errorFor: (res) => {
      if (res.status === 400) return new DrChronoValidationError(parseFieldErrors(res.data), { ...info, status: 400 });
      if (res.status === 409) return new DrChronoConflictError({ ...info, status: 409 });
      return undefined;
    },
  };
}

/** One page of a list and the link to the next one (null on the last page). */
export interface ListPage<T> {
  results: T[];
  next: string | null;
}

function patientsQuery(o: ListPatientsOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (o.since !== undefined) q.set('since', checkSince(o.since));
  if (o.verbose) q.set('verbose', 'true');
  q.set('page_size', String(effectivePageSize(PAGE_SIZE_MAX.default, !!o.verbose, o.pageSize)));
  return q;
}

function appointmentsQuery(o: ListAppointmentsOptions): URLSearchParams {
  if (o.since === undefined && o.dateRange === undefined) throw new TypeError('listAppointments needs since or dateRange');
  const q = new URLSearchParams();
  if (o.since !== undefined) q.set('since', checkSince(o.since));
  if (o.dateRange !== undefined) q.set('date_range', dateRangeValue(o.dateRange));
  if (o.verbose) q.set('verbose', 'true');
  q.set('page_size', String(effectivePageSize(PAGE_SIZE_MAX.appointments, !!o.verbose, o.pageSize)));
  return q;
}

/**
 * One path segment. Appointment ids are "usually numeric but not always": encodeURIComponent escapes '/', '?',
 * '#', '%', spaces and non-ASCII. Only "." and ".." cannot be sent (URL parsers resolve them, even as %2E).
 */
function encodeId(id: number | string): string {
  const s = String(id);
  if (s === '' || s === '.' || s === '..') throw new TypeError('invalid DrChrono id');
  return encodeURIComponent(s);
}

function verboseQuery(verbose?: boolean): URLSearchParams | undefined {
  return verbose ? new URLSearchParams({ verbose: 'true' }) : undefined;
}

function pageSizeQuery(): URLSearchParams {
  return new URLSearchParams({ page_size: String(PAGE_SIZE_MAX.default) });
}
