import { createServer, request, type Server } from 'node:http';
import { listen, type ListeningServer } from '../../../local/http/listen';
import { readRequestBody, type BodyRead } from '../../../local/http/read-body';

const LIMIT = 1024;
let server: Server;
let listening: ListeningServer;
let reads: BodyRead[];
let readDone: Promise<void>;
let markRead: () => void;

beforeEach(async () => {
  reads = [];
  readDone = new Promise((r) => (markRead = r));
  server = createServer((req, res) => {
    void readRequestBody(req, LIMIT).then((read) => {
      reads.push(read);
      markRead();
      if (read.kind === 'aborted') res.destroy();
      else res.writeHead(read.kind === 'too-large' ? 413 : 200).end(read.kind === 'body' ? read.body : undefined);
    });
  });
  listening = await listen(server, 0, '127.0.0.1');
});

afterEach(() => listening.close());

describe('readRequestBody', () => {
  it('returns the whole body within the limit', async () => {
    const res = await fetch(listening.url, { method: 'POST', body: 'x'.repeat(LIMIT) });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBe(LIMIT);
  });

  it('reports too-large for a declared length over the limit, and the client still reads the answer', async () => {
    const res = await fetch(listening.url, { method: 'POST', body: Buffer.alloc(LIMIT * 64) });
    expect(res.status).toBe(413);
    expect(reads).toEqual([{ kind: 'too-large' }]);
  });

  it('reports too-large for a chunked body that grows past the limit', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(listening.url, { method: 'POST' }, (res) => resolve(res.statusCode));
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(LIMIT / 2));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('reports aborted, without throwing, when the client goes away mid-body', async () => {
    const req = request(listening.url, { method: 'POST', headers: { 'content-length': '1000' } });
    req.on('error', () => undefined);
    req.write('{"partial":');
    setTimeout(() => req.destroy(), 50);
    await readDone;
    expect(reads).toEqual([{ kind: 'aborted' }]);
  });
});

describe('listen', () => {
  it('rejects when the port is taken', async () => {
    await expect(listen(createServer(), listening.port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
