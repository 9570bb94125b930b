import { parseArgs } from 'node:util';
import { readConnectLinkKeys, rotatedKeys, writeConnectLinkKeys } from '../../shared/oauth/connect-link-key';
import { CliError, type CliContext } from '../context';

export const CONNECT_KEY_USAGE = `Usage:
  drchrono-sync connect-key show [--json]
      the connect-link signing keys' ids and creation times (never a key)
  drchrono-sync connect-key rotate [--drop-previous]
      a new signing key; links signed with the previous key keep working until they expire (or until the next
      rotation). --drop-previous ends every link signed before now (use it when a key may have leaked)`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...args] = argv;
  let parsedArgs;
  try {
    parsedArgs = parseArgs({ args, options: { json: { type: 'boolean' }, 'drop-previous': { type: 'boolean' } }, allowPositionals: false });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${CONNECT_KEY_USAGE}`, 2);
  }
  const { values } = parsedArgs;
  const secretId = ctx.resources.connectLinkKeySecret;
  switch (sub) {
    case 'show': {
      if (!secretId) throw new CliError('the target names no connect-link key secret (CONNECT_LINK_KEY_SECRET_ID or STAGE)');
      const keys = await readConnectLinkKeys(ctx.secrets, secretId);
      const rows = keys.keys.map((k, i) => ({ id: k.id, role: i === 0 ? 'signs and verifies' : 'verifies (previous)', createdAt: k.createdAt ?? null }));
      if (values.json) ctx.out(JSON.stringify({ secretName: secretId, keys: rows }, null, 2));
      else for (const r of rows) ctx.out(`${r.id}  ${r.role}${r.createdAt ? `  created ${r.createdAt}` : ''}`);
      return 0;
    }
    case 'rotate': {
      if (!secretId) throw new CliError('the target names no connect-link key secret (CONNECT_LINK_KEY_SECRET_ID or STAGE)');
      const before = await readConnectLinkKeys(ctx.secrets, secretId);
      const dropPrevious = values['drop-previous'] ?? false;
      const after = rotatedKeys(before, new Date(), { dropPrevious });
      await writeConnectLinkKeys(ctx.secrets, secretId, after);
      ctx.out(`New signing key ${after.keys[0]!.id}.`);
      ctx.out(
        dropPrevious
          ? 'Every link signed before now is refused (deployed functions pick this up within 5 minutes).'
          : `Links signed with ${before.keys[0]!.id} keep working until they expire; links signed with older keys no longer work.`,
      );
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      ctx.out(CONNECT_KEY_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown connect-key command "${sub}"\n\n${CONNECT_KEY_USAGE}`, 2);
  }
}
