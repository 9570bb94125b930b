import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { passVisibilitySeconds } from '../dlq/dead-letters';

/**
 * Dead-lettered messages carry DrChrono objects (PHI) for up to 14 days and no worker reads them, so dropping in
 * the workers is not enough for a removed team: its messages are taken off each work queue's DLQ. SQS cannot
 * delete by attribute, so the DLQ is read in batches: the team's messages (message attribute `teamId`) are
 * deleted; every other message is hidden until the pass ends (so each receive brings new ones) and then made
 * visible again, unchanged. Bodies are never parsed or logged.
 *
 * The end of the queue is two consecutive empty long polls: a short poll samples only some SQS servers and can
 * come back empty while messages remain. A pass that reaches its receive cap before that throws, so the removal
 * stops before the secret and the audit item and a re-run continues the erase.
 */
export const DLQ_SCAN_HIDE_SECONDS = 120;
/** A bounded pass (empty polls included); a DLQ it cannot finish makes the removal throw, and a re-run goes on. */
export const DLQ_SCAN_MAX_RECEIVES = 500;
/** Long poll: the receive asks every SQS server. */
export const DLQ_SCAN_WAIT_SECONDS = 1;
/** Consecutive empty long polls that end the pass. */
const EMPTY_POLLS_TO_END = 2;

export class DeadLetterEraseIncompleteError extends Error {
  override name = 'DeadLetterEraseIncompleteError';
  /** Messages of the team this pass did delete (the caller still counts them). */
  constructor(message: string, readonly erased: number) {
    super(message);
  }
}

/** The DLQ of a work queue, from its redrive policy; undefined when it has none. */
export async function deadLetterQueueUrl(sqs: SQSClient, queueUrl: string): Promise<string | undefined> {
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
  const policy = attrs.Attributes?.RedrivePolicy;
  if (!policy) return undefined;
  const arn = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
  const name = arn?.split(':').at(-1);
  if (!name) return undefined;
  return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
}

/**
 * Deletes the team's messages from one DLQ; returns how many. Throws on a failed delete, and when the pass reaches
 * `maxReceives` before the queue is seen empty (a re-run continues).
 */
export async function eraseTeamDeadLetters(sqs: SQSClient, dlqUrl: string, teamId: string, maxReceives = DLQ_SCAN_MAX_RECEIVES): Promise<number> {
  // Hidden long enough for the pass to reach the last message before the first one shows again (as `dlq list` does).
  const hideSeconds = await passVisibilitySeconds(sqs, dlqUrl, DLQ_SCAN_HIDE_SECONDS);
  let erased = 0;
  let emptyPolls = 0;
  const hidden: Message[] = [];
  try {
    for (let i = 0; i < maxReceives && emptyPolls < EMPTY_POLLS_TO_END; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: DLQ_SCAN_WAIT_SECONDS,
          VisibilityTimeout: hideSeconds,
          MessageAttributeNames: ['teamId'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) {
        emptyPolls++;
        continue;
      }
      emptyPolls = 0;
      const ours = messages.filter((m) => m.MessageAttributes?.teamId?.StringValue?.toLowerCase() === teamId.toLowerCase());
      hidden.push(...messages.filter((m) => !ours.includes(m)));
      if (ours.length === 0) continue;
      const del = await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: ours.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })) }),
      );
      if (del.Failed?.length) throw new Error(`${del.Failed.length} dead-lettered messages of the team could not be deleted; run the removal again`);
      erased += ours.length;
    }
    if (emptyPolls < EMPTY_POLLS_TO_END) {
      throw new DeadLetterEraseIncompleteError(
        `the dead-letter queue was not read to its end in ${maxReceives} receives (${erased} messages of the team deleted so far); run the removal again`,
        erased,
      );
    }
  } finally {
    // Give the other teams' messages back at once (they would reappear on their own after the hide time).
    for (let i = 0; i < hidden.length; i += 10) {
      const batch = hidden.slice(i, i + 10);
      await sqs
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlqUrl, Entries: batch.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }))
        .catch(() => undefined);
    }
  }
  return erased;
}
