import type { Message } from '@aws-sdk/client-sqs';
import { toSqsRecord } from '../../../local/poller/sqs-event';

describe('toSqsRecord: ReceiveMessage output in the Lambda SQS record shape', () => {
  const message: Message = {
    MessageId: 'mid-1',
    ReceiptHandle: 'rh-1',
    Body: '{"v":1}',
    MD5OfBody: 'md5body',
    MD5OfMessageAttributes: 'md5attrs',
    Attributes: {
      ApproximateReceiveCount: '3',
      SentTimestamp: '1700000000000',
      SenderId: 'AIDASENDER',
      ApproximateFirstReceiveTimestamp: '1700000000100',
    },
    MessageAttributes: {
      teamId: { DataType: 'String', StringValue: 'team-1' },
      blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
    },
  };

  it('maps ids, body, system attributes and source fields', () => {
    const record = toSqsRecord(message, 'arn:aws:sqs:us-east-1:000000000000:q', 'us-east-1');
    expect(record).toMatchObject({
      messageId: 'mid-1',
      receiptHandle: 'rh-1',
      body: '{"v":1}',
      md5OfBody: 'md5body',
      md5OfMessageAttributes: 'md5attrs',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
      attributes: {
        ApproximateReceiveCount: '3',
        SentTimestamp: '1700000000000',
        SenderId: 'AIDASENDER',
        ApproximateFirstReceiveTimestamp: '1700000000100',
      },
    });
  });

  it('gives message attributes the camelCase shape with binary values in base64', () => {
    const record = toSqsRecord(message, 'arn', 'us-east-1');
    expect(record.messageAttributes).toEqual({
      teamId: { stringValue: 'team-1', stringListValues: [], binaryListValues: [], dataType: 'String' },
      blob: { binaryValue: 'AQID', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
    });
  });
});
