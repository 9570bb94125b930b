/**
 * SQS via fauxqs, bound to loopback. fauxqs' own startFauxqs() always listens on 0.0.0.0, so we build its
 * app and listen ourselves. fauxqs keeps queues and messages in memory only: they do not survive a restart,
 * and the platform recreates the queues at every start.
 */
export interface SqsEmulator {
  url: string;
  stop(): Promise<void>;
}

export async function startSqsEmulator(opts: { port: number; host?: string }): Promise<SqsEmulator> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, defaultRegion: 'us-east-1' });
  const host = opts.host ?? '127.0.0.1';
  const address = await app.listen({ port: opts.port, host });
  const port = new URL(address).port;
  return { url: `http://${host}:${port}`, stop: () => app.close() };
}
