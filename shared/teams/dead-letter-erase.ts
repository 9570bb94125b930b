import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * Dead-lettered messages carry DrChrono objects (PHI) for up to 14 days and no worker reads them, so dropping in
 * the workers is not enough for a removed team: its messages are taken off each work queue's DLQ. SQS cannot
 * delete by attribute, so the DLQ is read in batches: the team's messages (message attribute `teamId`) are
 * deleted; every other message is hidden until the pass ends (so each receive brings new ones) and then made
 * visible again, unchanged. Bodies are never parsed or logged.
 */
export const DLQ_SCAN_HIDE_SECONDS = 120;
/** A bounded pass: DLQs are expected to be small; a larger one is finished by running the removal again. */
export const DLQ_SCAN_MAX_RECEIVES = 500;

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

/** Deletes the team's messages from one DLQ; returns how many. Throws on a failed delete (a re-run continues). */
export async function eraseTeamDeadLetters(sqs: SQSClient, dlqUrl: string, teamId: string, maxReceives = DLQ_SCAN_MAX_RECEIVES): Promise<number> {
  let erased = 0;
  const hidden: Message[] = [];
  try {
    for (let i = 0; i < maxReceives; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: DLQ_SCAN_HIDE_SECONDS, MessageAttributeNames: ['teamId'] }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      const ours = messages.filter((m) => m.MessageAttributes?.teamId?.StringValue?.toLowerCase() === teamId.toLowerCase());
      hidden.push(...messages.filter((m) => !ours.includes(m)));
      if (ours.length === 0) continue;
      const del = await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: ours.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })) }),
      );
      if (del.Failed?.length) throw new Error(`${del.Failed.length} dead-lettered messages of the team could not be deleted; run the removal again`);
      erased += ours.length;
    }
  } finally {
    // Give the other teams' messages back at once (they would reappear on their own after DLQ_SCAN_HIDE_SECONDS).
    for (let i = 0; i < hidden.length; i += 10) {
      const batch = hidden.slice(i, i + 10);
      await sqs
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlqUrl, Entries: batch.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }))
        .catch(() => undefined);
    }
  }
  return erased;
}
