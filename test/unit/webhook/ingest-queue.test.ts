import { mockClient } from 'aws-sdk-client-mock';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { enqueueIngestMessage } from '../../../shared/ingest/ingest-queue';
import { isSqsText, SqsMessageTooLargeError } from '../../../shared/ingest/sqs-message-body';

const sqsMock = mockClient(SQSClient);
const queueUrl = 'http://sqs.local/000000000000/drchrono-sync-local-ingest';
const msg = {
  v: 1 as const,
  teamId: '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c',
  event: 'PATIENT_MODIFY',
  deliveryId: 'd-1',
  receivedAt: '2026-11-21T16:00:00.000Z',
  object: { id: 42, chart_id: 'ABCD0001' },
};

beforeEach(() => sqsMock.reset());

describe('enqueueIngestMessage', () => {
  it('sends one message with the validated body and id-only attributes', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await expect(enqueueIngestMessage(new SQSClient({}), queueUrl, msg)).resolves.toBe('m-1');
    const calls = sqsMock.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.QueueUrl).toBe(queueUrl);
    expect(JSON.parse(input.MessageBody!)).toEqual({ ...msg, source: 'webhook' });
    expect(input.MessageAttributes).toEqual({
      teamId: { DataType: 'String', StringValue: msg.teamId },
      event: { DataType: 'String', StringValue: 'PATIENT_MODIFY' },
    });
  });

  it('rejects an invalid message without calling SQS', async () => {
    const bad = { ...msg, object: { chart_id: 'no id' } } as unknown as typeof msg;
    await expect(enqueueIngestMessage(new SQSClient({}), queueUrl, bad)).rejects.toThrow();
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('sends the object as given, unknown keys and nesting included', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-2' });
    const object = { id: 'A-17', nested: { list: [1, { deep: true }] }, empty: null };
    await enqueueIngestMessage(new SQSClient({}), queueUrl, { ...msg, object });
    expect(JSON.parse(sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!).object).toEqual(object);
  });

  it.each([
    ['a team id that is not a UUID', { teamId: 'team-1' }],
    ['a receivedAt that is not an ISO time', { receivedAt: 'yesterday' }],
    ['an unknown source', { source: 'email' }],
    ['an object that is a list', { object: [{ id: 1 }] }],
    ['an object id of the wrong type', { object: { id: true } }],
  ])('rejects %s without calling SQS', async (_what, change) => {
    const bad = { ...msg, ...change } as unknown as typeof msg;
    await expect(enqueueIngestMessage(new SQSClient({}), queueUrl, bad)).rejects.toThrow();
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('propagates an SQS failure', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));
    await expect(enqueueIngestMessage(new SQSClient({}), queueUrl, msg)).rejects.toThrow('throttled');
  });
});

describe('enqueueIngestMessage: bodies SQS would refuse', () => {
  it('sends an object with U+FFFE, U+FFFF and a lone surrogate as SQS-accepted text that parses back to it', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-3' });
    const object = { id: 42, first_name: 'Zo\uFFFE\uFFFF', last_name: 'x\uD800', middle_name: '\u{1F600}' };
    await enqueueIngestMessage(new SQSClient({}), queueUrl, { ...msg, object });
    const body = sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!;
    expect(/[\uFFFE\uFFFF]/.test(body)).toBe(false);
    expect(isSqsText(body)).toBe(true);
    expect(JSON.parse(body).object).toEqual(object);
  });

  it('rejects a message over the SQS size limit once encoded, without calling SQS', async () => {
    const object = { id: 42, notes: '\uFFFF'.repeat(50_000) };
    await expect(enqueueIngestMessage(new SQSClient({}), queueUrl, { ...msg, object })).rejects.toBeInstanceOf(SqsMessageTooLargeError);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
