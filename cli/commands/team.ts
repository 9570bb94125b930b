import { parseArgs } from 'node:util';
import { ResourceExistsException } from '@aws-sdk/client-secrets-manager';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { PATIENT_FLAG_EVENTS, SYNCED_EVENTS } from '../../shared/ingest/ingest-message';
import { registerTeam, SecretPendingDeletionError } from '../../shared/teams/register-team';
import { displayStatus, getTeamItem, listTeamItems, TeamExistsError, TeamRemovedError, type TeamItem } from '../../shared/teams/team-store';
import { webhookCounts, type WebhookCounts } from '../../shared/teams/webhook-counts';
import { rotateWebhookSecretCommand, setClientSecretCommand, TEAM_SECRETS_USAGE } from './team-secrets';
import { parsedArgs, teamIdArg } from '../args';
import { CliError, redirectUri, teamWebhookUrl, type CliContext } from '../context';
import { runConnectLink, signedConnectLink } from './team-connect-link';
import { run as runWriteBack, writeBackRows } from './team-write-back';
import { WRITE_BACK_SCOPES } from '../../shared/oauth/authorize-url';

// Re-exported so the CLI reference test (test/unit/docs/cli-reference.test.ts) checks its options too.
export { WRITE_BACK_USAGE } from './team-write-back';

export const TEAM_USAGE = `Usage:
  drchrono-sync team add <teamId> --client-id X --client-secret Y [--webhook-secret S] [--write-back]
      (or DRCHRONO_CLIENT_ID / DRCHRONO_CLIENT_SECRET in the environment, to keep them out of shell history)
  drchrono-sync team list [--json]
  drchrono-sync team show <teamId> [--json]
  drchrono-sync team connect-link <teamId> [--expires 7d] [--allow-account-change] [--json]
  drchrono-sync team disable <teamId> | enable <teamId>
  drchrono-sync team remove <teamId> --erase --yes [--rate N]
  drchrono-sync team write-back <teamId> on|off
  drchrono-sync team write-back defaults <teamId> --office ID [--exam-room N] | --clear
${TEAM_SECRETS_USAGE}`;

/** Item sort key of a team's backfill job (progress counters and cursor). */
export const BACKFILL_SK = 'BACKFILL';

/** DrChrono asks for a high-entropy token; its own example is 20 random bytes as hex. */
const MIN_WEBHOOK_SECRET_LENGTH = 20;

/** Attributes that must never be printed, whatever writes them to the team item. */
const NEVER_PRINT = /token(?!ExpiresAt$)|secret|password|lease/i;

