import { parseArgs } from 'node:util';
import { SecretUpdateError, updateTeamSecretUnderLease, type SecretUpdateDeps } from '../../shared/oauth/secret-update';
import { generateWebhookSecret } from '../../shared/teams/register-team';
import { parseTeamId } from '../../shared/teams/team-id';
import {
  DEFAULT_ROTATION_OVERLAP_MS,
  MAX_ROTATION_OVERLAP_MS,
  parseOverlap,
  rotateWebhookSecret,
  TooManyWebhookSecretsError,
} from '../../shared/teams/webhook-secret-rotation';
import { CliError, teamWebhookUrl, type CliContext } from '../context';

/**
 * `team rotate-webhook-secret` and `team set-client-secret`: operator changes to a team's secret, written under
 * the token writers' lease (shared/oauth/secret-update.ts) so a concurrent refresh or reconnect neither loses
 * them nor is lost.
 */
export const TEAM_SECRETS_USAGE = `  drchrono-sync team rotate-webhook-secret <teamId> [--overlap 24h]
      new webhook secret token to paste into DrChrono; the old one is still accepted for the overlap (0 = not at all)
  drchrono-sync team set-client-secret <teamId>
      new DrChrono client secret, read from DRCHRONO_CLIENT_SECRET or stdin (never an argument)`;

/** Options for tests: the secret update's clock and lease wait, stdin. */
export interface TeamSecretsOptions {
  update?: Partial<Pick<SecretUpdateDeps, 'now' | 'sleep' | 'leaseWaitMs' | 'beforeWrite'>>;
  readStdin?: () => Promise<string>;
  env?: NodeJS.ProcessEnv;
}

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${TEAM_SECRETS_USAGE}`, 2);
  }
}

function teamIdOf(positionals: string[], what: string): string {
  const raw = positionals[0];
  if (raw === undefined) throw new CliError(`a team id is required\n\n${TEAM_SECRETS_USAGE}`, 2);
  // An extra argument may be a secret typed on the command line: never echo it.
  if (positionals.length > 1) throw new CliError(`${what} takes only a team id; nothing changed (extra arguments are not shown: one may be a secret)`, 2);
  const teamId = parseTeamId(raw);
  // Never echoed either: a secret typed in place of the team id (`set-client-secret sk_live_...`) would land here.
  if (teamId === undefined) throw new CliError(`${what}: the first argument must be a team id (a UUID); nothing changed (the argument is not shown: it may be a secret)`, 2);
  return teamId;
}

function updateDeps(ctx: CliContext, opts: TeamSecretsOptions): SecretUpdateDeps {
  return { ddb: ctx.ddb, secrets: ctx.secrets, teamsTable: ctx.resources.teamsTable, teamSecretPrefix: ctx.resources.teamSecretPrefix, ...opts.update };
}

function formatOverlap(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

export async function rotateWebhookSecretCommand(args: string[], ctx: CliContext, opts: TeamSecretsOptions = {}): Promise<number> {
  const { values, positionals } = parsed(() => parseArgs({ args, options: { overlap: { type: 'string' } }, allowPositionals: true }));
  const teamId = teamIdOf(positionals, 'rotate-webhook-secret');
  const overlapMs = values.overlap === undefined ? DEFAULT_ROTATION_OVERLAP_MS : parseOverlap(values.overlap);
  if (overlapMs === undefined || overlapMs > MAX_ROTATION_OVERLAP_MS) {
    throw new CliError(`--overlap must be 0 or a duration such as 30m, 24h or 7d (at most ${formatOverlap(MAX_ROTATION_OVERLAP_MS)})`, 2);
  }
  const deps = updateDeps(ctx, opts);
  const now = deps.now ?? Date.now;
  const token = generateWebhookSecret();
  let rotatedAt = 0;
  try {
    await updateTeamSecretUnderLease(deps, teamId, (current) => {
      rotatedAt = now();
      return rotateWebhookSecret(current, token, rotatedAt, overlapMs);
    });
  } catch (err) {
    if (err instanceof SecretUpdateError || err instanceof TooManyWebhookSecretsError) throw new CliError(err.message);
    throw err;
  }
  const lines = [
    `Team ${teamId}: new webhook secret token.`,
    overlapMs > 0
      ? `The previous token is still accepted until ${new Date(rotatedAt + overlapMs).toISOString()} (${values.overlap ?? formatOverlap(overlapMs)}); after that only the new one.`
      : 'Only the new token is accepted from now on: deliveries DrChrono signs with an older token get 401 until you paste this one.',
    '',
    'In DrChrono, open Account > API, select the API application, and in its webhook set:',
    '',
    `    Callback URL    ${teamWebhookUrl(ctx.resources, teamId) ?? '(unchanged)'}`,
    `    Secret Token    ${token}`,
    '',
    'Then save and click "Verify webhook": the verification is answered with the new token.',
    'The secret token is stored in Secrets Manager and is not shown again.',
  ];
  for (const line of lines) ctx.out(line);
  return 0;
}

/** DrChrono client secrets are opaque printable text; a line break or a space is a paste mistake. */
const CLIENT_SECRET = /^[\x21-\x7e]{1,512}$/;

async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the DrChrono client secret and press Enter, then Ctrl-D: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

export async function setClientSecretCommand(args: string[], ctx: CliContext, opts: TeamSecretsOptions = {}): Promise<number> {
  if (args.some((a) => /^--client-secret(=|$)/.test(a))) {
    throw new CliError('the client secret is never taken as an argument (it would land in shell history): set DRCHRONO_CLIENT_SECRET or pipe it on stdin', 2);
  }
  const { positionals } = parsed(() => parseArgs({ args, options: {}, allowPositionals: true }));
  const teamId = teamIdOf(positionals, 'set-client-secret');
  const env = opts.env ?? process.env;
  const fromEnv = env.DRCHRONO_CLIENT_SECRET;
  const raw = fromEnv !== undefined && fromEnv !== '' ? fromEnv : await (opts.readStdin ?? readAllStdin)();
  // One trailing newline (echo, a heredoc, Enter) is not part of the secret.
  const clientSecret = raw.replace(/\r?\n$/, '');
  if (!CLIENT_SECRET.test(clientSecret)) {
    throw new CliError('the client secret must be one line of printable characters without spaces (from DRCHRONO_CLIENT_SECRET or stdin)', 2);
  }
  let result;
  try {
    result = await updateTeamSecretUnderLease(
      updateDeps(ctx, opts),
      teamId,
      (current) => ({ ...current, clientSecret }),
      // A refresh refused for the old credentials is in backoff: let the next scheduled run try the new ones.
      (team) => (team.lastRefreshOutcome === 'invalid_client' ? { remove: ['refreshNotBefore'] } : {}),
    );
  } catch (err) {
    if (err instanceof SecretUpdateError) throw new CliError(err.message);
    throw err;
  }
  ctx.out(`Team ${teamId}: client secret replaced (client id ${result.secret.clientId}).`);
  ctx.out(
    result.team.status === 'connected'
      ? 'The next token refresh (every 15 min) uses it; `drchrono-sync team show` then shows its outcome.'
      : 'The next connect (OAuth) uses it.',
  );
  return 0;
}
