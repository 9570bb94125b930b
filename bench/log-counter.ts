import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Counts what each function PRINTS per invocation, as CloudWatch Logs would ingest it: every line written to
 * process.stdout/stderr (Powertools Logger and Metrics write there through their own Console) while an invocation
 * of that function is running. CloudWatch bills the UTF-8 bytes of each event plus 26 bytes of per-event overhead
 * (PutLogEvents: "the sum of all event messages in UTF-8, plus 26 bytes for each log event").
 *
 * Attribution: a middy `before` enters an AsyncLocalStorage store naming the function, so every write made in that
 * invocation's async chain (concurrent invocations included) sees its own store. Writes without a store (the
 * platform, the emulators, the sandbox) are not counted. A line is counted when its newline is written.
 * Benchmark-only.
 */
export const CLOUDWATCH_EVENT_OVERHEAD_BYTES = 26;

export interface FunctionLogCount {
  fn: string;
  /** Log events (lines). */
  events: number;
  /** UTF-8 bytes of the lines, without newline and without the per-event overhead. */
  bytes: number;
  /** Of which EMF metric lines (Powertools Metrics). */
  emfEvents: number;
  emfBytes: number;
}

export interface LogSnapshot {
  functions: FunctionLogCount[];
  /** Distinct metric name x dimension combinations seen in EMF lines: `namespace|metric|dim=value,...`. */
  metrics: string[];
}

interface InvocationStore {
  fn: string;
}

type Write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown) => boolean;

/** The distinct metrics one EMF line declares (each name under each dimension set, with the line's values). */
export function emfMetrics(line: string): string[] | undefined {
  if (!line.includes('"_aws"')) return undefined;
  let doc: { _aws?: { CloudWatchMetrics?: { Namespace?: string; Dimensions?: string[][]; Metrics?: { Name?: string }[] }[] } } & Record<string, unknown>;
  try {
    doc = JSON.parse(line) as typeof doc;
  } catch {
    return undefined;
  }
  const directives = doc._aws?.CloudWatchMetrics;
  if (!Array.isArray(directives)) return undefined;
  const out: string[] = [];
  for (const d of directives) {
    const sets = d.Dimensions && d.Dimensions.length > 0 ? d.Dimensions : [[]];
    for (const set of sets) {
      const dims = set.map((k) => `${k}=${String(doc[k])}`).join(',');
      for (const m of d.Metrics ?? []) out.push(`${d.Namespace ?? ''}|${m.Name ?? ''}|${dims}`);
    }
  }
  return out;
}

export class LogCounter {
  private readonly als = new AsyncLocalStorage<InvocationStore>();
  private counts = new Map<string, FunctionLogCount>();
  private metrics = new Set<string>();
  /** A write may end mid-line: the rest of the line is kept per invocation until its newline. */
  private readonly partial = new WeakMap<InvocationStore, string>();

  reset(): void {
    this.counts = new Map();
    this.metrics = new Set();
  }

  snapshot(): LogSnapshot {
    return { functions: [...this.counts.values()].map((c) => ({ ...c })), metrics: [...this.metrics].sort() };
  }

  /**
   * Middy middlewares that enter the function's store for the invocation. The first one only awaits: middy runs
   * synchronous `before`s in its caller's async context, and entering the store there would leak it into the
   * caller (the platform); after an await, middy continues in a context of this invocation alone, so the store
   * reaches the handler and every `after` (Powertools Metrics prints its EMF line in one) and nothing else.
   */
  middleware(fn: string): [{ before: () => Promise<void> }, { before: () => void }] {
    return [{ before: async () => undefined }, { before: () => this.als.enterWith({ fn }) }];
  }

  /** Runs `work` as an invocation of `fn` (for callers that are not middy handlers, and for tests). */
  run<T>(fn: string, work: () => Promise<T>): Promise<T> {
    return this.als.run({ fn }, work);
  }

  private entry(fn: string): FunctionLogCount {
    let c = this.counts.get(fn);
    if (!c) {
      c = { fn, events: 0, bytes: 0, emfEvents: 0, emfBytes: 0 };
      this.counts.set(fn, c);
    }
    return c;
  }

  private countLine(fn: string, line: string): void {
    if (line.trim() === '') return;
    const c = this.entry(fn);
    const bytes = Buffer.byteLength(line, 'utf8');
    c.events += 1;
    c.bytes += bytes;
    const metrics = emfMetrics(line);
    if (metrics) {
      c.emfEvents += 1;
      c.emfBytes += bytes;
      for (const m of metrics) this.metrics.add(m);
    }
  }

  /** Counts a chunk written while `store` is current. */
  record(chunk: unknown, encoding?: unknown): void {
    const store = this.als.getStore();
    if (!store) return;
    const text =
      typeof chunk === 'string'
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : '';
    const lines = ((this.partial.get(store) ?? '') + text).split('\n');
    this.partial.set(store, lines.pop() ?? '');
    for (const line of lines) this.countLine(store.fn, line);
  }

  /** Patches the write of the given streams (process.stdout and process.stderr) once for the whole process. */
  install(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): this {
    for (const stream of streams) {
      const s = stream as unknown as { write: Write };
      const original = s.write.bind(stream) as Write;
      s.write = (chunk, encodingOrCallback, callback) => {
        this.record(chunk, encodingOrCallback);
        return original(chunk, encodingOrCallback, callback);
      };
    }
    return this;
  }
}
