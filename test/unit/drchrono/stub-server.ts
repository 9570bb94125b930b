import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A tiny DrChrono stand-in whose behaviour each test scripts; records every request it sees. */
export class StubServer {
  readonly seen: SeenRequest[] = [];
  handler: Handler = (_req, res) => res.writeHead(500).end();
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        this.handler(req, res, body);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Answers requests in order with the given responses; the last one repeats. */
  script(...responses: Array<{ status: number; body?: unknown; headers?: Record<string, string> } | 'hang'>): void {
    let i = 0;
    this.handler = (_req, res) => {
      const r = responses[Math.min(i++, responses.length - 1)]!;
      if (r === 'hang') return;
      json(res, r.status, r.body, r.headers);
    };
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

export function json(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text);
}
