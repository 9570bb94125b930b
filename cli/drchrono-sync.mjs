#!/usr/bin/env node
// Bin shim for `npx drchrono-sync`: the CLI is TypeScript, so register tsx's loader and hand over to cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exit(await main(process.argv.slice(2)));
