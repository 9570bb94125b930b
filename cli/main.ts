import { CliError } from './cli-error';
import type { CliContext, CreateContextOptions, GlobalOptions } from './context';
import { streamOutput } from './output';

/** Every command module exports this. */
export interface CommandModule {
  run(argv: string[], ctx: CliContext): Promise<number>;
}

/**
 * Commands load lazily, so a command whose module another part of the project has not delivered yet
 * reports "not available yet" instead of breaking the whole CLI. Paths are relative to this file.
 */
export const COMMAND_MODULES: Record<string, string> = {
  team: './commands/team',
  'team-config': './commands/team-config',
  sandbox: './commands/sandbox',
  log: './commands/log',
  records: './commands/records',
  backfill: './commands/backfill',
  'connect-key': './commands/connect-key',
  dlq: './commands/dlq',
};

/** `team fields|choices` belong to the per-team config module. */
const TEAM_CONFIG_SUBCOMMANDS = new Set(['fields', 'choices']);

export const USAGE = `Usage: drchrono-sync [--target local|aws] [--stack <name>] [--region <r>] [--platform-file <f>] <command> ...

Commands:
  team add <teamId> --client-id X --client-secret Y [--webhook-secret S] [--write-back]
                               register a team; prints what to paste into DrChrono
  team list [--json]           list teams
  team show <teamId> [--json]  a team's status, counters, connection and backfill progress
  team connect-link <teamId> [--expires 7d] [--allow-account-change] [--json]
                               a signed, expiring connect link (optionally allowing one DrChrono account change)
  team rotate-webhook-secret <teamId> [--overlap 24h]
                               new webhook secret token; the old one is accepted during the overlap
  team set-client-secret <teamId>
                               new DrChrono client secret, from DRCHRONO_CLIENT_SECRET or stdin
  team disable|enable <teamId> pause a team (webhooks answered, nothing synced) / resume it with a catch-up
  team remove <teamId> --erase --yes [--rate N]
                               erase a team's data and secret; keeps a PHI-free audit item
  team write-back <teamId> on|off
                               let the team write to DrChrono (its connect link asks for the write scopes)
  team write-back defaults <teamId> --office ID [--exam-room N] | --clear
                               office and exam room for appointment creates that name none
  team fields|choices ...      per-team field and choice configuration
  connect-key show|rotate [--drop-previous]
                               the connect-link signing keys: list ids, rotate
  sandbox ...                  drive the local DrChrono sandbox
  log ...                      a team's integration log
  records ...                  synced records
  records set|create|delete ...
                               change a patient or appointment in DrChrono through the write API; waits for the outcome
  records change <teamId> <changeId>
                               a change's outcome
  backfill ...                 start or inspect a backfill
  dlq list [--queue ingest|backfill|write-back] [--team T] [--json]
                               dead letters with their failure reason (ids only; nothing consumed)
  dlq redrive [--queue ingest|backfill|write-back] [--team T] [--max N]
                               move dead letters back to their work queue

Target: local by default (reads .local/platform.json, written by \`npm start\`).
  --target aws (or DRCHRONO_SYNC_TARGET=aws) with --stack <name> reads the stack's outputs;
  without --stack it reads TEAMS_TABLE, TEAM_SECRET_PREFIX, ... (or STAGE) from the environment.`;

const GLOBAL_OPTIONS: Record<string, keyof GlobalOptions> = {
  '--target': 'target',
  '--stack': 'stack',
  '--region': 'region',
  '--platform-file': 'platformFile',
};

/** Pull the global options out of argv (anywhere on the line) and leave the rest for the command. */
export function splitGlobalOptions(argv: readonly string[]): { global: GlobalOptions; rest: string[] } {
  const global: GlobalOptions = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = GLOBAL_OPTIONS[name];
    if (!key) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new CliError(`${name} needs a value`, 2);
    global[key] = value;
  }
  return { global, rest };
}

