import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/**
 * A local-only SQS consumer for the integration tests of the poller. Each message body says what to do:
 * {"outcome":"ok"} succeeds, {"outcome":"fail"} is reported in batchItemFailures, {"outcome":"throw"} fails
 * the whole batch. Anything else counts as a failed record.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    let outcome: unknown;
    try {
      outcome = (JSON.parse(record.body) as { outcome?: unknown }).outcome;
    } catch {
      outcome = undefined;
    }
    if (outcome === 'throw') throw new Error('test-consumer asked to throw');
    if (outcome !== 'ok') failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
}
