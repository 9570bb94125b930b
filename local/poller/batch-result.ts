/**
 * Lambda's partial-batch-response contract for SQS event sources (ReportBatchItemFailures), as a pure
 * function: which messages the poller deletes and which stay on the queue for a retry.
 *
 * Complete success: a null/undefined response, an object without batchItemFailures, or an empty or null
 * batchItemFailures list. Complete failure: the function threw or timed out, the response is not an
 * object, batchItemFailures is not a list, or any entry lacks a non-empty itemIdentifier that names a
 * message of this batch. Otherwise the listed messages fail and the rest succeed.
 */
export type InvocationOutcome = { ok: true; response: unknown } | { ok: false; error: unknown };

export interface BatchSettlement {
  /** message ids to delete */
  succeeded: string[];
  /** message ids left for the visibility timeout to bring back */
  failed: string[];
  /** why the whole batch failed, when it did */
  wholeBatchFailure?: string;
}

export function settleBatch(messageIds: readonly string[], outcome: InvocationOutcome): BatchSettlement {
  const failAll = (reason: string): BatchSettlement => ({ succeeded: [], failed: [...messageIds], wholeBatchFailure: reason });
  if (!outcome.ok) return failAll('function error');
  const response = outcome.response;
  if (response === null || response === undefined) return { succeeded: [...messageIds], failed: [] };
  if (typeof response !== 'object' || Array.isArray(response)) return failAll('response is not an object');
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { succeeded: [...messageIds], failed: [] };
  if (!Array.isArray(failures)) return failAll('batchItemFailures is not a list');
  const inBatch = new Set(messageIds);
  const failed = new Set<string>();
  for (const entry of failures as unknown[]) {
    const id = typeof entry === 'object' && entry !== null ? (entry as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') return failAll('batchItemFailures entry without an itemIdentifier');
    if (!inBatch.has(id)) return failAll('batchItemFailures names a message that is not in the batch');
    failed.add(id);
  }
  return { succeeded: messageIds.filter((id) => !failed.has(id)), failed: messageIds.filter((id) => failed.has(id)) };
}
