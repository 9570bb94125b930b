import type { AxiosResponse } from 'axios';
import * as z from 'zod/mini';
import type { DrChronoClientOptions } from './client';
import { DrChronoError } from './errors';
import { checkSince, dateRangeValue } from './list-filters';
import { AuthorizedRequester, parseBody, resolveBaseUrl, sleep, type CallInfo } from './transport';

/**
 * DrChrono's bulk list endpoints (`/api/patients_list`, `/api/appointments_list`), made for backfills:
 * up to 1000 objects per page. Asynchronous: POST with the filters and `page=N` answers 201 with a `uuid`;
 * GET `?uuid=` answers "In progress" until the page is generated, then `{status:"Complete", pagination, results}`.
 * A generated list is cached for 1 h; after that the uuid is "Invalid uuid specified" (BulkListExpiredError).
 *
 * Every request (POST, each poll, each retry) goes through `beforeCall`, so the team budget sees all of them.
 */
export type BulkListKind = 'patients' | 'appointments';

export const BULK_PAGE_SIZE_MAX = 1000;

const PATHS: Record<BulkListKind, string> = { patients: '/api/patients_list', appointments: '/api/appointments_list' };

export interface BulkListRequest {
  /** 1-based. */
  page: number;
  pageSize: number;
  verbose?: boolean;
  /** Updated since (DrChrono `since`): a date or a timestamp without offset. */
  since?: string;
  /** Appointments: inclusive YYYY-MM-DD dates, sent as `date_range=start/end`. */
  dateRange?: { start: string; end: string };
}

const CreatedSchema = z.looseObject({ uuid: z.string().check(z.minLength(1)), status: z.optional(z.string()) });

const PollSchema = z.looseObject({
  status: z.string(),
  uuid: z.optional(z.string()),
  pagination: z.optional(
    z.looseObject({ count: z.number().check(z.int(), z.minimum(0)), pages: z.number().check(z.int(), z.minimum(0)), page_size: z.optional(z.number().check(z.int())), page: z.optional(z.number().check(z.int())) })),
  results: z.optional(z.array(z.looseObject({ id: z.union([z.string(), z.number()]) }))),
});

export type BulkPoll =
  | { status: 'in-progress' }
  | { status: 'complete'; count: number; pages: number; results: BulkObject[] };

/** One object of a page, as DrChrono sent it (PHI: never logged). */
export type BulkObject = { id: string | number } & Record<string, unknown>;

/** The uuid is unknown or its cached list expired (1 h): generate the page again. */
export class BulkListExpiredError extends DrChronoError {
  constructor(info: CallInfo) {
    super(`${info.method} ${info.path}: bulk list uuid invalid or expired`, info);
    this.name = 'BulkListExpiredError';
  }
}

export function bulkListQuery(req: BulkListRequest): URLSearchParams {
  if (!Number.isInteger(req.page) || req.page < 1) throw new TypeError('page must be a positive integer');
  if (!Number.isInteger(req.pageSize) || req.pageSize < 1 || req.pageSize > BULK_PAGE_SIZE_MAX) {
    throw new TypeError(`pageSize must be an integer from 1 to ${BULK_PAGE_SIZE_MAX}`);
  }
  const q = new URLSearchParams();
  if (req.verbose) q.set('verbose', 'true');
  // The same filter checks as the paged lists: a malformed `since` must not silently widen a backfill.
  if (req.since !== undefined) q.set('since', checkSince(req.since));
  if (req.dateRange !== undefined) q.set('date_range', dateRangeValue(req.dateRange));
  q.set('page', String(req.page));
  q.set('page_size', String(req.pageSize));
  // DrChrono's own bulk example orders by updated_at; pages of one generated list stay consistent for 1 h.
  q.set('order_by', 'updated_at');
  return q;
}

export class DrChronoBulkClient {
  private readonly baseUrl: string;
  private readonly requester: AuthorizedRequester;

  constructor(opts: DrChronoClientOptions) {
    this.baseUrl = resolveBaseUrl(opts.baseUrl);
    this.requester = new AuthorizedRequester(opts);
  }

  /** Ask DrChrono to generate one page; returns the uuid to poll. Appointments need `since` or `dateRange`, as in the paged list. */
  async create(kind: BulkListKind, req: BulkListRequest): Promise<string> {
    if (kind === 'appointments' && req.since === undefined && req.dateRange === undefined) {
      throw new TypeError('appointments bulk list needs since or dateRange');
    }
    const info = { method: 'POST', path: PATHS[kind] };
    // A POST here only generates a list, so it is as safe to retry as a GET.
    const res = await this.requester.send('POST', `${this.baseUrl}${PATHS[kind]}?${bulkListQuery(req).toString()}`, info);
    return parseBody(CreatedSchema, res.data, info).uuid;
  }

  /** One poll of a generated page. */
  async poll(kind: BulkListKind, uuid: string): Promise<BulkPoll> {
    const info = { method: 'GET', path: PATHS[kind] };
    const url = `${this.baseUrl}${PATHS[kind]}?${new URLSearchParams({ uuid }).toString()}`;
    const res = await this.requester.send('GET', url, info, { errorFor: (r) => (isExpiredUuid(r) ? new BulkListExpiredError(info) : undefined) });
    const body = parseBody(PollSchema, res.data, info);
    if (body.status.toLowerCase() !== 'complete') return { status: 'in-progress' };
    if (!body.pagination || !body.results) throw new DrChronoError(`${info.method} ${info.path}: complete bulk page without pagination or results`, info);
    return { status: 'complete', count: body.pagination.count, pages: body.pagination.pages, results: body.results };
  }

  /**
   * Polls until complete, waiting `delaysMs[i]` before poll i. Resolves 'in-progress' when the schedule is used
   * up, so the caller can park the uuid and come back later instead of holding a Lambda open.
   */
  async waitForPage(kind: BulkListKind, uuid: string, delaysMs: readonly number[]): Promise<BulkPoll> {
    for (const delay of delaysMs) {
      await sleep(delay);
      const out = await this.poll(kind, uuid);
      if (out.status === 'complete') return out;
    }
    return { status: 'in-progress' };
  }
}

/** DrChrono's answer to a poll of an unknown or expired uuid. */
function isExpiredUuid(res: AxiosResponse): boolean {
  if (res.status !== 400 && res.status !== 404) return false;
  const body: unknown = res.data;
  const detail = body && typeof body === 'object' && 'detail' in body ? (body as { detail: unknown }).detail : undefined;
  return typeof detail === 'string' && /invalid uuid/i.test(detail);
}
