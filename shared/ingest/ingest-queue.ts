import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { TeamIdSchema } from '../teams/team-id';
import { IngestMessageSchema, type IngestMessage } from './ingest-message';
import { encodeSqsMessageBody, MAX_SQS_MESSAGE_BYTES, sqsMessageBytes, SqsMessageTooLargeError } from './sqs-message-body';

export type IngestMessageInput = z.input<typeof IngestMessageSchema>;

/**
 * Everything but `object`, checked on every send; stricter than the consumer's schema where the producer can
 * be: the team id is a UUID and receivedAt an ISO UTC time.
 */
const IngestHeaderSchema = z.extend(z.omit(IngestMessageSchema, { object: true }), {
  teamId: TeamIdSchema,
  receivedAt: z.iso.datetime(),
});
const ObjectIdSchema = IngestMessageSchema.shape.object.shape.id;

/**
 * `object` is the DrChrono object the caller has already validated (the webhook's envelope schema). Parsing it
 * again would copy every key for nothing (zod 4 rebuilds loose objects), so only its shape and id are checked
 * here and the object is sent as it is.
 */
function checkedObject(object: unknown): IngestMessage['object'] {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new TypeError('ingest message object must be a JSON object');
  ObjectIdSchema.parse((object as { id?: unknown }).id);
  return object as IngestMessage['object'];
}

/**
 * Put one ingest message on the queue. The message is checked first, so a malformed message fails here
 * rather than in the sync worker. Attributes carry ids only (no PHI) for routing and inspection.
 * The body is encoded so SQS accepts any JSON text (encodeSqsMessageBody); a message over SQS's size limit
 * rejects with SqsMessageTooLargeError before any call. Resolves with the SQS message id once SQS has accepted
 * the message; rejects otherwise.
 */
export async function enqueueIngestMessage(sqs: SQSClient, queueUrl: string, input: IngestMessageInput): Promise<string | undefined> {
  const { object, ...header } = input;
  const msg: IngestMessage = { ...IngestHeaderSchema.parse(header), object: checkedObject(object) };
  const body = encodeSqsMessageBody(msg);
  const attributes = {
    teamId: { DataType: 'String', StringValue: msg.teamId },
    event: { DataType: 'String', StringValue: msg.event },
  };
  const bytes = sqsMessageBytes(body, attributes);
  if (bytes > MAX_SQS_MESSAGE_BYTES) throw new SqsMessageTooLargeError(bytes);
  const out = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }));
  return out.MessageId;
}
