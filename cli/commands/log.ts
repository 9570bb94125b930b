import { parseArgs } from 'node:util';
import { INTEGRATION_LOG_OUTCOMES, readIntegrationLog, type IntegrationLogEntry, type IntegrationLogOutcome } from '../../shared/store/integration-log';
import { parseTeamId } from '../../shared/teams/team-id';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';

export const LOG_USAGE = `Usage:
  drchrono-sync log <teamId> [--limit N] [--outcome ${INTEGRATION_LOG_OUTCOMES.join('|')}] [--json]
      the team's DrChrono Integration Log, newest first (default 50 entries)`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: { limit: { type: 'string' }, outcome: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${LOG_USAGE}`, 2);
  }
  const { values, positionals } = parsedArgs;
  if (values.help) {
    ctx.out(LOG_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new CliError(`expected exactly one team id\n\n${LOG_USAGE}`, 2);
  const teamId = parseTeamId(positionals[0]);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${positionals[0]}"`, 2);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be an integer from 1 to 1000', 2);
  const outcome = values.outcome;
  if (outcome !== undefined && !(INTEGRATION_LOG_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new CliError(`--outcome must be one of ${INTEGRATION_LOG_OUTCOMES.join(', ')}`, 2);
  }

  const entries = await readIntegrationLog(ctx.ddb, ctx.resources.integrationLogTable, teamId, {
    limit,
    ...(outcome ? { outcome: outcome as IntegrationLogOutcome } : {}),
  });
  if (values.json) {
    ctx.out(JSON.stringify(entries, null, 2));
    return 0;
  }
  if (entries.length === 0) {
    ctx.out(outcome ? `no ${outcome} entries for team ${teamId}` : `no integration log entries for team ${teamId}`);
    return 0;
  }
  for (const e of entries) ctx.out(formatEntry(e));
  return 0;
}

export function formatEntry(e: IntegrationLogEntry): string {
  // Outbound (write-back) entries say so and name the change id the app got; the key (Chart ID) is only in --json.
  const head = [
    e.at,
    e.outcome.padEnd(13),
    e.direction ?? '',
    e.event,
    e.entity ? `${e.entity} ${e.drchronoId ?? ''}`.trim() : (e.drchronoId ?? ''),
    e.changeId ? `change ${e.changeId}` : '',
    e.deliveryId ? `delivery ${e.deliveryId}` : '',
  ]
    .filter(Boolean)
    .join('  ');
  const lines = [head];
  if (e.fieldsWritten?.length) lines.push(`    written: ${e.fieldsWritten.join(', ')}`);
  if (e.fieldsSkipped?.length) lines.push(`    skipped: ${e.fieldsSkipped.join(', ')}`);
  if (e.errorClass || e.errorMessage) lines.push(`    error: ${[e.errorClass, e.errorMessage].filter(Boolean).join(': ')}`);
  if (e.detail) lines.push(`    ${e.detail}`);
  // The DrChrono id (an appointment id is any printable text), change id and delivery id are escaped for the terminal.
  return lines.map(terminalText).join('\n');
}
