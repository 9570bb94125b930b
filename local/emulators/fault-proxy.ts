import { createServer, request as httpRequest } from 'node:http';
import * as z from 'zod/mini';
import { listen, type ListeningServer } from '../http/listen';
import { readRequestBody } from '../http/read-body';

/**
 * A fault-injecting HTTP proxy in front of an AWS emulator (DynamoDB Local, fauxqs). The handlers reach the
 * emulators through it (AWS_ENDPOINT_URL_DYNAMODB / _SQS in the platform process), so a test can make the next
 * N matching calls fail the way AWS fails them: an AWS-shaped JSON error the SDK turns into its own typed
 * exception (ProvisionedThroughputExceededException, ThrottlingException, InternalServerError...). The
 * platform's own pollers and the test process talk to the emulators directly and are never faulted.
 *
 * A rule matches on the X-Amz-Target operation (`DynamoDB_20120810.PutItem` is matched by `PutItem`) and,
 * optionally, on a resource name found in the request: a TableName anywhere in a DynamoDB request (transactions
 * and batches included) or the queue name at the end of an SQS QueueUrl.
 */
export const AWS_FAULT_KINDS = ['throttle', 'throughput', '500', '503'] as const;
export type AwsFaultKind = (typeof AWS_FAULT_KINDS)[number];

export const AwsFaultRuleSchema = z.strictObject({
  service: z.enum(['dynamodb', 'sqs']),
  /** Operation names without the target prefix, e.g. ["PutItem", "UpdateItem"]. */
  operations: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  /** A table name (DynamoDB) or queue name (SQS); omitted matches every resource. */
  resource: z.optional(z.string().check(z.minLength(1))),
  /** Only requests whose body contains this text (e.g. a team id), so a test's fault is not taken by another team's request. */
  bodyContains: z.optional(z.string().check(z.minLength(1))),
  kind: z.enum(AWS_FAULT_KINDS),
  count: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(10_000)), 1),
});
export type AwsFaultRule = z.input<typeof AwsFaultRuleSchema>;

export interface ActiveAwsFault {
  id: number;
  service: 'dynamodb' | 'sqs';
  operations: string[];
  resource?: string;
  bodyContains?: string;
  kind: AwsFaultKind;
  remaining: number;
  /** Requests this rule has failed so far. */
  hits: number;
}

/** The faults shared by both proxies, with a count of what was injected (kept across clear()). */
export class AwsFaults {
  private readonly rules: ActiveAwsFault[] = [];
  private nextId = 1;
  readonly injected: Record<string, number> = {};

  add(input: AwsFaultRule): ActiveAwsFault {
    const r = AwsFaultRuleSchema.parse(input);
    const rule: ActiveAwsFault = { id: this.nextId++, service: r.service, operations: r.operations, kind: r.kind, remaining: r.count, hits: 0, ...(r.resource ? { resource: r.resource } : {}), ...(r.bodyContains ? { bodyContains: r.bodyContains } : {}) };
    this.rules.push(rule);
    return rule;
  }

  list(): ActiveAwsFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Consumes one matching rule, if any. */
  take(service: 'dynamodb' | 'sqs', operation: string, resources: readonly string[], body = ''): ActiveAwsFault | undefined {
    const rule = this.rules.find(
      (r) =>
        r.service === service &&
        r.remaining > 0 &&
        r.operations.includes(operation) &&
        (!r.resource || resources.includes(r.resource)) &&
        (!r.bodyContains || body.includes(r.bodyContains)),
    );
    if (!rule) return undefined;
    rule.remaining--;
    rule.hits++;
    const key = `${service}.${operation}.${rule.kind}`;
    this.injected[key] = (this.injected[key] ?? 0) + 1;
    if (rule.remaining <= 0) this.rules.splice(this.rules.indexOf(rule), 1);
    return rule;
  }
}

/** Every TableName in a DynamoDB request body (single-table calls, TransactWriteItems, BatchWriteItem keys). */
function dynamoTables(body: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 6 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    for (const [k, x] of Object.entries(v)) {
      if (k === 'TableName' && typeof x === 'string') found.add(x);
      else if (k === 'RequestItems' && x && typeof x === 'object') for (const t of Object.keys(x)) found.add(t);
      // Item/Key/attribute values never hold table names; skip them (they can be large and deep).
      else if (k !== 'Item' && k !== 'Key' && k !== 'ExpressionAttributeValues') walk(x, depth + 1);
    }
  };
  walk(body, 0);
  return [...found];
}

function sqsQueues(body: unknown): string[] {
  const url = body && typeof body === 'object' ? (body as Record<string, unknown>).QueueUrl : undefined;
  return typeof url === 'string' ? [url.slice(url.lastIndexOf('/') + 1)] : [];
}

/** The error AWS answers for each kind; `__type` plus x-amzn-errortype make the SDK throw its typed exception. */
function errorFor(service: 'dynamodb' | 'sqs', kind: AwsFaultKind): { status: number; type: string; message: string } {
  switch (kind) {
    case 'throttle':
      return service === 'dynamodb'
        ? { status: 400, type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }
        : { status: 400, type: 'com.amazonaws.sqs#ThrottlingException', message: 'Rate exceeded' };
    case 'throughput':
      return service === 'dynamodb'
        ? { status: 400, type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded.' }
        : { status: 400, type: 'com.amazonaws.sqs#RequestThrottled', message: 'Request is throttled.' };
    case '500':
      return { status: 500, type: service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810#InternalServerError' : 'com.amazonaws.sqs#InternalError', message: 'Internal server error (injected)' };
    case '503':
      return { status: 503, type: service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810#ServiceUnavailable' : 'com.amazonaws.sqs#ServiceUnavailable', message: 'Service unavailable (injected)' };
  }
}

export interface FaultProxy extends ListeningServer {
  target: string;
}

export async function startFaultProxy(opts: { service: 'dynamodb' | 'sqs'; target: string; faults: AwsFaults; port?: number }): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const server = createServer((req, res) => {
    void (async () => {
      const read = await readRequestBody(req, 64 * 1024 * 1024);
      if (read.kind !== 'body') return void res.destroy();
      const header = req.headers['x-amz-target'];
      const operation = typeof header === 'string' ? header.slice(header.indexOf('.') + 1) : '';
      if (operation && read.body.length > 0) {
        const text = read.body.toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const resources = opts.service === 'dynamodb' ? dynamoTables(parsed) : sqsQueues(parsed);
        const fault = opts.faults.take(opts.service, operation, resources, text);
        if (fault) {
          const e = errorFor(opts.service, fault.kind);
          const shortType = e.type.slice(e.type.indexOf('#') + 1);
          res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': shortType, 'x-amzn-requestid': `fault-${fault.id}-${fault.hits}` });
          res.end(JSON.stringify({ __type: e.type, message: e.message }));
          return;
        }
      }
      const headers = { ...req.headers, host: target.host };
      const upstream = httpRequest(
        { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end();
      });
      upstream.end(read.body);
    })().catch(() => res.destroy());
  });
  server.keepAliveTimeout = 65_000;
  const listening = await listen(server, opts.port ?? 0, '127.0.0.1');
  return { ...listening, target: opts.target };
}
