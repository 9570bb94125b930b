import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
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
