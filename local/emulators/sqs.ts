
/**
 * SQS via fauxqs, bound to loopback. fauxqs' own startFauxqs() always listens on 0.0.0.0, so we build its
 * app and listen ourselves. fauxqs keeps queues and messages in memory only: they do not survive a restart,
 * and the platform recreates the queues at every start.
 */
export interface SqsEmulator {
  url: string;
  stop(): Promise<void>;
}

/**
 * The characters AWS SQS accepts in a message body: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
 * #x10000-#x10FFFF. fauxqs 1.9 leaves out #x10000-#x10FFFF (it tests UTF-16 units without the `u` flag, so an
 * emoji's surrogate pair is refused), which would make the local platform refuse what AWS accepts.
 */
// eslint-disable-next-line no-control-regex
export const AWS_SQS_INVALID_BODY_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * fauxqs validates bodies with one exported RegExp (`INVALID_MESSAGE_BODY_CHAR` in dist/sqs/sqsTypes.js, used
 * by SendMessage and SendMessageBatch). Its package exports hide that module, so it is loaded by file URL (the
 * same module instance fauxqs uses) and its `test` is replaced by AWS's rule. Patched at run time, so `npm ci`
 * cannot undo it; if a fauxqs upgrade moves the RegExp, this throws instead of silently doing nothing.
 */
async function applyAwsCharacterRule(): Promise<void> {
  const typesUrl = new URL('./sqs/sqsTypes.js', import.meta.resolve('fauxqs')).href;
  const types = (await import(typesUrl)) as { INVALID_MESSAGE_BODY_CHAR?: unknown };
  const rule = types.INVALID_MESSAGE_BODY_CHAR;
  if (!(rule instanceof RegExp)) throw new Error('fauxqs: INVALID_MESSAGE_BODY_CHAR not found; update local/emulators/sqs.ts');
  Object.defineProperty(rule, 'test', { value: (s: string) => AWS_SQS_INVALID_BODY_CHAR.test(s), configurable: true });
}

export async function startSqsEmulator(opts: { port: number; host?: string }): Promise<SqsEmulator> {
  const { buildApp } = await import('fauxqs');
  await applyAwsCharacterRule();
  const app = buildApp({ logger: false, defaultRegion: 'us-east-1' });
  const host = opts.host ?? '127.0.0.1';
  const address = await app.listen({ port: opts.port, host });
  const port = new URL(address).port;
  return { url: `http://${host}:${port}`, stop: () => app.close() };
}
