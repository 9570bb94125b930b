#!/usr/bin/env node
// Runs a command, streaming its output to the terminal and into .local/test-logs/<name>.log, so the PHI scan
// (test/phi/scan-test-logs.ts) can read every line the test suite printed. Exits with the command's code.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [name, sep, cmd, ...args] = process.argv.slice(2);
if (!name || sep !== '--' || !cmd) {
  console.error('usage: run-logged.mjs <name> -- <command> [args...]');
  process.exit(2);
}
const dir = join(process.cwd(), '.local', 'test-logs');
mkdirSync(dir, { recursive: true });
const out = createWriteStream(join(dir, `${name}.log`));
const child = spawn(cmd, args, { stdio: ['inherit', 'pipe', 'pipe'], env: process.env });
child.stdout.on('data', (b) => {
  process.stdout.write(b);
  out.write(b);
});
child.stderr.on('data', (b) => {
  process.stderr.write(b);
  out.write(b);
});
child.on('close', (code, signal) => {
  out.end(() => process.exit(code ?? (signal ? 1 : 0)));
});
