#!/usr/bin/env node
// Bin shim for `npx drchrono-sync` (and `npm run cli`): runs the CLI built ahead by cli/build.mjs (.build/cli/, from
// `npm install` / `npm ci`). If that build is missing or any of its recorded inputs changed (mtime or size: ~80
// stats, about a millisecond), it rebuilds in-process first (about a second, once); if it cannot build (a read-only
// checkout, a syntax error), it runs the TypeScript sources through tsx. esbuild and tsx are both devDependencies:
// after `npm ci --omit=dev` with no build there is nothing to run, and the shim says so in one line (exit 1).
// See docs/cli.md.
import { pathToFileURL } from 'node:url';
import { buildCli, buildFailure, freshBuild } from './build.mjs';

// Node 20 dev machines: the SDK's "Node 22 from 2027" notice is not actionable per command (see the README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// DRCHRONO_SYNC_BUILD_LOG=1: say on stderr why the CLI is rebuilt or run through tsx (silent otherwise: stderr is
// the command's).
const buildLog = process.env.DRCHRONO_SYNC_BUILD_LOG ? (line) => process.stderr.write(`drchrono-sync: ${line}\n`) : () => {};

/** Why the CLI could not be built, when it could not. */
let notBuilt;

async function builtCli() {
  const fresh = freshBuild(undefined, (reason) => buildLog(`rebuilding: ${reason}`));
  if (fresh) return fresh;
  try {
    return (await buildCli()).entry;
  } catch (err) {
    // Whatever stopped the build (a syntax error included) is reported by the tsx run below, in the source's terms.
    notBuilt = buildFailure(err);
    buildLog(`cannot build (${notBuilt}); running the sources through tsx`);
    return undefined;
  }
}

/** tsx's loader, or undefined when tsx is not installed (`npm ci --omit=dev`). */
async function tsxLoader() {
  try {
    return await import('tsx/esm/api');
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes("'tsx'")) return undefined;
    throw err;
  }
}

const argv = process.argv.slice(2);
const built = await builtCli();
if (built) {
  const { runCli } = await import(pathToFileURL(built).href);
  await runCli(argv);
} else {
  const tsx = await tsxLoader();
  if (!tsx) {
    process.stderr.write(
      `drchrono-sync: cannot start: the CLI is not built (${notBuilt}) and tsx is not installed to run its sources ` +
        '(both are dev dependencies): run `npm ci` without --omit=dev in a writable checkout, then run the command again\n',
    );
    process.exit(1);
  }
  tsx.register();
  const { runCli } = await import('./main.ts');
  await runCli(argv);
}
