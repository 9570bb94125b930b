import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Doctor } from '../drchrono/schemas';
import { INGEST_MESSAGE_VERSION, type IngestMessage } from '../ingest/ingest-message';
import { errorFields } from '../logging/logger';
import { mapEmployee, type TeamSyncConfig } from '../mapping';
import type { IntegrationLogEntry } from '../store/integration-log';
import { writeRecord } from '../store/records';
import type { ProcessResult } from '../sync/process-ingest-message';

/**
 * Feeds fetched DrChrono objects through the SAME path as webhooks: each patient or appointment becomes an
 * ingest message (source 'backfill' / 'reconcile') handed straight to the sync worker's processIngestMessage,
 * which maps it with the team's field config and writes it under the order guard. A replay of an object
 * already stored is 'unchanged'. Doctors have no webhook event; they are mapped and written the same way the
 * sync worker writes a referenced doctor.
 *
 * Calling processIngestMessage in-process (rather than putting one message per object on the ingest queue)
 * means a page is written when its step commits, so progress counts are real, and it saves one SQS send and one
 * sync invocation per object; the sync worker's own budget/401/429 classification is reused unchanged.
 */
export type ImportSource = 'backfill' | 'reconcile';

export interface OutcomeTally {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export function emptyTally(): OutcomeTally {
  return { created: 0, updated: 0, unchanged: 0, failed: 0 };
}

export function addTally(a: OutcomeTally, b: OutcomeTally): OutcomeTally {
  return { created: a.created + b.created, updated: a.updated + b.updated, unchanged: a.unchanged + b.unchanged, failed: a.failed + b.failed };
}
export type ImportEntity = 'patient' | 'appointment';

export interface ImportDeps {
  process: (msg: IngestMessage) => Promise<ProcessResult>;
  now?: () => Date;
  /** Objects processed at once; default 8 (DynamoDB writes dominate). */
  concurrency?: number;
  /** Aborted at the invocation deadline: start no more objects (the page is redone). */
  signal?: AbortSignal;
}

export type ImportResult =
  /**
   * retryable: objects that failed for a reason that may pass (DrChrono 5xx or network after the client's
   * tries, DynamoDB throttling): the caller must not commit the page, so they are read again. Their entries
   * are not in `entries`; `outcomes.failed` counts only objects that cannot be mapped (skipped, logged).
   */
  | { kind: 'done'; processed: number; outcomes: OutcomeTally; entries: IntegrationLogEntry[]; retryable: number; retryError?: unknown; retryEntries: IntegrationLogEntry[] }
  /** A budget, rate-limit or token problem: stop the page; the work item comes back after delaySeconds. */
  | { kind: 'defer'; delaySeconds: number; entry: IntegrationLogEntry };

/**
 * A failure that retrying cannot fix: the object itself does not have a shape we map (or DrChrono answered its
 * fetch with a body we cannot read). Only these may be skipped; anything else fails the page.
 */
export function isUnmappableObject(err: unknown): boolean {
  return err instanceof Error && (err.name === 'MappingValidationError' || err.name === 'DrChronoResponseValidationError');
}

/** Entries worth keeping in the integration log: changes and problems. Replays ('unchanged') are only counted. */
function keep(e: IntegrationLogEntry): boolean {
  return e.outcome !== 'unchanged';
}

/** created / updated (incl. tombstones) / failed; everything that wrote nothing (replays, breaks, stale) is 'unchanged'. */
export function tallyOutcome(t: OutcomeTally, outcome: IntegrationLogEntry['outcome']): void {
  if (outcome === 'created') t.created++;
  else if (outcome === 'updated' || outcome === 'deleted') t.updated++;
  else if (outcome === 'failed') t.failed++;
  else t.unchanged++;
}

/** Integration log event of an imported object: BACKFILL_PATIENT, RECONCILE_APPOINTMENT, ... */
export function logEvent(source: ImportSource, entity: ImportEntity | 'employee'): string {
  return `${source.toUpperCase()}_${entity.toUpperCase()}`;
}

export function ingestMessageFor(
  teamId: string,
  source: ImportSource,
  runId: string,
  entity: ImportEntity,
  object: { id: string | number } & Record<string, unknown>,
  fetchedAt: string,
): IngestMessage {
  return {
    v: INGEST_MESSAGE_VERSION,
    teamId,
    event: entity === 'patient' ? 'PATIENT_MODIFY' : 'APPOINTMENT_MODIFY',
    deliveryId: `${source}:${runId}:${entity}:${object.id}`,
    receivedAt: fetchedAt,
    source,
    object,
  };
}

export async function importObjects(
  teamId: string,
  source: ImportSource,
  runId: string,
  entity: ImportEntity,
  objects: readonly ({ id: string | number } & Record<string, unknown>)[],
  deps: ImportDeps,
): Promise<ImportResult> {
  const now = deps.now ?? (() => new Date());
  const fetchedAt = now().toISOString();
  const outcomes = emptyTally();
  const entries: IntegrationLogEntry[] = [];
  let deferred: Extract<ImportResult, { kind: 'defer' }> | undefined;
  let next = 0;
  let processed = 0;
  let retryable = 0;
  let retryError: unknown;
  const retryEntries: IntegrationLogEntry[] = [];

  const worker = async (): Promise<void> => {
    while (!deferred && !deps.signal?.aborted && next < objects.length) {
      const obj = objects[next++]!;
      const result = await deps.process(ingestMessageFor(teamId, source, runId, entity, obj, fetchedAt));
      if (result.status === 'defer') {
        deferred ??= { kind: 'defer', delaySeconds: result.delaySeconds, entry: result.entry };
        return;
      }
      processed++;
      if (result.status === 'retry') {
        if (!isUnmappableObject(result.error)) {
          // Transient: the page must be read again, or this object would never be imported.
          retryable++;
          retryError ??= result.error;
          retryEntries.push({ ...result.entry, event: logEvent(source, entity), outcome: 'failed' });
          continue;
        }
        // The object cannot be mapped: skipped so it does not stall the import, logged with its reason.
        tallyOutcome(outcomes, 'failed');
        entries.push({ ...result.entry, event: logEvent(source, entity), outcome: 'failed', detail: 'skipped: the object cannot be mapped' });
        continue;
      }
      // Labelled as what they are, so nobody mistakes a backfill read for a webhook delivery.
      const [main, ...extra] = result.entries.map((e) => ({ ...e, event: logEvent(source, entity) }));
      if (main) tallyOutcome(outcomes, main.outcome);
      for (const e of [main, ...extra]) if (e && keep(e)) entries.push(e);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency ?? 8, objects.length)) }, worker));
  return deferred ?? { kind: 'done', processed, outcomes, entries, retryable, retryEntries, ...(retryable > 0 ? { retryError } : {}) };
}

