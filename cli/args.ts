import { parseTeamId } from '../shared/teams/team-id';
import { CliError } from './context';
import { terminalText } from './terminal-text';

/** Run parseArgs, turning its errors (unknown option, missing value) into usage errors (exit 2). */
export function parsedArgs<T>(parse: () => T, usage: string): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`, 2);
  }
}

/** The one positional team id of a command. Echoed through terminalText: a pasted control sequence must not rewrite the operator's terminal. */
export function teamIdArg(positionals: string[], usage: string): string {
  const raw = positionals[0];
  if (raw === undefined) throw new CliError(`a team id is required\n\n${usage}`, 2);
  if (positionals.length > 1) throw new CliError(`unexpected argument "${terminalText(positionals[1]!)}"`, 2);
  const teamId = parseTeamId(raw);
  if (teamId === undefined) throw new CliError(`team id must be a UUID (e.g. 3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c), got "${terminalText(raw)}"`, 2);
  return teamId;
}
