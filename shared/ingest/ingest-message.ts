import { z } from 'zod';

/**
 * What the webhook receiver puts on the ingest queue: one message per verified delivery.
 * `object` is the DrChrono object exactly as delivered (PHI: the queue is encrypted, never logged).
 */
export const INGEST_MESSAGE_VERSION = 1;

export const IngestMessageSchema = z.object({
  v: z.literal(INGEST_MESSAGE_VERSION),
  teamId: z.string(),
  event: z.string(),
  deliveryId: z.string(),
  /** ISO time the receiver accepted the delivery. */
  receivedAt: z.string(),
  /** Where the message came from: a webhook, or a backfill/reconcile fetch. */
  source: z.enum(['webhook', 'backfill', 'reconcile']).default('webhook'),
  object: z.looseObject({ id: z.union([z.string(), z.number()]) }),
});
export type IngestMessage = z.infer<typeof IngestMessageSchema>;

/** Events the sync worker handles; everything else is acknowledged and counted, not queued. */
export const SYNCED_EVENTS = [
  'PATIENT_CREATE',
  'PATIENT_MODIFY',
  'APPOINTMENT_CREATE',
  'APPOINTMENT_MODIFY',
  'APPOINTMENT_DELETE',
] as const;
export type SyncedEvent = (typeof SYNCED_EVENTS)[number];

export function isSyncedEvent(event: string): event is SyncedEvent {
  return (SYNCED_EVENTS as readonly string[]).includes(event);
}
