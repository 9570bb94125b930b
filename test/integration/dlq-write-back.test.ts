import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { documentClient, sqsClient } from '../../shared/aws/clients';
import { queueArn } from '../../shared/dlq/dead-letters';
import { readIntegrationLog } from '../../shared/store/integration-log';
import { changeGroupId, type ChangeMessage } from '../../shared/write-back/change';
import { createChange, getChange } from '../../shared/write-back/change-store';
import { main } from '../../cli/main';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { pausePoller, platform, resumePoller } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * `dlq list` and `dlq redrive` on the write-back FIFO DLQ, against the local platform (fauxqs FIFO queues, the
 * write-back worker behind the local poller). Dead letters are made the way they are made in production: bodies that
 * are not change messages, which the worker ends `failed` (logged) and fails until the queue's redrive policy moves
 * them to the DLQ. The test lowers the policy's maxReceiveCount from 100 to 2 so that takes seconds, and restores it.
 */
interface Letter {
  queue: string;
  teamId?: string;
  event?: string;
  changeId?: string;
  reason: { errorClass?: string; detail?: string } | null;
}

const TEAM = randomUUID();
/** A value that must never be printed: it stands for the PHI a change's payload carries. */
const SECRET = 'Poisonfieldvalue';
/** Record r1 gets three changes (in this order), record r2 one. */
const changes: ChangeMessage[] = [];
let savedPolicy: string | undefined;
let dlqBaseline = 0;

const wbQueue = () => platform().queueUrls.writeBack;
const wbDlq = () => platform().queueUrls.writeBackDlq;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function visibleIn(queueUrl: string): Promise<number> {
  const out = await sqsClient().send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

function change(record: string): ChangeMessage {
  return {
    v: 1,
    changeId: randomUUID(),
    teamId: TEAM,
    entity: 'patient',
    op: 'update',
    key: `CHART-${record}`,
    drchronoId: record === 'r1' ? '7001' : '7002',
    fieldsWritten: ['First Name'],
    payload: { first_name: SECRET },
    baseVersion: null,
    requestedAt: new Date().toISOString(),
  };
}

beforeAll(async () => {
  const sqs = sqsClient();
  savedPolicy = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: wbQueue(), AttributeNames: ['RedrivePolicy'] }))).Attributes?.RedrivePolicy;
  const deadLetterTargetArn = await queueArn(sqs, wbDlq());
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: wbQueue(), Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount: 2 }) } }));
  dlqBaseline = await visibleIn(wbDlq());
  for (const record of ['r1', 'r2', 'r1', 'r1']) changes.push(change(record));
  for (const c of changes) {
    // Pending change items, as the write API stores them, so the worker ends each one `failed` and logs why.
    await createChange(documentClient(), platform().resources.teamsTable, c);
    // A body that fails the change message schema (an extra field), carrying a value that must never be printed.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: wbQueue(),
        MessageBody: JSON.stringify({ ...c, unexpected: SECRET }),
        MessageGroupId: changeGroupId(c),
        MessageDeduplicationId: c.changeId,
        MessageAttributes: { teamId: { DataType: 'String', StringValue: TEAM }, entity: { DataType: 'String', StringValue: 'patient' } },
      }),
    );
  }
  await waitFor(async () => ((await visibleIn(wbDlq())) >= dlqBaseline + changes.length ? true : undefined), {
    timeoutMs: 90_000,
    intervalMs: 500,
    description: 'the four write-back messages in the DLQ',
  });
}, 120_000);

afterAll(async () => {
  await resumePoller('write-back').catch(() => undefined);
  if (savedPolicy) await sqsClient().send(new SetQueueAttributesCommand({ QueueUrl: wbQueue(), Attributes: { RedrivePolicy: savedPolicy } }));
});

