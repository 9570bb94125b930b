import { mockClient } from 'aws-sdk-client-mock';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  applyDeferral,
  deferralsOf,
  MAX_DEFERRAL_GENERATIONS,
  MAX_DELAY_SECONDS,
  MAX_VISIBILITY_SECONDS,
  planDeferral,
  receiveCountOf,
} from '../../../shared/sync/deferral';

const sqs = new SQSClient({ region: 'us-east-1' });
const mock = mockClient(sqs);
beforeEach(() => mock.reset());

function record(receiveCount: string, deferrals?: string): SQSRecord {
  return {
    messageId: 'm1',
    receiptHandle: 'rh',
    body: '{"v":1}',
    attributes: { ApproximateReceiveCount: receiveCount } as SQSRecord['attributes'],
    messageAttributes: {
      teamId: { dataType: 'String', stringValue: 't1' } as SQSRecord['messageAttributes'][string],
      ...(deferrals ? { deferrals: { dataType: 'Number', stringValue: deferrals } as SQSRecord['messageAttributes'][string] } : {}),
    },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn',
    awsRegion: 'us-east-1',
  };
}

describe('planDeferral', () => {
  it('extends visibility while the receive count is far from maxReceiveCount', () => {
    expect(planDeferral({ delaySeconds: 120.2, receiveCount: 1, maxReceiveCount: 5, deferrals: 0 })).toEqual({ action: 'change-visibility', seconds: 121 });
  });
  it('caps visibility below the 12 hour SQS limit', () => {
    expect(planDeferral({ delaySeconds: 99_999, receiveCount: 1, maxReceiveCount: 5, deferrals: 0 })).toEqual({
      action: 'change-visibility',
      seconds: MAX_VISIBILITY_SECONDS,
    });
  });
  it('re-enqueues a copy when the next receive could exceed maxReceiveCount', () => {
    expect(planDeferral({ delaySeconds: 3000, receiveCount: 4, maxReceiveCount: 5, deferrals: 2 })).toEqual({
      action: 'requeue',
      delaySeconds: MAX_DELAY_SECONDS,
      deferrals: 3,
    });
  });
  it('gives up after too many generations so nothing cycles forever', () => {
    expect(planDeferral({ delaySeconds: 10, receiveCount: 5, maxReceiveCount: 5, deferrals: MAX_DEFERRAL_GENERATIONS }).action).toBe('give-up');
  });
});

describe('record attributes', () => {
  it('reads the receive count and the deferral generation', () => {
    expect(receiveCountOf(record('3'))).toBe(3);
    expect(deferralsOf(record('1', '4'))).toBe(4);
    expect(deferralsOf(record('1'))).toBe(0);
    expect(deferralsOf(record('1', 'x'))).toBe(0);
  });
});

describe('applyDeferral', () => {
  it('changes the visibility of the in-flight message and keeps it', async () => {
    mock.on(ChangeMessageVisibilityCommand).resolves({});
    expect(await applyDeferral(sqs, 'q', record('1'), { action: 'change-visibility', seconds: 60 })).toBe(true);
    expect(mock.commandCalls(ChangeMessageVisibilityCommand)[0]!.args[0].input).toEqual({ QueueUrl: 'q', ReceiptHandle: 'rh', VisibilityTimeout: 60 });
  });
  it('sends a delayed copy with the same body and attributes plus the generation, and acknowledges the original', async () => {
    mock.on(SendMessageCommand).resolves({});
    expect(await applyDeferral(sqs, 'q', record('5', '1'), { action: 'requeue', delaySeconds: 900, deferrals: 2 })).toBe(false);
    const input = mock.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.MessageBody).toBe('{"v":1}');
    expect(input.DelaySeconds).toBe(900);
    expect(input.MessageAttributes).toEqual({
      teamId: { DataType: 'String', StringValue: 't1' },
      deferrals: { DataType: 'Number', StringValue: '2' },
    });
  });
});
