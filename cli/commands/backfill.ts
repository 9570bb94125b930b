import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { sendWorkItem, StartItemSchema } from '../../shared/team-job/work-item';
import { parseTeamId } from '../../shared/teams/team-id';
import { getTeamItem } from '../../shared/teams/team-store';
import { CliError, type CliContext } from '../context';

export const BACKFILL_USAGE = `Usage:
  drchrono-sync backfill <teamId> [--since YYYY-MM-DD] [--page-size N]
      queue a backfill of doctors, appointment profiles, patients and appointments; it replaces a running one.
      --since: only patients and appointments updated since DATE (appointments of any date)
      --page-size: bulk page size, 1 to 1000 (default 1000)
  drchrono-sync backfill status <teamId> [--json]
      the team's backfill job: phase, counts, percent`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: { since: { type: 'string' }, 'page-size': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${BACKFILL_USAGE}`, 2);
  }
  const { values, positionals } = parsedArgs;
  if (values.help) {
    ctx.out(BACKFILL_USAGE);
    return 0;
  }
  if (positionals[0] === 'status') return status(positionals.slice(1), values.json === true, ctx);
  if (positionals.length !== 1) throw new CliError(`expected exactly one team id\n\n${BACKFILL_USAGE}`, 2);
  const teamId = teamIdOf(positionals[0]);

  const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size']);
  const candidate = { type: 'start' as const, teamId, jobId: `op-${Date.now()}-${randomBytes(3).toString('hex')}`, since: values.since, pageSize };
  const item = StartItemSchema.safeParse(candidate);
  if (!item.success) {
    const issue = item.error.issues[0];
    const what = issue?.path[0] === 'pageSize' ? '--page-size must be an integer from 1 to 1000' : '--since must be YYYY-MM-DD (or YYYY-MM-DDTHH:MM[:SS])';
    throw new CliError(what, 2);
  }
  const team = await getTeamItem(ctx.ddb, ctx.resources.teamsTable, teamId, true);
  if (!team) throw new CliError(`team ${teamId} is not registered`);
  if (team.status !== 'connected') throw new CliError(`team ${teamId} is ${team.status}; a backfill needs a connected team`);
  if (team.disabledAt !== undefined) throw new CliError(`team ${teamId} is disabled; \`drchrono-sync team enable ${teamId}\` first (it catches up on its own)`);
  const queueUrl = ctx.resources.backfillQueueUrl;
  if (!queueUrl) throw new CliError('the backfill queue URL is unknown for this target (BACKFILL_QUEUE_URL or stack output BackfillQueueUrl)');
  await sendWorkItem(ctx.sqs, queueUrl, item.data);
  ctx.out(`backfill ${item.data.jobId} queued for team ${teamId}${item.data.since ? ` (since ${item.data.since})` : ''}`);
  ctx.out(`follow it with: drchrono-sync team show ${teamId}`);
  return 0;
}

function teamIdOf(raw: string | undefined): string {
  const teamId = parseTeamId(raw);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${raw ?? ''}"`, 2);
  return teamId;
}

async function status(positionals: string[], json: boolean, ctx: CliContext): Promise<number> {
  if (positionals.length !== 1) throw new CliError(`expected exactly one team id\n\n${BACKFILL_USAGE}`, 2);
  const teamId = teamIdOf(positionals[0]);
  const job = await getBackfillJob(ctx.ddb, ctx.resources.teamsTable, teamId);
  if (!job) {
    ctx.out(json ? 'null' : `team ${teamId} has no backfill`);
    return 0;
  }
  if (json) {
    ctx.out(JSON.stringify(job, null, 2));
    return 0;
  }
  const total = (n: number, of?: number) => (of === undefined ? String(n) : `${n} of ${of}`);
  ctx.out(`Backfill ${job.jobId} (${job.reason}): ${job.status}, ${job.percent}%, phase ${job.cursor.phase}`);
  ctx.out(`  doctors ${job.doctors}, profiles ${job.profiles}, patients ${total(job.patients, job.patientsTotal)}, appointments ${job.appointments}`);
  ctx.out(`  created ${job.created}, updated ${job.updated}, unchanged ${job.unchanged}, failed ${job.failed}`);
  ctx.out(`  started ${job.startedAt}${job.finishedAt ? `, finished ${job.finishedAt}` : ''}`);
  if (job.status === 'paused') ctx.out(`  paused: ${job.pauseReason ?? 'unknown'} until ${job.pausedUntil ?? '?'}`);
  return 0;
}
