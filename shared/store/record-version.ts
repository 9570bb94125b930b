import { createHash } from 'node:crypto';

/**
 * The order guard of the records table. A record stores the version of the DrChrono state it holds; a write
 * applies only when its version SUPERSEDES the stored one. This module is the rule, as pure functions;
 * shared/store/records.ts expresses the same rule as a DynamoDB condition on the record itself.
 *
 * A version is (updated_at, authority, observation time):
 *  - DrChrono's `updated_at` orders states of one object. It is practice-local wall time, documented without an
 *    offset; one with an offset (`Z`, `-05:00`) keeps the wall clock it states and drops the offset (see
 *    normalizeUpdatedAt). It is never converted to UTC: it is normalised to a fixed width and compared as a
 *    string. A newer one always wins.
 *  - It has one-second precision, so two different states can share it. Within one second the authority
 *    decides: a state FETCHED by id at T (T = when the request was sent) was current at T, so it supersedes
 *    a DELIVERED state (webhook, or a backfill/reconcile list, which is a snapshot too) that we held by R < T,
 *    and an earlier fetch. Two delivered states of one second, or a delivered one received after the fetch
 *    (R >= T: it may be a change made after the fetch), are INCOMPARABLE: with different content that is a
 *    'tie', which the sync resolves by fetching the object (a fetch now supersedes both).
 *  - Without `updated_at` (doctors never have one; a stub delivery might not), the observation time alone
 *    orders (UTC), and every such version ranks below every `updated_at` version: a UTC instant cannot be
 *    compared with an offset-less local time, so a state DrChrono timestamped is never overwritten by one it
 *    did not. Equal observation times are incomparable.
 *  - Incomparable with equal content: 'unchanged' (a duplicate delivery writes nothing).
 *  - Deletion is terminal: a delete applies unless the record is already deleted; nothing applies after it.
 * "Supersedes" is a strict partial order; compareVersions returns 0 for incomparable (or identical) versions.
 */
export type VersionAuthority = 'delivered' | 'fetched';

export interface RecordVersion {
  /** DrChrono `updated_at`, normalised by normalizeUpdatedAt; null when the object carries none. */
  updatedAt: string | null;
  /** ISO UTC: when a delivered state was received (or listed); when a fetch request was sent. */
  observedAt: string;
  authority: VersionAuthority;
  /**
   * A patient's deletion (404 from DrChrono): ranks above every live version, so patient versions only grow
   * through a deletion too (patient-references.ts stamps appointments with them).
   */
  deletion?: true;
}

/** 'tie': the incoming state and the stored one are incomparable and differ; nothing was written. */
export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'stale-skipped' | 'deleted' | 'tie';

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

const DRCHRONO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d+))?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * The canonical, fixed-width form of a DrChrono timestamp: practice wall-clock time to the nanosecond.
 * "2024-01-15T10:30:00" → "2024-01-15T10:30:00.000000000"; "2024-01-15T10:30:00.123" → "…10:30:00.123000000".
 *
 * With an offset ("2024-01-15T10:30:00-05:00", "…Z") the stated wall clock is kept and the offset dropped:
 * DrChrono's serializer (Django REST framework) renders an aware time in the practice's zone with that zone's
 * offset, so the stated wall clock IS the practice's, the same clock as the offset-less form, and mixed forms
 * compare correctly. A time is never converted to UTC, which would put it out of order with the offset-less
 * ones. Digits beyond nanoseconds are truncated (equal to that precision: a tie, which the sync resolves by
 * fetching). Null when absent or not a timestamp.
 */
export function normalizeUpdatedAt(raw: string | null | undefined): string | null {
  const m = raw ? DRCHRONO_TIMESTAMP.exec(raw) : null;
  if (!m) return null;
  const [, date, hm, sec = '00', frac = ''] = m;
  return `${date}T${hm}:${sec}.${frac.slice(0, 9).padEnd(9, '0')}`;
}

export function recordVersion(
  updatedAtRaw: string | null | undefined,
  observedAt: string,
  authority: VersionAuthority = 'delivered',
): RecordVersion {
  const observed = new Date(observedAt);
  if (Number.isNaN(observed.getTime())) throw new RangeError('observedAt is not an ISO time');
  return { updatedAt: normalizeUpdatedAt(updatedAtRaw), observedAt: observed.toISOString(), authority };
}

const DELIVERED = '0';
const FETCHED = '1';

/**
 * The stored form: `u#<updated_at>#0#<received>` (delivered), `u#<updated_at>#1#<sent>` (fetched),
 * `o#<observed>` (no updated_at), `z#<observed>` (a patient's deletion: above every live version). Fixed-width
 * parts, so string order follows updated_at, then authority, then time: superseded() turns the partial order
 * into string ranges for the DynamoDB condition.
 */
