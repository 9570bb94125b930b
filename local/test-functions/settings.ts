import type { QueueSettings } from '../../shared/config/queue-settings';

/**
 * The local-only test queue (LOCAL_TEST_FUNCTIONS=1): short visibility and two receives, so the integration
 * tests see the poller's retry and DLQ redrive in seconds rather than minutes.
 */
export const TEST_CONSUMER_QUEUE: QueueSettings = {
  functionTimeoutSeconds: 5,
  visibilityTimeoutSeconds: 1,
  maxReceiveCount: 2,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  retentionPeriodSeconds: 3600,
};

export function testConsumerQueueNames(stage: string): { queue: string; dlq: string } {
  return { queue: `drchrono-sync-${stage}-test-consumer`, dlq: `drchrono-sync-${stage}-test-consumer-dlq` };
}
