import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SecretsManagerFault, SecretsManagerStore, type StoredSecret } from './secrets-manager-store';

/**
 * A local Secrets Manager that speaks AWS JSON 1.1 (`POST /`, `X-Amz-Target: secretsmanager.<Op>`), so the
 * real `@aws-sdk/client-secrets-manager` works against it unchanged. No npm package provides one.
 * With `persistPath` the secrets survive a restart (written atomically after every change).
 */
export interface SecretsManagerEmulatorOptions {
  port: number;
  host?: string;
  region?: string;
  persistPath?: string;
}

export interface SecretsManagerEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TARGET_PREFIX = 'secretsmanager.';
const MAX_REQUEST_BYTES = 1024 * 1024;

function persist(path: string, secrets: readonly StoredSecret[]): void {
  // tmp + rename: a crash mid-write never leaves a truncated file behind.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: 1, secrets }), { mode: 0o600 });
  renameSync(tmp, path);
}

function loadPersisted(path: string): StoredSecret[] {
  if (!existsSync(path)) return [];
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; secrets?: StoredSecret[] };
  if (parsed.version !== 1 || !Array.isArray(parsed.secrets)) {
    throw new Error(`${path} is not a secrets emulator state file; remove it or start with --clean`);
  }
  return parsed.secrets;
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/x-amz-json-1.1');
  if (errorType) res.setHeader('x-amzn-errortype', errorType);
  res.end(JSON.stringify(body));
}

function fault(res: ServerResponse, code: string, message: string, status = 400): void {
  reply(res, status, { __type: code, message }, code);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startSecretsManagerEmulator(opts: SecretsManagerEmulatorOptions): Promise<SecretsManagerEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const persistPath = opts.persistPath;
  if (persistPath) mkdirSync(dirname(persistPath), { recursive: true });
  const store = new SecretsManagerStore(opts.region ?? 'us-east-1', persistPath ? (s) => persist(persistPath, s) : undefined);
  if (persistPath) store.load(loadPersisted(persistPath));

  const server = createServer((req, res) => {
    void (async () => {
      const target = req.headers['x-amz-target'];
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
        fault(res, 'UnknownOperationException', 'Expected POST / with X-Amz-Target: secretsmanager.<Operation>.');
        return;
      }
      const raw = await readBody(req);
      if (raw === undefined) {
        fault(res, 'InvalidRequestException', 'Request body too large.', 413);
        return;
      }
      let body: unknown;
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        fault(res, 'SerializationException', 'Request body is not valid JSON.');
        return;
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        fault(res, 'SerializationException', 'Request body must be a JSON object.');
        return;
      }
      try {
        reply(res, 200, store.handle(target.slice(TARGET_PREFIX.length), body as Record<string, unknown>));
      } catch (err) {
        if (err instanceof SecretsManagerFault) fault(res, err.code, err.message);
        else fault(res, 'InternalServiceError', 'The local Secrets Manager emulator failed.', 500);
      }
    })().catch(() => {
      // The client went away mid-request (aborted body): nothing to answer, and the emulator must not crash.
      res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
