import * as z from 'zod/mini';

/** Longest string id accepted, in characters (code points): at most 512 UTF-8 bytes, half a DynamoDB sort key. */
export const MAX_OBJECT_ID_CHARS = 128;

/**
 * A string DrChrono id is "printable text of bounded length": 1-128 characters, none a control character
 * (Unicode Cc: C0, DEL, C1) or an unpaired surrogate (no UTF-8 form, so no DynamoDB key), and not "." or ".."
 * (a URL path cannot carry those as a segment, even escaped). Spaces, '/', '#', '%' and any other script are fine:
 * the id is a DynamoDB sort key as is, one JSON string in the queue, encodeURIComponent'd in a URL, and escaped
 * by the CLI when printed.
 */
export const PRINTABLE_OBJECT_ID = new RegExp(`^[^\\p{Cc}\\p{Cs}]{1,${MAX_OBJECT_ID_CHARS}}$`, 'u');

export function isPrintableObjectId(id: string): boolean {
  return PRINTABLE_OBJECT_ID.test(id) && id !== '.' && id !== '..';
}

/**
 * A DrChrono object id: a non-negative integer, or (appointments) a string that is "usually numeric but not
 * always". Bounded here so that whatever is queued can become a record sort key and a DrChrono URL segment.
 */
export const DrChronoObjectIdSchema = z.union([
  z.string().check(z.refine(isPrintableObjectId, `printable text of 1-${MAX_OBJECT_ID_CHARS} characters`)),
  z.number().check(z.int(), z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER)),
]);

/**
 * A DrChrono webhook body: `receiver` (the webhook's own config) and `object` (the affected object, serialised
 * like the REST API). Only what routing needs is checked. The schema strips (it never copies `object`'s other
 * keys: a loose schema rebuilt the whole object, ~25 us of a delivery's CPU); parseWebhookEnvelope keeps the parsed
 * JSON itself, so `object` is queued whole, unknown keys included.
 * PATIENT_FLAG_* objects are undocumented (a flag with a `patient` reference, or the patient itself): they
 * pass here on their `id` like any object, and the sync worker finds the patient (mapping/references.ts).
 */
export const WebhookEnvelopeSchema = z.object({
  receiver: z.unknown().check(z.refine((v) => v !== null && v !== undefined, 'receiver is required')),
  object: z.object({ id: DrChronoObjectIdSchema }),
  /** Reported by one third-party adapter on live deliveries; optional. */
  practice_group_id: z.optional(z.union([z.number(), z.string()])),
});
export type WebhookEnvelope = z.infer<typeof WebhookEnvelopeSchema> & {
  object: z.infer<typeof WebhookEnvelopeSchema>['object'] & Record<string, unknown>;
  [key: string]: unknown;
};

/**
 * Deepest nesting of arrays and objects a body may have. DrChrono objects nest about 4 levels (a patient's
 * insurance, its flags); 64 is far above that and far below what recursive code (JSON.stringify when queueing,
 * zod) can take: a body of ~5,000 levels is only 10 KB and overflowed the stack, failing forever with a 503.
 */
export const MAX_JSON_NESTING = 64;

/**
 * The nesting depth of JSON text, measured without recursion and without parsing, stopping as soon as it
 * exceeds `limit`. Brackets inside strings do not count. Assumes nothing about validity: JSON.parse judges that.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  // Depth never exceeds the number of opening brackets: a DrChrono object has a few dozen, counted by native
  // searches, so the character-by-character scan runs only for a body that has more than `limit` of them.
  if (openingBracketsAtMost(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** True when `text` holds at most `limit` '{' and '[' in all (inside strings included). */
function openingBracketsAtMost(text: string, limit: number): boolean {
  let n = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) {
      if (++n > limit) return false;
    }
  }
  return true;
}

export type EnvelopeResult = { ok: true; envelope: WebhookEnvelope } | { ok: false; error: string };

/** Parse and validate a raw body. Error messages name the failing field, never a value from the body. */
export function parseWebhookEnvelope(rawBody: Buffer | string): EnvelopeResult {
  const text = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  if (jsonNestingExceeds(text, MAX_JSON_NESTING)) return { ok: false, error: `body nests deeper than ${MAX_JSON_NESTING} levels` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'body is not valid JSON' };
  }
  const parsed = WebhookEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => (i.path.length ? i.path.join('.') : '(body)')))];
    return { ok: false, error: `invalid webhook envelope: ${paths.join(', ')}` };
  }
  // The checked JSON itself (the schema's output would lack object's other keys). JSON.parse makes "__proto__" an
  // own key; it is dropped here (body and object), so no later spread or merge turns it into a prototype.
  const envelope = json as WebhookEnvelope;
  dropProtoKey(envelope);
  dropProtoKey(envelope.object);
  return { ok: true, envelope };
}

function dropProtoKey(value: Record<string, unknown>): void {
  if (Object.hasOwn(value, '__proto__')) delete value['__proto__'];
}
