import { parseArgs } from 'node:util';
import { disableTeam, enableTeam, TeamNotFoundError } from '../../shared/teams/team-lifecycle';
import { DRAIN_MS, planRemoval, REMOVAL_COUNT_KINDS, removeTeam, TeamNotRegisteredError, type RemovalCounts } from '../../shared/teams/team-removal';
import { getTeamItem, TeamRemovedError } from '../../shared/teams/team-store';
import { DEFAULT_DELETES_PER_SECOND, MAX_DELETES_PER_SECOND } from '../../shared/store/paced-delete';
import { parsedArgs, teamIdArg } from '../args';
import { CliError, type CliContext } from '../context';

/** `team disable|enable|remove`: docs/operations.md. */
export const LIFECYCLE_USAGE = `Usage:
  drchrono-sync team disable <teamId>
  drchrono-sync team enable <teamId>
  drchrono-sync team remove <teamId> --erase --yes [--rate N]`;

/**
 * Local target only: the drain after the fence, in seconds. For tests that have stopped the local pollers (no
 * worker is running, so there is nothing to wait for); a deployed stack always waits the full drain.
 */
export const LOCAL_DRAIN_ENV = 'DRCHRONO_SYNC_REMOVAL_DRAIN_SECONDS';

const parsed = <T>(parse: () => T): T => parsedArgs(parse, LIFECYCLE_USAGE);

export async function run(sub: 'disable' | 'enable' | 'remove', args: string[], ctx: CliContext): Promise<number> {
  if (sub === 'disable') return disable(args, ctx);
  if (sub === 'enable') return enable(args, ctx);
  return remove(args, ctx);
}

function lifecycleError(err: unknown): never {
  if (err instanceof TeamNotFoundError || err instanceof TeamNotRegisteredError) throw new CliError(err.message);
  if (err instanceof TeamRemovedError) throw new CliError(`${err.message}: it cannot be disabled or enabled`);
  throw err;
}

async function disable(args: string[], ctx: CliContext): Promise<number> {
  const { positionals } = parsed(() => parseArgs({ args, options: {}, allowPositionals: true }));
  const teamId = teamIdArg(positionals, LIFECYCLE_USAGE);
  const { team, changed } = await disableTeam({ ddb: ctx.ddb, teamsTable: ctx.resources.teamsTable }, teamId).catch(lifecycleError);
  ctx.out(changed ? `Team ${teamId} disabled at ${team.disabledAt}.` : `Team ${teamId} was already disabled (since ${team.disabledAt}).`);
  ctx.out('  Webhooks are still answered 2xx (DrChrono keeps the hook) but nothing is queued, synced, backfilled or reconciled;');
  ctx.out('  work queued before now is dropped (within 30 s). Tokens keep being refreshed, so enabling needs no reconnect.');
  ctx.out(`  \`drchrono-sync team enable ${teamId}\` turns it back on and catches up what was missed.`);
  return 0;
}

async function enable(args: string[], ctx: CliContext): Promise<number> {
  const { positionals } = parsed(() => parseArgs({ args, options: {}, allowPositionals: true }));
  const teamId = teamIdArg(positionals, LIFECYCLE_USAGE);
  // Checked before anything changes: an enable without its catch-up would silently skip what the team missed.
  if (!ctx.resources.backfillQueueUrl) throw new CliError('the target has no backfill queue URL (use --stack, or set BACKFILL_QUEUE_URL): the catch-up cannot be queued', 2);
  const { team, changed, catchUp } = await enableTeam(
    { ddb: ctx.ddb, teamsTable: ctx.resources.teamsTable, sqs: ctx.sqs, backfillQueueUrl: ctx.resources.backfillQueueUrl },
    teamId,
  ).catch(lifecycleError);
  ctx.out(changed ? `Team ${teamId} enabled.` : `Team ${teamId} was not disabled.`);
  if (!catchUp.reconcileQueued) {
    ctx.out(`  Status ${team.status}: nothing to catch up until the team is connected.`);
    return 0;
  }
  if (catchUp.backfillResumed) ctx.out(`  Backfill ${catchUp.backfillResumed.jobId} resumed at step ${catchUp.backfillResumed.step}.`);
  if (catchUp.backfillStarted) ctx.out('  Backfill queued: the team had none (its connect backfill was dropped while disabled), so its history is imported now.');
  ctx.out(
    catchUp.reconcileFrom
      ? `  Catch-up queued: a reconcile of everything changed in DrChrono since ${catchUp.reconcileFrom} (minus the overlap), and the deletion check.`
      : '  Catch-up queued: a reconcile (from the backfill\'s start) and the deletion check.',
  );
  ctx.out(`  Follow it with \`drchrono-sync log ${teamId}\` and \`drchrono-sync team show ${teamId}\`.`);
  return 0;
}

