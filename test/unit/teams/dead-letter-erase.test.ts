import { mockClient } from 'aws-sdk-client-mock';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
  type ReceiveMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { eraseTeamDeadLetters } from '../../../shared/teams/dead-letter-erase';

const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);
const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const OTHER = '9d1e0f4c-2b3a-4c5d-8e6f-7a8b9c0d1e2f';
const DLQ = 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest-dlq';

function letter(n: number, teamId = TEAM): Message {
  return { MessageId: `m-${n}`, ReceiptHandle: `rh-${n}`, Body: '{}', MessageAttributes: { teamId: { DataType: 'String', StringValue: teamId } } };
}

function receives(): ReceiveMessageCommandInput[] {
  return sqsMock.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input);
}

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
  sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
});

describe('eraseTeamDeadLetters', () => {
  it('does not stop at one empty answer: the team letters received after it are deleted too', async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [] })
      .resolvesOnce({ Messages: [letter(1), letter(2, OTHER)] })
      .resolves({ Messages: [] });
    expect(await eraseTeamDeadLetters(sqs, DLQ, TEAM)).toBe(1);
    const deleted = sqsMock.commandCalls(DeleteMessageBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle));
    expect(deleted).toEqual(['rh-1']);
    // Ends on two consecutive empty polls, after the letters.
    expect(receives()).toHaveLength(4);
  });

  it('long-polls every receive so an empty answer covers every SQS server', async () => {
    sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
    await eraseTeamDeadLetters(sqs, DLQ, TEAM);
    expect(receives().length).toBeGreaterThan(0);
    for (const input of receives()) expect(input.WaitTimeSeconds).toBeGreaterThanOrEqual(1);
  });

  it('throws when the receive cap is reached before the queue was seen empty, after counting what it deleted', async () => {
    // A queue that never runs dry within the cap: the team's letter, the other team's, alternately.
    let n = 0;
    sqsMock.on(ReceiveMessageCommand).callsFake(() => {
      const m = letter(n, n % 2 === 0 ? TEAM : OTHER);
      n++;
      return { Messages: [m] };
    });
    const err = await eraseTeamDeadLetters(sqs, DLQ, TEAM, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/run the removal again/);
    expect((err as { erased?: number }).erased).toBe(2);
    // The other team's letters are made visible again even though the pass failed.
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle));
    expect(released).toEqual(['rh-1', 'rh-3']);
  });

  it('hides the letters it passes long enough for a pass over the whole queue', async () => {
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '100000' } });
    sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
    await eraseTeamDeadLetters(sqs, DLQ, TEAM);
    // 100000 messages at 25 a second take 4000 s: a 120 s hide would hand the first ones back mid-pass.
    for (const input of receives()) expect(input.VisibilityTimeout).toBe(4000);
  });
});
