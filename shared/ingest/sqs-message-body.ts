/**
 * SQS message bodies may contain only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
 * JSON.stringify escapes control characters and (Node >= 12) lone surrogates, but writes U+FFFE and U+FFFF
 * raw, and SQS refuses the whole message. Every character outside the allowed set can only occur inside a JSON
 * string, where its \uXXXX escape means the same thing: so the encoded body is JSON text that parses to the same
 * value and that SQS always accepts.
 */
// eslint-disable-next-line no-control-regex
const SQS_DISALLOWED = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
// eslint-disable-next-line no-control-regex
const SQS_DISALLOWED_ONE = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * SQS's message size limit as this product counts it: the classic 256 KiB. AWS now allows up to 1 MiB, but a
 * queue's MaximumMessageSize and the Lambda event payload make 256 KiB the limit that holds everywhere.
 */
export const MAX_SQS_MESSAGE_BYTES = 256 * 1024;

/** Whether SQS accepts `text` as a message body or string attribute value (character set only). */
export function isSqsText(text: string): boolean {
  return !SQS_DISALLOWED_ONE.test(text);
}

function escapeChar(ch: string): string {
  // Only U+FFFE, U+FFFF and (defensively) lone surrogates reach here: single UTF-16 units.
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** JSON text of `value` that SQS accepts and JSON.parse turns back into `value`. */
export function encodeSqsMessageBody(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value has no JSON form');
  return json.replace(SQS_DISALLOWED, escapeChar);
}

/** What SQS counts against the size limit: the body plus each attribute's name, data type and value (UTF-8). */
export function sqsMessageBytes(body: string, attributes: Readonly<Record<string, { DataType?: string; StringValue?: string }>> = {}): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, attr] of Object.entries(attributes)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(attr.DataType ?? '', 'utf8') + Buffer.byteLength(attr.StringValue ?? '', 'utf8');
  }
  return size;
}

/** The message does not fit MAX_SQS_MESSAGE_BYTES once encoded: a 4xx for a delivery, never a retry. */
export class SqsMessageTooLargeError extends Error {
  override name = 'SqsMessageTooLargeError';
  constructor(readonly bytes: number) {
    super(`ingest message is ${bytes} bytes encoded, above the ${MAX_SQS_MESSAGE_BYTES}-byte SQS limit`);
  }
}
