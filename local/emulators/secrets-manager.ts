import { createServer, type ServerResponse } from 'node:http';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { listen, type ListeningServer } from '../http/listen';
import { readRequestBody } from '../http/read-body';
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

export type SecretsManagerEmulator = ListeningServer;

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
      const read = await readRequestBody(req, MAX_REQUEST_BYTES);
      if (read.kind === 'aborted') {
        res.destroy();
        return;
      }
      if (read.kind === 'too-large') {
        fault(res, 'InvalidRequestException', 'Request body too large.', 413);
        return;
      }
      let body: unknown;
      try {
        body = read.body.length === 0 ? {} : JSON.parse(read.body.toString('utf8'));
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
      // Nothing left to answer (the socket failed while replying); the emulator must not crash.
      res.destroy();
    });
  });

  return listen(server, opts.port, host);
}
