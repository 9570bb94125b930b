import { parseArgs } from 'node:util';
import { ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_CONNECT_LINK_TTL_SECONDS, MAX_CONNECT_LINK_TTL_SECONDS, parseLinkLifetime } from '../../shared/oauth/connect-link';
import { mintConnectLink } from '../../shared/oauth/connect-link-key';
import { parseTeamId } from '../../shared/teams/team-id';
import { getTeamItem, isTeamRemoved } from '../../shared/teams/team-store';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';

export const CONNECT_LINK_USAGE = `Usage:
  drchrono-sync team connect-link <teamId> [--expires 7d] [--allow-account-change] [--json]
      a signed connect link for the clinic admin (expires in 7 days by default, at most 30d; 12h, 90m also work);
      --allow-account-change lets the link bind the team to another DrChrono user/practice, once`;

export interface SignedConnectLink {
  url: string;
  expiresAt: Date;
  allowAccountChange: boolean;
  keyId: string;
}

/** Sign a connect link with the target's current key (read from Secrets Manager; the CLI never caches it). */
export async function signedConnectLink(
  ctx: CliContext,
  teamId: string,
  opts: { ttlSeconds?: number; allowAccountChange?: boolean; now?: Date } = {},
): Promise<SignedConnectLink> {
  const base = ctx.resources.apiBaseUrl;
  if (!base) throw new CliError('the target has no API address (stack output ApiBaseUrl, or API_BASE_URL): cannot build a connect link');
  const secretId = ctx.resources.connectLinkKeySecret;
  if (!secretId) throw new CliError('the target names no connect-link key secret (CONNECT_LINK_KEY_SECRET_ID or STAGE)');
  try {
    return await mintConnectLink(ctx.secrets, secretId, base, teamId, opts);
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw new CliError(`the connect-link key secret ${secretId} does not exist: deploy the stack (or restart \`npm start\`) first`);
    }
    throw err;
  }
}

export async function runConnectLink(args: string[], ctx: CliContext): Promise<number> {
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args,
      options: { expires: { type: 'string' }, 'allow-account-change': { type: 'boolean' }, json: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${CONNECT_LINK_USAGE}`, 2);
  }
  const { values, positionals } = parsedArgs;
  if (positionals.length !== 1) throw new CliError(`exactly one team id is required\n\n${CONNECT_LINK_USAGE}`, 2);
  const teamId = parseTeamId(positionals[0]);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${terminalText(positionals[0]!)}"`, 2);
  const ttlSeconds = values.expires === undefined ? DEFAULT_CONNECT_LINK_TTL_SECONDS : parseLinkLifetime(values.expires);
  if (ttlSeconds === undefined) {
    throw new CliError(`--expires must be a duration such as 7d, 12h or 90m, at most ${MAX_CONNECT_LINK_TTL_SECONDS / 86_400}d; got "${terminalText(values.expires ?? '')}"`, 2);
  }
  const team = await getTeamItem(ctx.ddb, ctx.resources.teamsTable, teamId, true);
  if (!team) throw new CliError(`team ${teamId} is not registered`);
  // A link for a removed team would look valid and fail only at the callback.
  if (isTeamRemoved(team)) throw new CliError(`team ${teamId} is ${team.status === 'removed' ? 'removed' : 'being removed'}: no connect link`);
  const link = await signedConnectLink(ctx, teamId, { ttlSeconds, allowAccountChange: values['allow-account-change'] ?? false });
  if (values.json) {
    ctx.out(JSON.stringify({ teamId, url: link.url, expiresAt: link.expiresAt.toISOString(), allowAccountChange: link.allowAccountChange, keyId: link.keyId }, null, 2));
    return 0;
  }
  ctx.out(`Connect link for team ${teamId} (expires ${link.expiresAt.toISOString()}${link.allowAccountChange ? '; allows changing the DrChrono account once' : ''}):`);
  ctx.out(`  ${link.url}`);
  if (link.allowAccountChange) {
    ctx.out('Whoever completes this link may connect a different DrChrono user or practice: the team then syncs that practice.');
  }
  return 0;
}
