import { parseArgs } from 'node:util';
import { ENTITIES, type Entity } from '../../shared/mapping';
import { findPatientByChartId, getRecord, listRecords, type StoredRecord } from '../../shared/store/records';
import { parseTeamId } from '../../shared/teams/team-id';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';
import { runWrite, WRITE_SUBCOMMANDS, type WriteSubcommand } from './records-write';

// Re-exported so the CLI reference test (test/unit/docs/cli-reference.test.ts) checks its options too.
export { RECORDS_WRITE_USAGE } from './records-write';

export const RECORDS_USAGE = `Usage:
  drchrono-sync records <teamId> patient|appointment|employee [key] [--limit N] [--json]
      key: patient = Chart ID, appointment = Claim ID, employee = Chrono Doctor ID.
      Without a key, lists the team's records of that kind (default 50).
  drchrono-sync records set|create|delete|change ...   write to DrChrono (records set --help)
  Records hold patient data (PHI): print them only where that is allowed.`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  // A team id is a UUID, so these words cannot be one: the write subcommands (docs/write-back.md).
  if ((WRITE_SUBCOMMANDS as readonly string[]).includes(argv[0] ?? '')) return runWrite(argv[0] as WriteSubcommand, argv.slice(1), ctx);
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: { limit: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${RECORDS_USAGE}`, 2);
  }
  const { values, positionals } = parsedArgs;
  if (values.help) {
    ctx.out(RECORDS_USAGE);
    return 0;
  }
  const [rawTeam, rawEntity, key, extra] = positionals;
  if (rawTeam === undefined || rawEntity === undefined || extra !== undefined) throw new CliError(RECORDS_USAGE, 2);
  const teamId = parseTeamId(rawTeam);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${rawTeam}"`, 2);
  if (!(ENTITIES as readonly string[]).includes(rawEntity)) throw new CliError(`kind must be one of ${ENTITIES.join(', ')}, got "${rawEntity}"`, 2);
  const entity = rawEntity as Entity;
  const table = ctx.resources.recordsTable;

  if (key !== undefined) {
    const record =
      entity === 'patient' ? await findPatientByChartId(ctx.ddb, table, teamId, key) : await getRecord(ctx.ddb, table, teamId, entity, key, { consistent: true });
    if (!record) {
      ctx.err(`no ${entity} with ${keyName(entity)} "${terminalText(key)}" for team ${teamId}`);
      return 1;
    }
    ctx.out(values.json ? JSON.stringify(record, null, 2) : formatRecord(record));
    return 0;
  }

  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be an integer from 1 to 1000', 2);
  const { records, nextKey } = await listRecords(ctx.ddb, table, teamId, entity, { limit });
  if (values.json) {
    ctx.out(JSON.stringify(records, null, 2));
    return 0;
  }
  if (records.length === 0) {
    ctx.out(`no ${entity} records for team ${teamId}`);
    return 0;
  }
  records.forEach((r, i) => {
    if (i > 0) ctx.out('');
    ctx.out(formatRecord(r));
  });
  if (nextKey) ctx.out(`\n(more records: raise --limit)`);
  return 0;
}

function keyName(entity: Entity): string {
  return entity === 'patient' ? 'Chart ID' : entity === 'appointment' ? 'Claim ID' : 'Chrono Doctor ID';
}

export function formatRecord(r: StoredRecord): string {
  const lines = [
    `${r.entity} ${r.drchronoId}${r.deleted ? ' (deleted)' : ''}  synced ${r.syncedAt ?? '?'}  delivery ${r.lastDeliveryId ?? '?'}`,
    // The version a write can be based on (--base-version / If-Match): docs/write-back.md.
    `version ${r.version}`,
  ];
  for (const name of Object.keys(r.fields).sort()) {
    const v = r.fields[name];
    lines.push(`  ${name}: ${Array.isArray(v) ? v.join('; ') : v === null ? '' : String(v)}`);
  }
  // Ids and values are DrChrono's text: escaped so nothing in them can drive the terminal.
  return lines.map(terminalText).join('\n');
}