export function versionKey(v: RecordVersion): string {
  if (v.deletion) return `z#${v.observedAt}`;
  if (v.updatedAt === null) return `o#${v.observedAt}`;
  return `u#${v.updatedAt}#${v.authority === 'fetched' ? FETCHED : DELIVERED}#${v.observedAt}`;
}

/** The inverse of versionKey. A version without updated_at does not record its authority (it plays no part). */
export function parseVersionKey(key: string): RecordVersion | undefined {
  if (key.startsWith('o#')) return { updatedAt: null, observedAt: key.slice(2), authority: 'fetched' };
  if (key.startsWith('z#')) return { updatedAt: null, observedAt: key.slice(2), authority: 'fetched', deletion: true };
  const m = /^u#([^#]+)(?:#([01])#(.*))?$/.exec(key);
  if (!m) return undefined;
  // `u#<updated_at>` alone is the format before authorities: the lowest state of its second.
  return { updatedAt: m[1]!, observedAt: m[3] ?? '', authority: m[2] === FETCHED ? 'fetched' : 'delivered' };
}

/** 1: a supersedes b; -1: b supersedes a; 0: incomparable (or the same version). */
export function compareVersions(a: RecordVersion, b: RecordVersion): -1 | 0 | 1 {
  // decideWrite never gets here with a deletion (deletes are terminal, decided by the `deleted` flag); the
  // order is defined anyway, as the stored keys sort.
  if (a.deletion || b.deletion) return a.deletion && b.deletion ? compareStrings(a.observedAt, b.observedAt) : a.deletion ? 1 : -1;
  if (a.updatedAt === null || b.updatedAt === null) {
    if (a.updatedAt !== null) return 1;
    if (b.updatedAt !== null) return -1;
    return compareStrings(a.observedAt, b.observedAt);
  }
  if (a.updatedAt !== b.updatedAt) return compareStrings(a.updatedAt, b.updatedAt);
  if (a.authority === 'fetched' && b.authority === 'fetched') return compareStrings(a.observedAt, b.observedAt);
  // A fetch sent at T supersedes a delivered state only if we held that state before T.
  if (a.authority === 'fetched') return b.observedAt < a.observedAt ? 1 : 0;
  if (b.authority === 'fetched') return a.observedAt < b.observedAt ? -1 : 0;
  return 0;
}

function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The stored version keys that v supersedes, as string ranges: every key `< below`, plus (fetched states only)
 * every key strictly between `fetchedAfter` and `fetchedBefore` (earlier fetches of the same second).
 */
export interface SupersededKeys {
  below: string;
  fetchedAfter?: string;
  fetchedBefore?: string;
}

export function supersededKeys(v: RecordVersion): SupersededKeys {
  if (v.updatedAt === null) return { below: versionKey(v) };
  const second = `u#${v.updatedAt}#`;
  if (v.authority === 'delivered') return { below: second };
  return { below: `${second}${DELIVERED}#${v.observedAt}`, fetchedAfter: `${second}${FETCHED}#`, fetchedBefore: versionKey(v) };
}

/**
 * Stable hash of the written field values, so "unchanged" is decided without reading the record. It tells
 * states of one record apart (not an integrity check), so 128 bits are plenty: 22 characters instead of 43
 * on every stored item.
 */
export function contentHash(fields: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(Object.keys(fields).sort().map((k) => [k, fields[k] ?? null]));
  return createHash('sha256').update(canonical).digest().subarray(0, 16).toString('base64url');
}

/** The ordering rule. records.ts mirrors it: `write` is its condition expression, `outcome` classifies. */
export function decideWrite(existing: StoredVersionState | undefined, incoming: IncomingVersionState): WriteDecision {
  if (!existing) return { write: true, outcome: incoming.deleted ? 'deleted' : 'created' };
  if (existing.deleted) return { write: false, outcome: incoming.deleted ? 'unchanged' : 'stale-skipped' };
  if (incoming.deleted) return { write: true, outcome: 'deleted' };
  const stored = parseVersionKey(existing.version);
  // A version we cannot read (none of ours writes one) is treated as superseded.
  const order = stored ? compareVersions(incoming.version, stored) : 1;
  const sameContent = existing.contentHash === incoming.contentHash;
  // Newer: always written, so the stored version advances even when the content did not change.
  if (order > 0) return { write: true, outcome: sameContent ? 'unchanged' : 'updated' };
  if (order < 0) return { write: false, outcome: 'stale-skipped' };
  return { write: false, outcome: sameContent ? 'unchanged' : 'tie' };
}
