import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { formatAge, run } from '../../../cli/commands/dlq';
import { CliError, type CliContext } from '../../../cli/context';

const ctx: CliContext = {
  target: 'local',
  resources: { stage: 'local', teamsTable: 't', recordsTable: 'r', integrationLogTable: 'l', teamSecretPrefix: 'p/', ingestQueueUrl: 'q', ingestDlqUrl: 'q-dlq' },
  ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
  secrets: new SecretsManagerClient({ region: 'us-east-1' }),
  sqs: new SQSClient({ region: 'us-east-1' }),
  out: () => undefined,
  err: () => undefined,
};

describe('drchrono-sync dlq: usage errors exit 2 before touching a queue', () => {
  it.each([
    [['list', '--queue', 'sync']],
    [['redrive', '--queue', 'write-back.fifo']],
    [['list', '--team', 'not-a-uuid']],
    [['redrive', '--max', '0']],
    [['redrive', '--max', '2.5']],
    [['list', '--max', '3']],
    [['list', 'extra']],
    [['purge']],
  ])('%j', async (argv) => {
    const err = await run(argv, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
  });
});

describe('formatAge', () => {
  it.each([
    [42_000, '42s'],
    [17 * 60_000, '17m'],
    [3 * 3_600_000 + 5 * 60_000, '3h05m'],
    [2 * 86_400_000 + 4 * 3_600_000, '2d04h'],
  ])('%d ms → %s', (ms, text) => expect(formatAge(ms)).toBe(text));
});

describe('drchrono-sync dlq redrive --target aws', () => {
  it('copies the FIFO write-back DLQ back message by message, never through a message move task', async () => {
    const sqs = new SQSClient({ region: 'us-east-1' });
    const mock = mockClient(sqs);
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0', QueueArn: 'arn:aws:sqs:us-east-1:1:q' } });
    mock.on(ReceiveMessageCommand).resolves({});
    mock.on(ChangeMessageVisibilityBatchCommand).resolves({});
    mock.on(StartMessageMoveTaskCommand).rejects(new Error('no move task for FIFO'));
    const out: string[] = [];
    const aws: CliContext = {
      ...ctx,
      target: 'aws',
      sqs,
      resources: { ...ctx.resources, writeBackQueueUrl: 'https://sqs/1/x-write-back.fifo', writeBackDlqUrl: 'https://sqs/1/x-write-back-dlq.fifo' },
      out: (l) => out.push(l),
    };
    expect(await run(['redrive', '--queue', 'write-back'], aws)).toBe(0);
    expect(mock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(mock.commandCalls(ReceiveMessageCommand)[0]!.args[0].input.QueueUrl).toBe('https://sqs/1/x-write-back-dlq.fifo');
    expect(out).toEqual(['write-back DLQ: 0 moved back to the write-back queue, 0 left in the DLQ', '0 dead letters redriven']);
  });

  it('redrive without --queue moves the ingest and backfill DLQs only: write-back must be named', async () => {
    const sqs = new SQSClient({ region: 'us-east-1' });
    const mock = mockClient(sqs);
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
    mock.on(ReceiveMessageCommand).resolves({});
    const local: CliContext = {
      ...ctx,
      sqs,
      resources: {
        ...ctx.resources,
        backfillQueueUrl: 'b',
        backfillDlqUrl: 'b-dlq',
        writeBackQueueUrl: 'https://sqs/1/x-write-back.fifo',
        writeBackDlqUrl: 'https://sqs/1/x-write-back-dlq.fifo',
      },
    };
    expect(await run(['redrive'], local)).toBe(0);
    expect(mock.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.QueueUrl)).toEqual(['q-dlq', 'b-dlq']);
  });

  it('list without --queue skips, with a note, a DLQ the target does not name, and still lists the others', async () => {
    const sqs = new SQSClient({ region: 'us-east-1' });
    const mock = mockClient(sqs);
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
    mock.on(ReceiveMessageCommand).resolves({});
    const out: string[] = [];
    const err: string[] = [];
    const envTarget: CliContext = { ...ctx, sqs, resources: { ...ctx.resources, backfillQueueUrl: 'b', backfillDlqUrl: 'b-dlq' }, out: (l) => void out.push(l), err: (l) => void err.push(l) };
    expect(await run(['list'], envTarget)).toBe(0);
    expect(mock.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.QueueUrl)).toEqual(['q-dlq', 'b-dlq']);
    expect(out).toEqual(['no dead letters in the ingest and backfill DLQs']);
    expect(err.join('\n')).toMatch(/does not name the write-back queue .*WRITE_BACK_QUEUE_URL.*not listed/);
  });

  it('list --queue write-back fails before receiving anything when the target does not name that queue', async () => {
    const sqs = new SQSClient({ region: 'us-east-1' });
    const mock = mockClient(sqs);
    mock.on(ReceiveMessageCommand).resolves({});
    await expect(run(['list', '--queue', 'write-back'], { ...ctx, sqs })).rejects.toThrow(/write-back queue/);
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
  });

  it('names what is missing when the target has no write-back queue URL', async () => {
    await expect(run(['list', '--queue', 'write-back'], ctx)).rejects.toThrow(/write-back queue \(stack output WriteBackQueueUrl, or WRITE_BACK_QUEUE_URL without --stack\)/);
  });
});