export interface DoctorImportDeps {
  ddb: DynamoDBDocumentClient;
  recordsTable: string;
  config: TeamSyncConfig;
  now?: () => Date;
}

/** Doctors → employee records, order-safe (unchanged when the content hash matches). */
export async function importDoctors(
  teamId: string,
  source: ImportSource,
  runId: string,
  doctors: readonly Doctor[],
  deps: DoctorImportDeps,
): Promise<{ processed: number; outcomes: OutcomeTally; entries: IntegrationLogEntry[] }> {
  const now = deps.now ?? (() => new Date());
  const outcomes = emptyTally();
  const entries: IntegrationLogEntry[] = [];
  for (const doctor of doctors) {
    const at = now().toISOString();
    const deliveryId = `${source}:${runId}:employee:${doctor.id}`;
    const base = { at, event: logEvent(source, 'employee'), deliveryId, entity: 'employee' as const, drchronoId: String(doctor.id) };
    try {
      const record = mapEmployee(doctor, { config: deps.config, profileNames: new Map(), flagTypeNames: new Map(), observedAt: at });
      const written = await writeRecord(deps.ddb, deps.recordsTable, { teamId, record, deliveryId, syncedAt: at });
      // A 'tie' (same observation time, other content) wrote nothing; tomorrow's refresh settles it.
      const outcome = written === 'tie' ? 'unchanged' : written;
      tallyOutcome(outcomes, outcome);
      if (outcome !== 'unchanged') entries.push({ ...base, outcome, fieldsWritten: record.fieldsWritten, fieldsSkipped: record.fieldsSkipped });
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'MappingValidationError') throw err;
      tallyOutcome(outcomes, 'failed');
      entries.push({ ...base, outcome: 'failed', ...errorFields(err) });
    }
  }
  return { processed: doctors.length, outcomes, entries };
}
