import type { SQSClient } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { SqsPoller } from '../../../local/poller/sqs-poller';
import type { QueueSettings } from '../../../shared/config/queue-settings';

const SETTINGS: QueueSettings = {
  functionTimeoutSeconds: 30,
  visibilityTimeoutSeconds: 180,
  maxReceiveCount: 5,
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
  retentionPeriodSeconds: 3600,
};

describe('SqsPoller', () => {
  afterEach(() => jest.restoreAllMocks());

  it('closes the batching window on time when the process clock jumps back (a test resetting local time)', async () => {
    let sent = false;
    const sqs = {
      send: async (cmd: unknown) => {
        if (cmd instanceof ReceiveMessageCommand) {
          if (sent) return { Messages: [] };
          sent = true;
          return { Messages: [{ MessageId: 'm1', ReceiptHandle: 'rh1', Body: '{}', Attributes: {} }] };
        }
        return {};
      },
    } as unknown as SQSClient;
    const invoked: number[] = [];
    let resolveInvoked: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveInvoked = r));
    const poller = new SqsPoller({
      fn: 'f',
      queueUrl: 'q',
      queueArn: 'arn',
      region: 'us-east-1',
      settings: SETTINGS,
      concurrency: 1,
      sqs,
      invoke: async (event) => {
        invoked.push(event.Records.length);
        resolveInvoked();
        return {};
      },
      log: () => undefined,
    });
    // The clock reads an hour ahead when the window opens, then real time again (reset), as after /_local/clock.
    const realNow = Date.now.bind(Date);
    let first = true;
    jest.spyOn(Date, 'now').mockImplementation(() => {
      if (first) {
        first = false;
        return realNow() + 3_600_000;
      }
      return realNow();
    });
    const started = performance.now();
    poller.start();
    await Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);
    await poller.stop();
    expect(invoked).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(4_000);
  });
});
