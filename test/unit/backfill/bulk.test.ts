import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BulkListExpiredError, DrChronoBulkClient, bulkListQuery } from '../../../shared/drchrono/bulk';
import { ApiBudgetExhaustedError } from '../../../shared/drchrono/errors';
import { BULK_READY_AFTER_MS, bulkList, clearBulkLists } from '../../../local/drchrono-sandbox/bulk';
import type { SandboxData } from '../../../local/drchrono-sandbox/types';

describe('bulk list query', () => {
  it('sends filters, the page and updated_at ordering', () => {
    const q = bulkListQuery({ page: 2, pageSize: 1000, verbose: true, since: '2026-01-01', dateRange: { start: '2026-01-01', end: '2026-03-31' } });
    expect(Object.fromEntries(q)).toEqual({ verbose: 'true', since: '2026-01-01', date_range: '2026-01-01/2026-03-31', page: '2', page_size: '1000', order_by: 'updated_at' });
  });

  it('refuses a since or dateRange that the paged lists refuse', () => {
    expect(() => bulkListQuery({ page: 1, pageSize: 10, since: '2026-01-01T10:00:00+02:00' })).toThrow(TypeError);
    expect(() => bulkListQuery({ page: 1, pageSize: 10, since: 'yesterday' })).toThrow(TypeError);
    expect(() => bulkListQuery({ page: 1, pageSize: 10, dateRange: { start: '2026-03-31', end: '2026-01-01' } })).toThrow(TypeError);
    expect(() => bulkListQuery({ page: 1, pageSize: 10, dateRange: { start: '2026-1-1', end: '2026-01-31' } })).toThrow(TypeError);
  });

  it('refuses page sizes DrChrono does not allow', () => {
    expect(() => bulkListQuery({ page: 1, pageSize: 1001 })).toThrow(TypeError);
    expect(() => bulkListQuery({ page: 0, pageSize: 10 })).toThrow(TypeError);
  });
});