const parsed = <T>(parse: () => T): T => parsedArgs(parse, TEAM_USAGE);

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...args] = argv;
  switch (sub) {
    case 'add':
      return add(args, ctx);
    case 'list':
      return list(args, ctx);
    case 'show':
      return show(args, ctx);
    case 'connect-link':
      return runConnectLink(args, ctx);
    case 'rotate-webhook-secret':
      return rotateWebhookSecretCommand(args, ctx);
    case 'set-client-secret':
      return setClientSecretCommand(args, ctx);
    case 'disable':
    case 'enable':
    case 'remove':
      return (await import('./team-lifecycle')).run(sub, args, ctx);
    case 'write-back':
      return runWriteBack(args, ctx);
    case undefined:
    case 'help':
    case '--help':
      ctx.out(TEAM_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown team command "${sub}"\n\n${TEAM_USAGE}`, 2);
  }
}

async function add(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parsed(() =>
    parseArgs({
      args,
      options: { 'client-id': { type: 'string' }, 'client-secret': { type: 'string' }, 'webhook-secret': { type: 'string' }, 'write-back': { type: 'boolean' } },
      allowPositionals: true,
    }),
  );
  const teamId = teamIdArg(positionals, TEAM_USAGE);
  const env = process.env;
  const clientId = values['client-id'] ?? env.DRCHRONO_CLIENT_ID;
  const clientSecret = values['client-secret'] ?? env.DRCHRONO_CLIENT_SECRET;
  if (!clientId) throw new CliError('--client-id is required (the DrChrono API application\'s client id)', 2);
  if (!clientSecret) throw new CliError('--client-secret is required (the DrChrono API application\'s client secret)', 2);
  const webhookSecret = values['webhook-secret'];
  if (webhookSecret !== undefined && !/^[\x21-\x7e]+$/.test(webhookSecret)) {
    throw new CliError('--webhook-secret must be printable ASCII without spaces', 2);
  }
  if (webhookSecret !== undefined && webhookSecret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    throw new CliError(`--webhook-secret must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters; omit it to generate one`, 2);
  }

  // Signed first: a target without its connect-link key fails before anything is registered.
  const link = ctx.resources.apiBaseUrl ? await signedConnectLink(ctx, teamId) : undefined;
  let result;
  try {
    result = await registerTeam(
      { teamId, clientId, clientSecret, webhookSecret, writeBack: values['write-back'] ?? false },
      {
        ddb: ctx.ddb,
        secrets: ctx.secrets,
        teamsTable: ctx.resources.teamsTable,
        teamSecretPrefix: ctx.resources.teamSecretPrefix,
        kmsKeyId: ctx.resources.kmsKeyId,
        onPendingDeletion: (ms) => ctx.err(`The team's previous secret is still being deleted by Secrets Manager; retrying in ${ms / 1000} s.`),
      },
    );
  } catch (err) {
    if (err instanceof TeamRemovedError) throw new CliError(`team ${teamId} was removed; team ids are not reused: register the clinic under a new id`);
    if (err instanceof TeamExistsError || err instanceof ResourceExistsException) {
      throw new CliError(`team ${teamId} is already registered (see \`drchrono-sync team show ${teamId}\`)`);
    }
    if (err instanceof SecretPendingDeletionError) throw new CliError(err.message);
    throw err;
  }

  const na = '(unknown: the target has no API address; see docs/cli.md)';
  const lines = [
    `Team ${teamId} registered (status: ${result.team.status}).`,
    '',
    'In DrChrono, open Account > API, select the API application, and set:',
    '',
    `  Redirect URI      ${redirectUri(ctx.resources) ?? na}`,
    '',
    '  Webhook:',
    `    Callback URL    ${teamWebhookUrl(ctx.resources, teamId) ?? na}`,
    `    Secret Token    ${result.webhookSecret}`,
    `    Events          ${SYNCED_EVENTS.join(', ')}`,
    `                    (${PATIENT_FLAG_EVENTS.slice(1).join(' and ')} are two spellings of one event: tick whichever the console shows)`,
    '',
    `Then save, click "Verify webhook", and connect the account (OAuth) with this link${link ? ` (signed; expires ${link.expiresAt.toISOString()})` : ''}:`,
    `  ${link ? link.url : na}`,
    `  (a new one: drchrono-sync team connect-link ${teamId} [--expires 7d])`,
    ...(values['write-back'] ? [`  Write-back is on: the link asks DrChrono for the write scopes too (${WRITE_BACK_SCOPES.join(', ')}).`] : []),
    '',
    'The secret token is stored in Secrets Manager and is not shown again.',
  ];
  for (const line of lines) ctx.out(line);
  return 0;
}

async function list(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parsed(() => parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true }));
  if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  const teams = await listTeamItems(ctx.ddb, ctx.resources.teamsTable);
  const counts = await countsOf(ctx, teams);
  if (values.json) {
    ctx.out(JSON.stringify(teams.map((t, i) => teamSummary(t, counts[i]!)), null, 2));
    return 0;
  }
  if (!teams.length) {
    ctx.out('No teams registered. Add one with `drchrono-sync team add <teamId> --client-id X --client-secret Y`.');
    return 0;
  }
  const header = ['TEAM ID', 'STATUS', 'CREATED', 'PROCESSED', 'IGNORED', 'LAST DELIVERY', 'DRCHRONO USER'];
  const rows = teams.map((t, i) => [
    t.teamId,
    displayStatus(t),
    t.createdAt,
    String(counts[i]!.processed),
    String(counts[i]!.ignored),
    counts[i]!.lastDeliveryAt ?? '-',
    t.drchronoUsername ?? '-',
  ]);
  for (const line of formatTable([header, ...rows])) ctx.out(line);
  return 0;
}