export type ModuleLoader = (path: string) => Promise<unknown>;

/**
 * One literal import() per COMMAND_MODULES path: the build (cli/build.mjs) can only bundle what it can see, and each
 * module (with the AWS SDK and zod behind it) loads only when its command runs, so `--help` stays cheap.
 */
export const COMMAND_IMPORTS: Record<string, () => Promise<unknown>> = {
  './commands/team': () => import('./commands/team'),
  './commands/team-config': () => import('./commands/team-config'),
  './commands/sandbox': () => import('./commands/sandbox'),
  './commands/log': () => import('./commands/log'),
  './commands/records': () => import('./commands/records'),
  './commands/backfill': () => import('./commands/backfill'),
  './commands/connect-key': () => import('./commands/connect-key'),
  './commands/dlq': () => import('./commands/dlq'),
};

const defaultLoader: ModuleLoader = (path) => (COMMAND_IMPORTS[path] ?? (() => import(path)))();

/** The real context builder, loaded on first use (it pulls in the AWS SDK clients). */
const createCliContext = async (opts: CreateContextOptions): Promise<CliContext> => (await import('./context')).createCliContext(opts);

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

export async function loadCommand(name: string, loader: ModuleLoader = defaultLoader): Promise<CommandModule> {
  const path = COMMAND_MODULES[name];
  if (!path) throw new CliError(`unknown command "${name}"\n\n${USAGE}`, 2);
  let mod: unknown;
  try {
    mod = await loader(path);
  } catch (err) {
    if (isModuleNotFound(err) && String((err as Error).message).includes(path.slice(2))) {
      throw new CliError(`"${name}" is not available yet in this version of drchrono-sync`);
    }
    throw err;
  }
  const run = (mod as Partial<CommandModule> | null)?.run;
  if (typeof run !== 'function') throw new CliError(`"${name}" is not available yet in this version of drchrono-sync`);
  return { run };
}

export interface MainOptions extends Omit<CreateContextOptions, keyof GlobalOptions> {
  loader?: ModuleLoader;
  /** Build the context; tests inject one. */
  context?: (opts: CreateContextOptions) => Promise<CliContext>;
}

/** Run the CLI; resolves with the process exit code. */
export async function main(argv: readonly string[], opts: MainOptions = {}): Promise<number> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const err = opts.err ?? ((line: string) => console.error(line));
  try {
    const { global, rest } = splitGlobalOptions(argv);
    const [command, ...args] = rest;
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      out(USAGE);
      return command === undefined ? 2 : 0;
    }
    const moduleName = command === 'team' && args[0] !== undefined && TEAM_CONFIG_SUBCOMMANDS.has(args[0]) ? 'team-config' : command;
    const mod = await loadCommand(moduleName, opts.loader);
    const ctx = await (opts.context ?? createCliContext)({ ...global, env: opts.env, cwd: opts.cwd, out, err });
    return await mod.run(args, ctx);
  } catch (e) {
    if (e instanceof CliError) {
      err(`error: ${e.message}`);
      return e.exitCode;
    }
    // Unexpected: say what failed without a stack trace (it could carry request data).
    const name = e instanceof Error ? e.name : 'Error';
    const message = e instanceof Error ? e.message : String(e);
    err(`error: ${name}: ${message}`);
    return 1;
  }
}

/** The process entry: run, wait until stdout and stderr are drained (pipes are asynchronous), then exit. */
export async function runCli(argv: readonly string[]): Promise<never> {
  const io = streamOutput();
  const code = await main(argv, { out: io.out, err: io.err });
  process.exit(await io.finish(code));
}

// Run when executed directly (`tsx cli/main.ts ...`, `npm run cli -- ...`); the bin shim calls runCli() itself.
if (/[\\/]cli[\\/]main\.ts$/.test(process.argv[1] ?? '')) void runCli(process.argv.slice(2));
