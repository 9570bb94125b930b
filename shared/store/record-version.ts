import { createHash } from 'node:crypto';

/**
 * The order guard of the records table. A record stores the version of the DrChrono state it holds; a write
 * applies only when its version is newer. This module is the rule, as pure functions; shared/store/records.ts
 * expresses the same rule as a DynamoDB condition on the record itself.
 *
 * Order:
 *  - DrChrono's `updated_at` orders states of one object. It has no offset (practice-local wall time), so it is
 *    never converted: it is normalised to a fixed width and compared as a string.
 *  - Without `updated_at` (doctors never have one; a stub delivery might not), the version is the time we
 *    observed the state (fetch time or webhook receipt, UTC). Those are ordered among themselves, and rank
 *    below every `updated_at` version: a UTC instant cannot be compared with an offset-less local time, so
 *    a state DrChrono timestamped is never overwritten by one it did not.
 *  - Equal versions: the stored state stays (a duplicate delivery writes nothing).
 *  - Deletion is terminal: a delete applies unless the record is already deleted; nothing applies after it.
 */
export interface RecordVersion {
  /** DrChrono `updated_at`, normalised by normalizeUpdatedAt; null when the object carries none. */
  updatedAt: string | null;
  /** ISO UTC time this state was observed (webhook receipt or fetch). */
  observedAt: string;
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'stale-skipped' | 'deleted';

/** What the order guard needs from a stored record (the bookkeeping attributes of its item). */
export interface StoredVersionState {
  /** versionKey() of the stored state. */
  version: string;
  deleted: boolean;
  contentHash?: string;
}

export interface IncomingVersionState {
  version: RecordVersion;
  deleted: boolean;
  contentHash: string;
}

export interface WriteDecision {
  write: boolean;
  outcome: WriteOutcome;
}

const DRCHRONO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?$/;

/** "2024-01-15T10:30:00" → "2024-01-15T10:30:00.000000000"; null when absent or not an offset-less timestamp. */
export function normalizeUpdatedAt(raw: string | null | undefined): string | null {
  const m = raw ? DRCHRONO_TIMESTAMP.exec(raw) : null;
  if (!m) return null;
  const [, date, hm, sec = '00', frac = ''] = m;
  return `${date}T${hm}:${sec}.${frac.padEnd(9, '0')}`;
}

export function recordVersion(updatedAtRaw: string | null | undefined, observedAt: string): RecordVersion {
  const observed = new Date(observedAt);
  if (Number.isNaN(observed.getTime())) throw new RangeError('observedAt is not an ISO time');
  return { updatedAt: normalizeUpdatedAt(updatedAtRaw), observedAt: observed.toISOString() };
}

/** A string whose order is the version order: `u#<updated_at>` ranks above every `o#<observed UTC>`. */
export function versionKey(v: RecordVersion): string {
  return v.updatedAt !== null ? `u#${v.updatedAt}` : `o#${v.observedAt}`;
}

export function compareVersions(a: RecordVersion, b: RecordVersion): -1 | 0 | 1 {
  return compareKeys(versionKey(a), versionKey(b));
}

function compareKeys(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable hash of the written field values, so "unchanged" is decided without reading the record. */
export function contentHash(fields: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(Object.keys(fields).sort().map((k) => [k, fields[k] ?? null]));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The ordering rule. records.ts mirrors it: `write` is its condition expression, `outcome` classifies. */
export function decideWrite(existing: StoredVersionState | undefined, incoming: IncomingVersionState): WriteDecision {
  if (!existing) return { write: true, outcome: incoming.deleted ? 'deleted' : 'created' };
  if (existing.deleted) return { write: false, outcome: incoming.deleted ? 'unchanged' : 'stale-skipped' };
  if (incoming.deleted) return { write: true, outcome: 'deleted' };
  const order = compareKeys(versionKey(incoming.version), existing.version);
  const sameContent = existing.contentHash === incoming.contentHash;
  // Newer: always written, so the stored version advances even when the content did not change.
  if (order > 0) return { write: true, outcome: sameContent ? 'unchanged' : 'updated' };
  if (order === 0 && sameContent) return { write: false, outcome: 'unchanged' };
  return { write: false, outcome: 'stale-skipped' };
}