describe('drchrono-sync dlq on the write-back FIFO DLQ', () => {
  it('lists the first dead letter of each record with its change id and logged reason, says how many wait behind, consumes none', async () => {
    const r = await cli('dlq', 'list', '--queue', 'write-back', '--team', TEAM, '--json');
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.out) as Letter[];
    // fauxqs hands out one message per group while it is in flight: the heads of r1 and r2.
    expect(listed.map((l) => l.changeId).sort()).toEqual([changes[0]!.changeId, changes[1]!.changeId].sort());
    for (const l of listed) {
      expect(l).toMatchObject({ queue: 'write-back', teamId: TEAM, event: 'WRITE_BACK_INVALID_MESSAGE' });
      expect(l.reason).toMatchObject({ errorClass: 'InvalidChangeMessageError' });
      expect(l.reason?.detail).toMatch(/moving to the DLQ/);
    }
    expect(r.err).toMatch(/^note: about \d+ more write-back dead letters wait behind the listed ones in their message groups/);
    expect(Number(/about (\d+) more/.exec(r.err)![1])).toBeGreaterThanOrEqual(2);

    const text = await cli('dlq', 'list', '--queue', 'write-back', '--team', TEAM);
    expect(text.code).toBe(0);
    expect(text.out.split('\n')[0]).toMatch(/^QUEUE\s+TEAM\s+EVENT\s+DELIVERY\s+DRCHRONO ID/);
    expect(text.out).toContain(changes[0]!.changeId);
    expect(text.out.split('\n').at(-1)).toBe('2 dead letters');
    expect(`${text.out}\n${text.err}\n${r.out}`).not.toContain(SECRET);
    // Nothing consumed: every dead letter is still there (the listing released what it held).
    expect(await visibleIn(wbDlq())).toBe(dlqBaseline + changes.length);
    for (const c of changes) expect((await getChange(documentClient(), platform().resources.teamsTable, TEAM, c.changeId))?.status).toBe('failed');
  });

  it('redrive moves every change back into its own message group, in order, with fresh deduplication ids, and logs it', async () => {
    // With the worker paused, the copies stay on the work queue for the test to read.
    await pausePoller('write-back');
    const r = await cli('dlq', 'redrive', '--queue', 'write-back', '--team', TEAM);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('write-back DLQ: 4 moved back to the write-back queue');
    expect(r.out.split('\n').at(-1)).toBe('4 dead letters redriven');
    expect(r.out).not.toContain(SECRET);

    // Read the work queue as the worker would: a group's next message only once the previous one is deleted.
    const ours: Message[] = [];
    const others: Message[] = [];
    await waitFor(
      async () => {
        const got = await sqsClient().send(
          new ReceiveMessageCommand({
            QueueUrl: wbQueue(),
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 30,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
          }),
        );
        for (const m of got.Messages ?? []) {
          if (!m.Attributes?.MessageGroupId?.startsWith(`${TEAM}:`)) {
            others.push(m);
            continue;
          }
          ours.push(m);
          await sqsClient().send(new DeleteMessageCommand({ QueueUrl: wbQueue(), ReceiptHandle: m.ReceiptHandle! }));
        }
        return ours.length >= changes.length ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'the four copies on the write-back queue' },
    );
    for (const m of others) await sqsClient().send(new ChangeMessageVisibilityCommand({ QueueUrl: wbQueue(), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));

    const idOf = (m: Message) => (JSON.parse(m.Body!) as { changeId: string }).changeId;
    const inGroup = (c: ChangeMessage) => ours.filter((m) => m.Attributes!.MessageGroupId === changeGroupId(c)).map(idOf);
    const r1 = changes.filter((c) => c.key === 'CHART-r1');
    expect(inGroup(r1[0]!)).toEqual(r1.map((c) => c.changeId));
    expect(inGroup(changes[1]!)).toEqual([changes[1]!.changeId]);
    for (const m of ours) {
      expect(m.Attributes!.MessageDeduplicationId).toMatch(/^redrive-/);
      expect(m.Attributes!.MessageDeduplicationId).not.toBe(idOf(m));
    }

    const log = await readIntegrationLog(documentClient(), platform().resources.integrationLogTable, TEAM, { limit: 100 });
    const redriven = log.filter((e) => e.outcome === 'info' && e.detail === 'redriven from the write-back DLQ by an operator');
    expect(redriven.map((e) => e.changeId).sort()).toEqual(changes.map((c) => c.changeId).sort());
    expect(redriven.every((e) => e.direction === 'outbound')).toBe(true);

    expect((await cli('dlq', 'list', '--queue', 'write-back', '--team', TEAM)).out).toBe(`no dead letters for team ${TEAM} in the write-back DLQ`);
    await resumePoller('write-back');
  });
});
