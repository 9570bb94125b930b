import type { Message } from '@aws-sdk/client-sqs';
import type { SQSMessageAttributes, SQSRecord } from 'aws-lambda';

/**
 * Builds the SQS event records Lambda hands to a function from ReceiveMessage output: Lambda's camelCase
 * record shape, string system attributes, and message attributes as {stringValue, binaryValue, dataType}.
 */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const sys = message.Attributes ?? {};
  const now = String(Date.now());
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, attr] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(attr.StringValue !== undefined ? { stringValue: attr.StringValue } : {}),
      ...(attr.BinaryValue !== undefined ? { binaryValue: Buffer.from(attr.BinaryValue).toString('base64') } : {}),
      stringListValues: attr.StringListValues ?? [],
      binaryListValues: (attr.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: attr.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ...sys,
      ApproximateReceiveCount: sys.ApproximateReceiveCount ?? '1',
      SentTimestamp: sys.SentTimestamp ?? now,
      SenderId: sys.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: sys.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}
