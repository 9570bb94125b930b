import { z } from 'zod';

/**
 * A DrChrono object id: a non-negative integer, or (appointments) a string that is "usually numeric but not
 * always". Bounded here so that whatever is queued can become a record sort key and a DrChrono URL segment.
 */
export const DrChronoObjectIdSchema = z.union([
  z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/),
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
]);

/**
 * A DrChrono webhook body: `receiver` (the webhook's own config) and `object` (the affected object, serialised
 * like the REST API). Only what routing needs is checked; `object` is kept whole, unknown keys included.
 * PATIENT_FLAG_* objects are undocumented (a flag with a `patient` reference, or the patient itself): they
 * pass here on their `id` like any object, and the sync worker finds the patient (mapping/references.ts).
 */
export const WebhookEnvelopeSchema = z.looseObject({
  receiver: z.unknown().refine((v) => v !== null && v !== undefined, 'receiver is required'),
  object: z.looseObject({ id: DrChronoObjectIdSchema }),
  /** Reported by one third-party adapter on live deliveries; optional. */
  practice_group_id: z.union([z.number(), z.string()]).optional(),
});
export type WebhookEnvelope = z.infer<typeof WebhookEnvelopeSchema>;

export type EnvelopeResult = { ok: true; envelope: WebhookEnvelope } | { ok: false; error: string };

/** Parse and validate a raw body. Error messages name the failing field, never a value from the body. */
export function parseWebhookEnvelope(rawBody: Buffer): EnvelopeResult {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { ok: false, error: 'body is not valid JSON' };
  }
  const parsed = WebhookEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => (i.path.length ? i.path.join('.') : '(body)')))];
    return { ok: false, error: `invalid webhook envelope: ${paths.join(', ')}` };
  }
  return { ok: true, envelope: parsed.data };
}
