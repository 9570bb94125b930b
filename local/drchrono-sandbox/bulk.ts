import { randomUUID } from 'node:crypto';
import { serialize } from './serializer';
import type { Json, SandboxData } from './types';

/**
 * DrChrono's bulk list endpoints, `/api/patients_list` and `/api/appointments_list` (api-facts §4):
 *   POST ?<filters>&page=N&page_size<=1000  → 201 {status:"In progress", uuid, description}
 *   GET  ?uuid=…                            → "In progress" until generated, then
 *                                             {status:"Complete", pagination:{count,pages,page_size,page}, results}
 * A generated list is cached for 1 h (sandbox clock) per app and filter set, so the pages of one backfill come
 * from one snapshot; after that the uuid answers 400 {"detail":"Invalid uuid specified"}.
 */
export const BULK_AREAS = ['patients_list', 'appointments_list'] as const;
export type BulkArea = (typeof BULK_AREAS)[number];
export const BULK_MAX_PAGE_SIZE = 1000;
/** Real time a page takes to "generate", so clients exercise their poll loop. */
export const BULK_READY_AFTER_MS = 200;
const CACHE_MS = 3_600_000;

interface Snapshot {
  createdAtMs: number;
  items: Json[];
}

interface PageJob {
  uuid: string;
  clientId: string;
  area: BulkArea;
  createdAtMs: number;
  readyAtRealMs: number;
  items: Json[];
  page: number;
  pageSize: number;
}

const snapshots = new Map<string, Snapshot>();
const jobs = new Map<string, PageJob>();

export function isBulkArea(area: string): area is BulkArea {
  return (BULK_AREAS as readonly string[]).includes(area);
}

export interface BulkAnswer {
  status: number;
  body: Json;
}

function bad(detail: string): BulkAnswer {
  return { status: 400, body: { detail } };
}

function filtered(area: BulkArea, q: URLSearchParams, data: SandboxData): Json[] | BulkAnswer {
  const verbose = q.get('verbose') === 'true';
  const since = q.get('since');
  const doctor = q.get('doctor');
  if (area === 'patients_list') {
    let items = data.patients;
    if (since) items = items.filter((p) => String(p.updated_at) >= since);
    if (doctor !== null) items = items.filter((p) => String(p.doctor) === doctor);
    return items.map((p) => serialize('patient', p, verbose));
  }
  const range = q.get('date_range');
  const date = q.get('date');
  if (!since && !range && !date) return bad('One of since, date or date_range is required.');
  let items = data.appointments;
  if (since) items = items.filter((a) => String(a.updated_at) >= since);
  if (date) items = items.filter((a) => String(a.scheduled_time).slice(0, 10) === date);
  if (range) {
    const m = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(range);
    if (!m) return bad('date_range: Expected YYYY-MM-DD/YYYY-MM-DD.');
    items = items.filter((a) => {
      const day = String(a.scheduled_time).slice(0, 10);
      return day >= m[1]! && day <= m[2]!;
    });
  }
  if (doctor !== null) items = items.filter((a) => String(a.doctor) === doctor);
  return items.map((a) => serialize('appointment', a, verbose));
}

function ordered(items: Json[], orderBy: string | null): Json[] {
  if (orderBy !== 'updated_at' && orderBy !== '-updated_at') return items;
  const sign = orderBy.startsWith('-') ? -1 : 1;
  return [...items].sort((a, b) => sign * (String(a.updated_at).localeCompare(String(b.updated_at)) || String(a.id).localeCompare(String(b.id))));
}

/** One bulk-endpoint request. `nowMs` is the sandbox clock (cache expiry); readiness uses real time. */
export function bulkList(area: BulkArea, method: string, q: URLSearchParams, data: SandboxData, clientId: string, nowMs: number): BulkAnswer {
  if (method === 'POST') {
    const page = q.get('page') === null ? 1 : Number(q.get('page'));
    const pageSize = q.get('page_size') === null ? BULK_MAX_PAGE_SIZE : Number(q.get('page_size'));
    if (!Number.isInteger(page) || page < 1) return bad('page: A valid integer is required.');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > BULK_MAX_PAGE_SIZE) return bad(`page_size: must be 1 to ${BULK_MAX_PAGE_SIZE}.`);
    const filterKey = [...q].filter(([k]) => k !== 'page' && k !== 'page_size').sort(([a], [b]) => a.localeCompare(b));
    const key = `${clientId}|${area}|${JSON.stringify(filterKey)}`;
    let snap = snapshots.get(key);
    if (!snap || nowMs - snap.createdAtMs > CACHE_MS) {
      const items = filtered(area, q, data);
      if (!Array.isArray(items)) return items;
      snap = { createdAtMs: nowMs, items: ordered(items, q.get('order_by')) };
      snapshots.set(key, snap);
    }
    const uuid = randomUUID();
    jobs.set(uuid, { uuid, clientId, area, createdAtMs: snap.createdAtMs, readyAtRealMs: Date.now() + BULK_READY_AFTER_MS, items: snap.items, page, pageSize });
    return { status: 201, body: { status: 'In progress', uuid, description: `Generating ${area} page ${page}` } };
  }
  if (method === 'GET') {
    const uuid = q.get('uuid');
    const job = uuid ? jobs.get(uuid) : undefined;
    if (!job || job.clientId !== clientId || job.area !== area || nowMs - job.createdAtMs > CACHE_MS) return bad('Invalid uuid specified');
    if (Date.now() < job.readyAtRealMs) return { status: 200, body: { status: 'In progress', uuid: job.uuid } };
    const start = (job.page - 1) * job.pageSize;
    return {
      status: 200,
      body: {
        status: 'Complete',
        uuid: job.uuid,
        pagination: { count: job.items.length, pages: Math.ceil(job.items.length / job.pageSize), page_size: job.pageSize, page: job.page },
        results: job.items.slice(start, start + job.pageSize),
      },
    };
  }
  return { status: 405, body: { detail: `Method "${method}" not allowed.` } };
}

/** Forget every generated list (sandbox reset). */
export function clearBulkLists(): void {
  snapshots.clear();
  jobs.clear();
}
