import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import { writeIntegrationLog } from '../../shared/store/integration-log';
import { getTeamItem } from '../../shared/teams/team-store';
import { COUNTS_SETTLE_MS } from '../../shared/teams/webhook-counts';
import { main } from '../../cli/main';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { platform, runScheduled } from './helpers/platform';

/**
 * The hourly reconcile tick rolls the webhook counts carried by integration log items into the team item, so they
 * outlive the log's TTL without anyone running the CLI; a second tick adds nothing.
 */
const ddb = () => documentClient();
const tables = () => platform().resources;

async function logGroup(teamId: string, at: Date, processed: number, groupId: string): Promise<void> {
  const entries = Array.from({ length: processed }, (_, i) => ({ at: at.toISOString(), event: 'PATIENT_MODIFY', deliveryId: `${groupId}-${i}`, outcome: 'unchanged' as const }));
  await writeIntegrationLog(ddb(), tables().integrationLogTable, teamId, entries, { now: at, groupId, webhookCounts: { processed, lastDeliveryAt: at.toISOString() } });
}

describe('webhook counts roll-up by the hourly reconcile tick', () => {
  it('folds settled log counts into the team item of a team that is not connected, once, and team show still adds the rest', async () => {
    const teamId = randomUUID();
    const now = Date.now();
    await ddb().send(
      new PutCommand({
        TableName: tables().teamsTable,
        Item: { pk: teamId, sk: 'TEAM', teamId, status: 'reauthorization_required', createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() },
      }),
    );
    const settledAt = new Date(now - COUNTS_SETTLE_MS - 3_600_000);
    await logGroup(teamId, settledAt, 3, 'g1');
    await logGroup(teamId, new Date(settledAt.getTime() + 1000), 2, 'g2');
    // Younger than the settle time: counted by readers, not rolled up yet.
    await logGroup(teamId, new Date(now - 60_000), 4, 'g3');

    const first = await runScheduled<{ webhookCounts: { failed: number } }>('reconcile');
    expect(first.webhookCounts.failed).toBe(0);
    const rolled = await getTeamItem(ddb(), tables().teamsTable, teamId, true);
    expect(rolled).toMatchObject({ webhooksProcessed: 5, lastProcessedDeliveryAt: new Date(settledAt.getTime() + 1000).toISOString() });
    // The watermark is the settle cutoff of that tick: past every settled item, behind the young one.
    const through = String(rolled?.webhookCountsThrough);
    expect(through > new Date(settledAt.getTime() + 1000).toISOString()).toBe(true);
    expect(through < new Date(now - 60_000).toISOString()).toBe(true);

    await runScheduled('reconcile');
    expect((await getTeamItem(ddb(), tables().teamsTable, teamId, true))?.webhooksProcessed).toBe(5);

    const out: string[] = [];
    const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, 'team', 'show', teamId, '--json'], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).toBe(0);
    expect((JSON.parse(out.join('\n')) as { team: { webhooksProcessed: number } }).team.webhooksProcessed).toBe(9);
  });

  it('moves the watermark of a team whose log carries no webhook counts, so the next tick does not re-read its log', async () => {
    const teamId = randomUUID();
    const now = Date.now();
    await ddb().send(
      new PutCommand({
        TableName: tables().teamsTable,
        Item: { pk: teamId, sk: 'TEAM', teamId, status: 'registered', createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() },
      }),
    );
    // A backfill's log entries: no webhook counts.
    const at = new Date(now - COUNTS_SETTLE_MS - 3_600_000);
    await writeIntegrationLog(ddb(), tables().integrationLogTable, teamId, [{ at: at.toISOString(), event: 'backfill', outcome: 'unchanged' as const }], { now: at, groupId: 'b1' });

    const tick = await runScheduled<{ webhookCounts: { failed: number } }>('reconcile');
    expect(tick.webhookCounts.failed).toBe(0);
    const item = await getTeamItem(ddb(), tables().teamsTable, teamId, true);
    expect(item?.webhooksProcessed ?? 0).toBe(0);
    expect(typeof item?.webhookCountsThrough).toBe('string');
    expect(String(item?.webhookCountsThrough) > at.toISOString()).toBe(true);
  });
});
