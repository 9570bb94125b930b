import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { z } from 'zod';
import { IngestMessageSchema, type IngestMessage } from './ingest-message';

export type IngestMessageInput = z.input<typeof IngestMessageSchema>;

/**
 * Put one ingest message on the queue. The message is validated first, so a malformed message fails here
 * rather than in the sync worker. Attributes carry ids only (no PHI) for routing and inspection.
 * Resolves with the SQS message id once SQS has accepted the message; rejects otherwise.
 */
export async function enqueueIngestMessage(sqs: SQSClient, queueUrl: string, input: IngestMessageInput): Promise<string | undefined> {
  const msg: IngestMessage = IngestMessageSchema.parse(input);
  const out = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(msg),
      MessageAttributes: {
        teamId: { DataType: 'String', StringValue: msg.teamId },
        event: { DataType: 'String', StringValue: msg.event },
      },
    }),
  );
  return out.MessageId;
}