describe('DrChronoBulkClient against an HTTP server', () => {
  let server: Server;
  let baseUrl: string;
  let requests: { method: string; url: string; auth?: string }[];
  let answer: (req: IncomingMessage) => { status: number; body: unknown };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
      const { status, body } = answer(req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    requests = [];
  });

  it('POSTs the page, polls until complete, and charges the budget hook for every request', async () => {
    let polls = 0;
    answer = (req) => {
      if (req.method === 'POST') return { status: 201, body: { status: 'In progress', uuid: 'u-1', description: 'x' } };
      polls++;
      return polls < 2
        ? { status: 200, body: { status: 'In progress', uuid: 'u-1' } }
        : { status: 200, body: { status: 'Complete', pagination: { count: 3, pages: 1, page_size: 1000, page: 1 }, results: [{ id: 1 }, { id: 2 }, { id: 3 }] } };
    };
    let charged = 0;
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok', beforeCall: async () => void charged++ });
    const uuid = await client.create('patients', { page: 1, pageSize: 1000, verbose: true });
    const page = await client.waitForPage('patients', uuid, [0, 0, 0]);
    expect(page).toEqual({ status: 'complete', count: 3, pages: 1, results: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual(['POST /api/patients_list', 'GET /api/patients_list', 'GET /api/patients_list']);
    expect(requests[1]?.url).toBe('/api/patients_list?uuid=u-1');
    expect(requests.every((r) => r.auth === 'Bearer tok')).toBe(true);
    expect(charged).toBe(3);
  });

  it('reports in-progress when the poll schedule runs out', async () => {
    answer = () => ({ status: 200, body: { status: 'In progress', uuid: 'u-2' } });
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok' });
    expect(await client.waitForPage('appointments', 'u-2', [0, 0])).toEqual({ status: 'in-progress' });
    expect(requests).toHaveLength(2);
  });

  it('turns "Invalid uuid specified" into BulkListExpiredError', async () => {
    answer = () => ({ status: 400, body: { detail: 'Invalid uuid specified' } });
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok' });
    await expect(client.waitForPage('patients', 'gone', [0])).rejects.toBeInstanceOf(BulkListExpiredError);
  });

  it('refuses an appointments list without since or dateRange before any request', async () => {
    answer = () => ({ status: 201, body: { uuid: 'u' } });
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok' });
    await expect(client.create('appointments', { page: 1, pageSize: 10 })).rejects.toBeInstanceOf(TypeError);
    expect(requests).toHaveLength(0);
  });

  it('retries a 5xx on the POST, charging the budget hook for every try', async () => {
    let posts = 0;
    answer = () => (++posts < 3 ? { status: 503, body: { detail: 'busy' } } : { status: 201, body: { uuid: 'u-3' } });
    let charged = 0;
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok', retryBaseDelayMs: 1, beforeCall: async () => void charged++ });
    expect(await client.create('patients', { page: 1, pageSize: 10 })).toBe('u-3');
    expect(requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
    expect(charged).toBe(3);
  });

  it('does not retry an expired uuid', async () => {
    answer = () => ({ status: 404, body: { detail: 'Invalid uuid specified' } });
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok', retryBaseDelayMs: 1 });
    await expect(client.poll('appointments', 'gone')).rejects.toBeInstanceOf(BulkListExpiredError);
    expect(requests).toHaveLength(1);
  });

  it('makes no request when the budget hook refuses', async () => {
    answer = () => ({ status: 201, body: { uuid: 'u' } });
    const client = new DrChronoBulkClient({ baseUrl, accessToken: async () => 'tok', beforeCall: async () => Promise.reject(new ApiBudgetExhaustedError(new Date())) });
    await expect(client.create('patients', { page: 1, pageSize: 10 })).rejects.toBeInstanceOf(ApiBudgetExhaustedError);
    expect(requests).toHaveLength(0);
  });
});

describe('sandbox bulk endpoints', () => {
  const data = {
    patients: [
      { id: 2, updated_at: '2026-11-02T10:00:00', doctor: 1, primary_insurance: { insurance_company: 'X' } },
      { id: 1, updated_at: '2026-11-01T10:00:00', doctor: 1, primary_insurance: { insurance_company: 'Y' } },
      { id: 3, updated_at: '2026-11-03T10:00:00', doctor: 1, primary_insurance: null },
    ],
    appointments: [],
  } as unknown as SandboxData;
  const T0 = Date.parse('2026-11-21T10:00:00Z');
  beforeEach(() => clearBulkLists());

  async function complete(uuid: string, nowMs: number) {
    await new Promise((r) => setTimeout(r, BULK_READY_AFTER_MS + 20));
    return bulkList('patients_list', 'GET', new URLSearchParams({ uuid }), data, 'app', nowMs);
  }

  it('serves pages of one snapshot ordered by updated_at, verbose fields only when asked', async () => {
    const q = (page: number) => new URLSearchParams({ page: String(page), page_size: '2', order_by: 'updated_at' });
    const p1 = bulkList('patients_list', 'POST', q(1), data, 'app', T0);
    expect(p1.status).toBe(201);
    expect(bulkList('patients_list', 'GET', new URLSearchParams({ uuid: String(p1.body.uuid) }), data, 'app', T0).body.status).toBe('In progress');
    const first = await complete(String(p1.body.uuid), T0);
    expect(first.body).toMatchObject({ status: 'Complete', pagination: { count: 3, pages: 2, page: 1 } });
    expect((first.body.results as { id: number }[]).map((r) => r.id)).toEqual([1, 2]);
    expect((first.body.results as Record<string, unknown>[])[0]).not.toHaveProperty('primary_insurance');
    const p2 = bulkList('patients_list', 'POST', q(2), data, 'app', T0 + 60_000);
    expect(((await complete(String(p2.body.uuid), T0 + 60_000)).body.results as { id: number }[]).map((r) => r.id)).toEqual([3]);
  });

  it('forgets a uuid after an hour and never shows it to another app', async () => {
    const p = bulkList('patients_list', 'POST', new URLSearchParams({ verbose: 'true' }), data, 'app', T0);
    const uuid = String(p.body.uuid);
    expect((await complete(uuid, T0 + 3_599_000)).body.status).toBe('Complete');
    expect(bulkList('patients_list', 'GET', new URLSearchParams({ uuid }), data, 'other-app', T0).status).toBe(400);
    expect(bulkList('patients_list', 'GET', new URLSearchParams({ uuid }), data, 'app', T0 + 3_601_000).body).toEqual({ detail: 'Invalid uuid specified' });
  });

  it('requires since, date or date_range for appointments', () => {
    expect(bulkList('appointments_list', 'POST', new URLSearchParams(), data, 'app', T0).status).toBe(400);
  });
});
