import type { IncomingMessage } from 'node:http';

/** What reading a request body came to. */
export type BodyRead = { kind: 'body'; body: Buffer } | { kind: 'too-large' } | { kind: 'aborted' };

/**
 * Reads a request body of at most `maxBytes` for the local servers. Past the limit (declared or actual) it keeps
 * draining but stores nothing, so the client is still reading when we answer 413. A client that goes away
 * mid-body is 'aborted': there is no one left to answer, and it must never become an unhandled rejection.
 */
export async function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  let tooLarge = Number(req.headers['content-length'] ?? '0') > maxBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk as Buffer);
    }
  } catch {
    return { kind: 'aborted' };
  }
  if (tooLarge) return { kind: 'too-large' };
  return { kind: 'body', body: Buffer.concat(chunks) };
}
