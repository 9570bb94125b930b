#!/usr/bin/env node
// Bin shim for `npx drchrono-sync` (and `npm run cli`): runs the CLI built ahead by cli/build.mjs (.build/cli/, from
// `npm install` / `npm ci`). If that build is missing or any of its recorded inputs changed (mtime or size: ~80
// stats, about a millisecond), it rebuilds in-process first (about a second, once); if it cannot build (no esbuild,
// read-only checkout, a syntax error), it runs the TypeScript sources through tsx as before. See docs/cli.md.
import { pathToFileURL } from 'node:url';
import { buildCli, freshBuild } from './build.mjs';

// Node 20 dev machines: the SDK's "Node 22 from 2027" notice is not actionable per command (see the README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// DRCHRONO_SYNC_BUILD_LOG=1: say on stderr why the CLI is rebuilt or run through tsx (silent otherwise: stderr is
// the command's).
const buildLog = process.env.DRCHRONO_SYNC_BUILD_LOG ? (line) => process.stderr.write(`drchrono-sync: ${line}\n`) : () => {};

async function builtCli() {
  const fresh = freshBuild(undefined, (reason) => buildLog(`rebuilding: ${reason}`));
  if (fresh) return fresh;
  try {
    return (await buildCli()).entry;
  } catch (err) {
    // Whatever stopped the build (a syntax error included) is reported by the tsx run below, in the source's terms.
    buildLog(`cannot build (${err instanceof Error ? err.message.split('\n')[0] : err}); running the sources through tsx`);
    return undefined;
  }
}

const argv = process.argv.slice(2);
const built = await builtCli();
if (built) {
  const { runCli } = await import(pathToFileURL(built).href);
  await runCli(argv);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { runCli } = await import('./main.ts');
  await runCli(argv);
}
