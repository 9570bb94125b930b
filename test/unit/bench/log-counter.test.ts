import middy from '@middy/core';
import { Writable } from 'node:stream';
import { emfMetrics, LogCounter } from '../../../bench/log-counter';

/** A stream that keeps nothing: the counter sees every write before it. */
const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });
const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LogCounter', () => {
  it('charges each line to the function whose invocation printed it, with two invocations overlapping', async () => {
    const out = sink();
    const counter = new LogCounter().install([out]);
    const handler = (name: string, lines: string[], pauseMs: number) =>
      middy(async () => {
        for (const l of lines) {
          await tick(pauseMs);
          out.write(`${l}\n`);
        }
      }).use(counter.middleware(name));
    const a = handler('webhook', ['{"a":1}', '{"a":22}', '{"a":333}'], 3);
    const b = handler('sync', ['{"level":"INFO","message":"batch"}'], 5);

    await Promise.all([a({}, {} as never), b({}, {} as never), (async () => { await tick(4); out.write('[local] platform line\n'); })()]);
    out.write('after the invocations\n');

    const byFn = Object.fromEntries(counter.snapshot().functions.map((f) => [f.fn, f]));
    expect(byFn.webhook).toMatchObject({ events: 3, bytes: 7 + 8 + 9 });
    expect(byFn.sync).toMatchObject({ events: 1, bytes: '{"level":"INFO","message":"batch"}'.length });
    expect(Object.keys(byFn).sort()).toEqual(['sync', 'webhook']);
  });

  it('counts what a middleware used before it prints in its after (Powertools Metrics flushes EMF there)', async () => {
    const out = sink();
    const counter = new LogCounter().install([out]);
    const handler = middy(async () => undefined)
      .use({ after: () => void out.write('{"_aws":{}}\n') })
      .use(counter.middleware('sync'));
    await handler({}, {} as never);
    expect(counter.snapshot().functions).toEqual([{ fn: 'sync', events: 1, bytes: 11, emfEvents: 0, emfBytes: 0 }]);
  });

  it('joins a line written in several chunks and counts UTF-8 bytes', async () => {
    const out = sink();
    const counter = new LogCounter().install([out]);
    await counter.run('oauth', async () => {
      out.write('{"m":"é');
      await tick(1);
      out.write('"}\n{"n":1}\n');
    });
    expect(counter.snapshot().functions).toEqual([{ fn: 'oauth', events: 2, bytes: Buffer.byteLength('{"m":"é"}') + 7, emfEvents: 0, emfBytes: 0 }]);
  });

  it('records EMF lines apart, with each metric name under each dimension set', async () => {
    const out = sink();
    const counter = new LogCounter().install([out]);
    const emf = JSON.stringify({
      _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'drchrono-sync', Dimensions: [['service']], Metrics: [{ Name: 'webhook_accepted', Unit: 'Count' }] }] },
      service: 'webhook',
      webhook_accepted: 1,
    });
    await counter.run('webhook', async () => void out.write(`${emf}\n`));
    const snap = counter.snapshot();
    expect(snap.functions[0]).toMatchObject({ events: 1, emfEvents: 1, emfBytes: Buffer.byteLength(emf) });
    expect(snap.metrics).toEqual(['drchrono-sync|webhook_accepted|service=webhook']);
  });

  it('reads no metric from a line that is not EMF', () => {
    expect(emfMetrics('{"level":"INFO","message":"x"}')).toBeUndefined();
    expect(emfMetrics('not json "_aws"')).toBeUndefined();
  });
});