async function show(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parsed(() => parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true }));
  const teamId = teamIdArg(positionals, TEAM_USAGE);
  const team = await getTeamItem(ctx.ddb, ctx.resources.teamsTable, teamId, true);
  if (!team) throw new CliError(`team ${teamId} is not registered`);
  const backfillOut = await ctx.ddb.send(
    new GetCommand({ TableName: ctx.resources.teamsTable, Key: { pk: teamId, sk: BACKFILL_SK }, ConsistentRead: true }),
  );
  const backfill = backfillOut.Item ? printable(backfillOut.Item) : undefined;
  const [counts] = await countsOf(ctx, [team]);

  if (values.json) {
    const shown = { ...printable(team), webhooksProcessed: counts!.processed, webhooksIgnored: counts!.ignored, lastDeliveryAt: counts!.lastDeliveryAt };
    ctx.out(JSON.stringify({ team: shown, webhookUrl: teamWebhookUrl(ctx.resources, teamId), backfill }, null, 2));
    return 0;
  }
  const rows: [string, unknown][] = [
    ['Team', team.teamId],
    ['Status', displayStatus(team)],
    ['Disabled', team.disabledAt && `since ${team.disabledAt}: webhooks answered, nothing synced; tokens still refreshed`],
    ['Removal started', team.removalStartedAt],
    ['Removed', team.removedAt],
    ['Deleted', team.removalCounts && Object.entries(team.removalCounts).map(([k, n]) => `${n} ${k}`).join(', ')],
    ['Created', team.createdAt],
    ['Updated', team.updatedAt],
    ['Webhook URL', teamWebhookUrl(ctx.resources, teamId)],
    ['Webhooks processed', counts!.processed],
    ['Webhooks ignored', counts!.ignored],
    ['Last delivery', counts!.lastDeliveryAt ?? 'never'],
    ['Connected', team.connectedAt],
    ['DrChrono user', team.drchronoUserId],
    ['DrChrono username', team.drchronoUsername],
    ['DrChrono doctor', team.drchronoDoctorId],
    ['DrChrono practice group', team.drchronoPracticeGroup],
    ['Token expires', team.tokenExpiresAt !== undefined ? new Date(team.tokenExpiresAt).toISOString() : undefined],
    ['Last token refresh', team.lastRefreshAt],
    ['Last refresh outcome', team.lastRefreshOutcome],
    ...writeBackRows(team),
  ];
  for (const line of formatPairs(rows)) ctx.out(line);
  if (backfill) {
    ctx.out('');
    ctx.out('Backfill:');
    const pairs = Object.entries(backfill).filter(([k, v]) => k !== 'pk' && k !== 'sk' && (v === null || typeof v !== 'object'));
    for (const line of formatPairs(pairs.sort(([a], [b]) => a.localeCompare(b)))) ctx.out(`  ${line}`);
  }
  return 0;
}

/** The item without anything that looks like a credential: DrChrono tokens live in the secret, never here. */
function printable(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([k]) => !NEVER_PRINT.test(k)));
}

/** Teams whose counters are read at once by `team list` (one log query each, and a rollup when due). */
const COUNT_CONCURRENCY = 8;

/**
 * Each team's webhook counters, computed from the team item and the integration log groups since its last
 * rollup (shared/teams/webhook-counts.ts); reading them rolls the settled groups up into the team item.
 */
async function countsOf(ctx: CliContext, teams: TeamItem[]): Promise<WebhookCounts[]> {
  const deps = { ddb: ctx.ddb, teamsTable: ctx.resources.teamsTable, integrationLogTable: ctx.resources.integrationLogTable };
  const out: WebhookCounts[] = new Array<WebhookCounts>(teams.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < teams.length) {
      const i = next++;
      out[i] = await webhookCounts(deps, teams[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(COUNT_CONCURRENCY, teams.length) }, worker));
  return out;
}

function teamSummary(t: TeamItem, counts: WebhookCounts) {
  return {
    teamId: t.teamId,
    status: t.status,
    disabledAt: t.disabledAt ?? null,
    removedAt: t.removedAt ?? null,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    webhooksProcessed: counts.processed,
    webhooksIgnored: counts.ignored,
    lastDeliveryAt: counts.lastDeliveryAt ?? null,
    drchronoUsername: t.drchronoUsername ?? null,
  };
}

function formatPairs(rows: [string, unknown][]): string[] {
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${String(v)}`);
}

function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}
