#!/usr/bin/env node
// Bin shim for `npx drchrono-sync`: the CLI is TypeScript, so register tsx's loader and hand over to cli/main.ts.
import { register } from 'tsx/esm/api';

// Node 20 dev machines: the SDK's "Node 22 from 2027" notice is not actionable per command (see the README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { runCli } = await import('./main.ts');
await runCli(process.argv.slice(2));
