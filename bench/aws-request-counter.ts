import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { sqsBilledRequests } from './billing-units';

/**
 * Counts every HTTP request the AWS SDK sends from this process, by service and operation, at the one place all
 * SDK v3 clients share: @smithy/node-http-handler's NodeHttpHandler.handle (retries are separate requests, as AWS
 * bills them). DynamoDB requests are sent with ReturnConsumedCapacity=TOTAL so the emulator reports the capacity
 * units AWS would bill; SQS requests are billed per 64 KB chunk of the larger of request and response.
 * Benchmark-only: installed in the benchmark's platform process before any client sends.
 */
export interface OperationCount {
  service: string;
  operation: string;
  requests: number;
  errors: number;
  requestBytes: number;
  responseBytes: number;
  /** SQS only: billed requests (64 KB chunks). */
  sqsBilledRequests: number;
  /** DynamoDB only: capacity units reported by the emulator, or estimated for failed conditional writes. */
  readUnits: number;
  writeUnits: number;
}

interface SmithyRequest {
  headers: Record<string, string>;
  body?: unknown;
  hostname?: string;
}
interface SmithyResponse {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body?: unknown;
}
type Handle = (this: unknown, request: SmithyRequest, options?: unknown) => Promise<{ response: SmithyResponse }>;

/** Operation name under which ReceiveMessage calls that returned no message are counted. */
export const EMPTY_RECEIVE = 'ReceiveMessage(empty)';

const DDB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DDB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

function serviceOf(target: string | undefined, host: string | undefined): { service: string; operation: string } {
  const [prefix = '', op = 'unknown'] = (target ?? '').split('.');
  if (prefix.startsWith('DynamoDB')) return { service: 'dynamodb', operation: op };
  if (prefix === 'AmazonSQS') return { service: 'sqs', operation: op };
  if (prefix === 'secretsmanager') return { service: 'secretsmanager', operation: op };
  if (prefix === 'TrentService') return { service: 'kms', operation: op };
  return { service: host ?? 'unknown', operation: op };
}

function sumUnits(consumed: unknown): number {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((s: number, c: { CapacityUnits?: number }) => s + (typeof c.CapacityUnits === 'number' ? c.CapacityUnits : 0), 0);
}

/** JSON protocols send a string or a Uint8Array (smithy's JsonBytesStringAdapter). */
function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return undefined;
}

/** The table a DynamoDB request touches, without the stage prefix (drchrono-sync-local-records → records). */
function tableOf(req: Record<string, unknown>): string | undefined {
  const names =
    typeof req.TableName === 'string'
      ? [req.TableName]
      : req.RequestItems && typeof req.RequestItems === 'object'
        ? Object.keys(req.RequestItems)
        : Array.isArray(req.TransactItems)
          ? (req.TransactItems as Record<string, { TableName?: string }>[]).flatMap((t) => Object.values(t).map((x) => x.TableName ?? ''))
          : [];
  if (names.length === 0) return undefined;
  return [...new Set(names.map((n) => n.replace(/^drchrono-sync-[a-z0-9]+-/, '')))].sort().join('+');
}

async function readAll(body: unknown): Promise<Buffer> {
  if (!body || typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

export class AwsRequestCounter {
  private counts = new Map<string, OperationCount>();

  reset(): void {
    this.counts = new Map();
  }

  snapshot(): OperationCount[] {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }

  private entry(service: string, operation: string): OperationCount {
    const key = `${service}.${operation}`;
    let c = this.counts.get(key);
    if (!c) {
      c = { service, operation, requests: 0, errors: 0, requestBytes: 0, responseBytes: 0, sqsBilledRequests: 0, readUnits: 0, writeUnits: 0 };
      this.counts.set(key, c);
    }
    return c;
  }

  /** Patches NodeHttpHandler once for the whole process. */
  install(): this {
    const require = createRequire(import.meta.url);
    const { NodeHttpHandler } = require('@smithy/node-http-handler') as { NodeHttpHandler: { prototype: { handle: Handle } } };
    const original = NodeHttpHandler.prototype.handle;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counter = this;
    NodeHttpHandler.prototype.handle = async function (this: unknown, request: SmithyRequest, options?: unknown) {
      const { service, operation } = serviceOf(request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'], request.hostname);
      const isDdbCapacityOp = service === 'dynamodb' && (DDB_READS.has(operation) || DDB_WRITES.has(operation));
      const text = bodyText(request.body);
      let table: string | undefined;
      if (isDdbCapacityOp && text !== undefined) {
        const parsed = JSON.parse(text) as Record<string, unknown>;
        table = tableOf(parsed);
        if (parsed.ReturnConsumedCapacity === undefined) {
          request.body = JSON.stringify({ ...parsed, ReturnConsumedCapacity: 'TOTAL' });
          const lengthHeader = Object.keys(request.headers).find((h) => h.toLowerCase() === 'content-length');
          if (lengthHeader) request.headers[lengthHeader] = String(Buffer.byteLength(request.body as string));
        }
      }
      const sent = bodyText(request.body);
      const requestBytes = sent === undefined ? 0 : Buffer.byteLength(sent);
      // Counted once the answer is in, so a long poll still waiting is not counted under the wrong name.
      let out: { response: SmithyResponse };
      try {
        out = await original.call(this, request, options);
      } catch (err) {
        const c = counter.entry(service, operation);
        c.requests += 1;
        c.errors += 1;
        c.requestBytes += requestBytes;
        if (service === 'sqs') c.sqsBilledRequests += 1;
        throw err;
      }
      const body = await readAll(out.response.body);
      out.response.body = Readable.from([body]);
      // Empty long polls scale with time, not with events: kept apart so they can be reported as idle polling.
      const name =
        operation === 'ReceiveMessage' && !body.includes('"Messages"') ? EMPTY_RECEIVE : table !== undefined ? `${operation}[${table}]` : operation;
      const c = counter.entry(service, name);
      c.requests += 1;
      c.requestBytes += requestBytes;
      c.responseBytes += body.length;
      if (out.response.statusCode >= 400) c.errors += 1;
      if (service === 'sqs') c.sqsBilledRequests += sqsBilledRequests(Math.max(requestBytes, body.length));
      if (isDdbCapacityOp) {
        let units = 0;
        try {
          units = sumUnits((JSON.parse(body.toString('utf8') || '{}') as { ConsumedCapacity?: unknown }).ConsumedCapacity);
        } catch {
          units = 0;
        }
        // AWS bills a failed conditional write (at least 1 WRU); the emulator's error carries no capacity.
        if (units === 0 && out.response.statusCode >= 400 && DDB_WRITES.has(operation)) units = 1;
        if (DDB_WRITES.has(operation)) c.writeUnits += units;
        else c.readUnits += units;
      }
      return out;
    };
    return this;
  }
}
