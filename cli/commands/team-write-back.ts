import { parseArgs } from 'node:util';
import { missingWriteBackScopes, SYNC_SCOPES, WRITE_BACK_SCOPES } from '../../shared/oauth/authorize-url';
import { TeamRemovedError, type TeamItem } from '../../shared/teams/team-store';
import { setWriteBack, setWriteBackDefaults, TeamNotRegisteredError, writeBackDefaultsOf, type WriteBackDefaults } from '../../shared/teams/write-back-settings';
import { parsedArgs, teamIdArg } from '../args';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';

/** `team write-back`: docs/write-back.md, "Opt-in per team". */
export const WRITE_BACK_USAGE = `Usage:
  drchrono-sync team write-back <teamId> on|off
      on: the team may write to DrChrono once a clinic admin has connected it with the write scopes
      (${WRITE_BACK_SCOPES.join(', ')}); off: writes stop at once (changes already queued end rejected)
  drchrono-sync team write-back defaults <teamId> --office ID [--exam-room N] | --clear
      the office and exam room an appointment create uses when the request names none`;

const parsed = <T>(parse: () => T): T => parsedArgs(parse, WRITE_BACK_USAGE);

export async function run(args: string[], ctx: CliContext): Promise<number> {
  if (args[0] === 'defaults') return defaults(args.slice(1), ctx);
  // Asked for: usage on stdout, exit 0. Missing arguments: a usage error (stderr, exit 2).
  if (args[0] === undefined) throw new CliError(`say a team id and on or off\n\n${WRITE_BACK_USAGE}`, 2);
  if (args[0] === 'help' || args[0] === '--help') {
    ctx.out(WRITE_BACK_USAGE);
    return 0;
  }
  return onOff(args, ctx);
}

function settingsError(err: unknown): never {
  if (err instanceof TeamNotRegisteredError) throw new CliError(err.message);
  if (err instanceof TeamRemovedError) throw new CliError(`${err.message}: its settings cannot change`);
  throw err;
}

async function onOff(args: string[], ctx: CliContext): Promise<number> {
  const { positionals } = parsed(() => parseArgs({ args, options: {}, allowPositionals: true }));
  const [rawTeam, rawSwitch, ...rest] = positionals;
  if (rawSwitch !== 'on' && rawSwitch !== 'off') {
    throw new CliError(`say on or off${rawSwitch === undefined ? '' : `, got "${terminalText(rawSwitch)}"`}\n\n${WRITE_BACK_USAGE}`, 2);
  }
  const teamId = teamIdArg([rawTeam!, ...rest], WRITE_BACK_USAGE);
  const on = rawSwitch === 'on';
  const { team, changed } = await setWriteBack({ ddb: ctx.ddb, teamsTable: ctx.resources.teamsTable }, teamId, on).catch(settingsError);
  ctx.out(`Write-back ${on ? 'on' : 'off'} for team ${teamId}${changed ? '' : ' (it already was)'}.`);
  if (!on) {
    ctx.out('  New changes are refused (403); changes already queued end rejected. Syncing from DrChrono goes on.');
    ctx.out(`  The team's tokens keep the scopes they were granted; reconnect (drchrono-sync team connect-link ${teamId}) to drop the write scopes.`);
    return 0;
  }
  const missing = missingWriteBackScopes(team.grantedScopes);
  if (missing.length === 0) {
    ctx.out(`  The team's DrChrono authorization has the write scopes: writes are accepted now.`);
    return 0;
  }
  ctx.out(
    team.status === 'registered'
      ? '  The team is not connected yet: its connect link now asks DrChrono for the write scopes too.'
      : `  The team's DrChrono authorization lacks ${missing.join(' and ')}: writes are refused (403) until a clinic admin reconnects with this link:`,
  );
  ctx.out(`    drchrono-sync team connect-link ${teamId}`);
  return 0;
}

async function defaults(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parsed(() =>
    parseArgs({ args, options: { office: { type: 'string' }, 'exam-room': { type: 'string' }, clear: { type: 'boolean' } }, allowPositionals: true }),
  );
  const teamId = teamIdArg(positionals, WRITE_BACK_USAGE);
  const clear = values.clear ?? false;
  if (clear && (values.office !== undefined || values['exam-room'] !== undefined)) throw new CliError('--clear takes no --office or --exam-room', 2);
  if (!clear && values.office === undefined) throw new CliError(`--office is required (or --clear)\n\n${WRITE_BACK_USAGE}`, 2);
  const wanted: WriteBackDefaults = {};
  if (values.office !== undefined) wanted.office = integerOption('--office', values.office, 1, Number.MAX_SAFE_INTEGER);
  if (values['exam-room'] !== undefined) wanted.examRoom = integerOption('--exam-room', values['exam-room'], 1, 999);
  const team = await setWriteBackDefaults({ ddb: ctx.ddb, teamsTable: ctx.resources.teamsTable }, teamId, wanted).catch(settingsError);
  ctx.out(clear ? `Write-back defaults cleared for team ${teamId}.` : `Write-back defaults for team ${teamId}: ${describeDefaults(writeBackDefaultsOf(team))}.`);
  if (team.writeBack !== true) ctx.out(`  Write-back is off for this team: drchrono-sync team write-back ${teamId} on`);
  return 0;
}

function integerOption(name: string, raw: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`${name} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got "${terminalText(raw)}"`, 2);
  }
  return n;
}

export function describeDefaults(d: WriteBackDefaults): string {
  const parts = [d.office !== undefined ? `office ${d.office}` : undefined, d.examRoom !== undefined ? `exam room ${d.examRoom}` : undefined].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

/** `team show` rows: write-back on/off, granted scopes, defaults. */
export function writeBackRows(team: TeamItem): [string, unknown][] {
  const granted = Array.isArray(team.grantedScopes) ? (team.grantedScopes as unknown[]).map(String) : undefined;
  const missing = missingWriteBackScopes(granted);
  let state = team.writeBack === true ? 'on' : 'off';
  if (team.writeBack === true && missing.length) state += ` (no write scopes granted yet: reconnect with drchrono-sync team connect-link ${team.teamId})`;
  return [
    ['Write-back', state],
    ['Granted scopes', granted ? granted.join(' ') || '(none)' : team.connectedAt ? `(not recorded: connected before scopes were recorded; that connection asked for ${SYNC_SCOPES.join(' ')})` : undefined],
    ['Write-back defaults', team.writeBackDefaults !== undefined ? describeDefaults(writeBackDefaultsOf(team)) : undefined],
  ];
}
