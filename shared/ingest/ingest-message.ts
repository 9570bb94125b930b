import * as z from 'zod/mini';

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
  source: z._default(z.enum(['webhook', 'backfill', 'reconcile']), 'webhook'),
  object: z.looseObject({ id: z.union([z.string(), z.number()]) }),
});
export type IngestMessage = z.infer<typeof IngestMessageSchema>;

/**
 * A flag attached to, changed on or removed from a patient. DrChrono's docs spell the change event
 * PATIENT_FLAG_CMODIFY; its console is reported to show PATIENT_FLAG_MODIFY (api-facts.md, open question 5):
 * both are accepted. The sync worker re-reads the patient's flags (shared/mapping/references.ts).
 */
export const PATIENT_FLAG_EVENTS = ['PATIENT_FLAG_CREATE', 'PATIENT_FLAG_CMODIFY', 'PATIENT_FLAG_MODIFY'] as const;

/** Events the sync worker handles; everything else is acknowledged and counted, not queued. */
export const SYNCED_EVENTS = [
  'PATIENT_CREATE',
  'PATIENT_MODIFY',
  'APPOINTMENT_CREATE',
  'APPOINTMENT_MODIFY',
  'APPOINTMENT_DELETE',
  ...PATIENT_FLAG_EVENTS,
] as const;
export type SyncedEvent = (typeof SYNCED_EVENTS)[number];

export function isSyncedEvent(event: string): event is SyncedEvent {
  return (SYNCED_EVENTS as readonly string[]).includes(event);
}

export function isPatientFlagEvent(event: string): boolean {
  return (PATIENT_FLAG_EVENTS as readonly string[]).includes(event);
}
