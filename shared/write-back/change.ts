import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { TeamIdSchema } from '../teams/team-id';

/**
 * An outbound change: what the write API accepted for one record, on its way to DrChrono (docs/write-back.md).
 * The write API validates the body and maps it back to DrChrono's fields (shared/write-back/reverse-map.ts);
 * the write-back worker sends `payload` and records the outcome on the change item (change-store.ts).
 */
export const WRITE_ENTITIES = ['patient', 'appointment'] as const;
export type WriteEntity = (typeof WRITE_ENTITIES)[number];

/**
 * upsert: PUT patient by Chart ID (update the patient with that Chart ID, else create one with it).
 * update: PATCH patient or appointment. create: POST appointment. delete: DELETE appointment.
 */
export const CHANGE_OPS = ['upsert', 'update', 'create', 'delete'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

/** pending until the worker ends it; the other four are final. */
export const CHANGE_STATUSES = ['pending', 'applied', 'rejected', 'conflict', 'failed'] as const;
export type ChangeStatus = (typeof CHANGE_STATUSES)[number];
export type FinalChangeStatus = Exclude<ChangeStatus, 'pending'>;

export const ChangeIdSchema = z.uuid();

/** The write-back queue's message body (FIFO; group = changeGroupId). Carries PHI (payload): never log it. */
export const ChangeMessageSchema = z.strictObject({
  v: z.literal(1),
  changeId: ChangeIdSchema,
  teamId: TeamIdSchema,
  entity: z.enum(WRITE_ENTITIES),
  op: z.enum(CHANGE_OPS),
  /** The record's key as the app named it: Chart ID (patient) or Claim ID (appointment); null for an appointment create. */
  key: z.nullable(z.string().check(z.minLength(1), z.maxLength(128))),
  /** DrChrono id when the write API knew it (a synced record); the worker resolves it otherwise. */
  drchronoId: z.nullable(z.string().check(z.minLength(1), z.maxLength(128))),
  /** Record field names the change writes (for the log and the outcome; never values). */
  fieldsWritten: z.array(z.string()),
  /** DrChrono request body (its field names and codes), from the reverse mapping. Empty for a delete. */
  payload: z.record(z.string(), z.unknown()),
  /** The record version (versionKey, shared/store/record-version.ts) the app based the change on; null: last writer wins. */
  baseVersion: z.nullable(z.string().check(z.minLength(1), z.maxLength(200))),
  requestedAt: z.iso.datetime(),
});
export type ChangeMessage = z.infer<typeof ChangeMessageSchema>;

/**
 * FIFO message group: one per record, so a record's changes are applied in order, never two in flight.
 * An appointment create has no key yet: its own group. The team UUID and the entity prefix keep groups apart;
 * the key is hashed so the group id (≤128 chars, limited alphabet) carries no Chart ID.
 */
export function changeGroupId(m: Pick<ChangeMessage, 'teamId' | 'entity' | 'key' | 'changeId'>): string {
  if (m.key === null) return `${m.teamId}:${m.entity}:new:${m.changeId}`;
  return `${m.teamId}:${m.entity}:${keyDigest(m.key)}`;
}

function keyDigest(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