function countLines(counts: Partial<RemovalCounts>): string[] {
  const label: Record<keyof RemovalCounts, string> = {
    patients: 'patient records',
    appointments: 'appointment records',
    employees: 'employee records',
    integrationLog: 'integration log items',
    teamItems: 'team state items (backfill, reconcile, caches, counters)',
    deadLetters: 'dead-lettered queue messages',
    secret: 'team secret (credentials and tokens)',
  };
  return REMOVAL_COUNT_KINDS.filter((k) => counts[k] !== undefined).map((k) => `  ${String(counts[k]).padStart(8)}  ${label[k]}`);
}

function drainMs(ctx: CliContext): number {
  const raw = process.env[LOCAL_DRAIN_ENV];
  if (raw === undefined || ctx.target !== 'local') return DRAIN_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new CliError(`${LOCAL_DRAIN_ENV} must be a number of seconds`, 2);
  return seconds * 1000;
}

async function remove(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parsed(() =>
    parseArgs({ args, options: { erase: { type: 'boolean' }, yes: { type: 'boolean' }, rate: { type: 'string' } }, allowPositionals: true }),
  );
  const teamId = teamIdArg(positionals, LIFECYCLE_USAGE);
  const rate = values.rate === undefined ? DEFAULT_DELETES_PER_SECOND : Number(values.rate);
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_DELETES_PER_SECOND) {
    throw new CliError(`--rate must be a whole number of deletes per second from 1 to ${MAX_DELETES_PER_SECOND}`, 2);
  }
  // Removal always erases: a removed team with its PHI left behind is what this command exists to prevent.
  if (!values.erase) {
    throw new CliError(`team remove always erases the team's data: pass --erase --yes (run with --erase alone to see what it deletes)\n\n${LIFECYCLE_USAGE}`, 2);
  }
  // Checked before the fence: a removal that fences the team and then cannot reach a table would leave it half done.
  for (const [name, value] of [
    ['records table', ctx.resources.recordsTable],
    ['integration log table', ctx.resources.integrationLogTable],
  ] as const) {
    if (!value) throw new CliError(`the target has no ${name} name (use --stack, or set STAGE or RECORDS_TABLE and INTEGRATION_LOG_TABLE)`, 2);
  }
  // The DLQs are found through the work queues' redrive policies: without a queue URL its dead letters (PHI) would
  // be skipped and the removal would still report success.
  const { ingestQueueUrl, backfillQueueUrl, writeBackQueueUrl } = ctx.resources;
  for (const [name, value] of [
    ['ingest', ingestQueueUrl],
    ['backfill', backfillQueueUrl],
    // Write-back dead letters carry the app's field values (PHI) too.
    ['write-back', writeBackQueueUrl],
  ] as const) {
    if (!value) {
      throw new CliError(
        `the target has no ${name} queue URL, so the team's dead letters could not be erased (use --stack, or set INGEST_QUEUE_URL, BACKFILL_QUEUE_URL and WRITE_BACK_QUEUE_URL)`,
        2,
      );
    }
  }
  const deps = {
    ddb: ctx.ddb,
    secrets: ctx.secrets,
    teamsTable: ctx.resources.teamsTable,
    recordsTable: ctx.resources.recordsTable,
    integrationLogTable: ctx.resources.integrationLogTable,
    teamSecretPrefix: ctx.resources.teamSecretPrefix,
    sqs: ctx.sqs,
    workQueueUrls: [ingestQueueUrl!, backfillQueueUrl!, writeBackQueueUrl!],
  };
  const team = await getTeamItem(ctx.ddb, ctx.resources.teamsTable, teamId, true);
  if (!team) throw new CliError(`team ${teamId} is not registered`);

  if (!values.yes) {
    if (team.status === 'removed') {
      ctx.out(`Team ${teamId} was removed at ${team.removedAt}; nothing is left to delete.`);
      return 0;
    }
    const plan = await planRemoval(deps, teamId);
    ctx.err(`team remove --erase deletes, for team ${teamId} (status ${team.status}):`);
    for (const line of countLines(plan)) ctx.err(line);
    ctx.err('  the team\'s dead-lettered messages, and the team secret (DrChrono credentials, tokens, webhook secret),');
    ctx.err('  without a recovery window; queued work of the team is dropped by the workers. Kept: one audit item (team id, times, counts).');
    ctx.err('  Afterwards the webhook URL answers 404 and the team id cannot be registered again.');
    ctx.err(`Nothing was deleted. To delete: drchrono-sync team remove ${teamId} --erase --yes`);
    return 2;
  }

  const result = await removeTeam({ ...deps, itemsPerSecond: rate, drainMs: drainMs(ctx), progress: (line) => ctx.out(line) }, teamId).catch(lifecycleError);
  if (result.outcome === 'already-removed') {
    ctx.out(`Team ${teamId} was already removed at ${result.removedAt}. Deleted then:`);
  } else {
    ctx.out(`Team ${teamId} removed at ${result.removedAt}${result.resumed ? ' (resumed run)' : ''}. Deleted:`);
  }
  for (const line of countLines(result.counts)) ctx.out(line);
  ctx.out('Kept: the audit item (team id, created, removal start and end, these counts). `team list` shows the team as removed.');
  return 0;
}
