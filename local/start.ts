import { writeFileSync, renameSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startPlatform, type RunningPlatform } from './platform';
import type { PlatformInfo } from './platform-info';

/**
 * `npm start`: the whole platform on 127.0.0.1 until Ctrl-C.
 *   --clean            wipe .local/ state first (keeps .local/test-logs)
 *   --port N           API port (default: PORT or 3000)
 *   --ephemeral        in-memory state, random ports (integration tests)
 *   --ready-file F     write the platform info JSON to F once everything is up
 *   --exit-with-parent stop when the parent process goes away (test harness)
 */
// Development machines run Node 20; the SDK's notice that it will need Node 22 from 2027 is not actionable here
// (Lambda runs Node 24) and would repeat in every log. The README says when to move dev machines to Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    clean: { type: 'boolean', default: false },
    port: { type: 'string' },
    ephemeral: { type: 'boolean', default: false },
    'ready-file': { type: 'string' },
    'exit-with-parent': { type: 'boolean', default: false },
  },
});

function banner(info: PlatformInfo): string {
  const r = info.resources;
  return [
    '',
    'drchrono-sync local platform is up (stage "local", all on 127.0.0.1)',
    '',
    `  API base URL         ${info.apiBaseUrl}`,
    `  Webhook URL          ${info.webhookUrlTemplate}`,
    `  OAuth redirect URI   ${info.oauthRedirectUri}`,
    `  DrChrono sandbox     ${info.sandboxUrl ?? '(not available)'}`,
    '',
    `  DynamoDB             ${info.endpoints.dynamodb}   tables: ${r.teamsTable}, ${r.recordsTable}, ${r.integrationLogTable}`,
    `  SQS                  ${info.endpoints.sqs}   queues: ${r.ingestQueue} (+ ${r.ingestDlq}), ${r.backfillQueue} (+ ${r.backfillDlq}), ${r.writeBackQueue} (+ ${r.writeBackDlq})`,
    `  Secrets Manager      ${info.endpoints.secretsManager}   team secrets: ${r.teamSecretPrefix}<teamId>`,
    `  Region               ${info.region} (credentials: local / local)`,
    '',
    `  State                ${info.persistent ? `${info.stateDir} (SQS messages are in-memory only)` : 'in-memory (ephemeral)'}`,
    `  Control              ${info.apiBaseUrl}/_local/health, POST /_local/run/{token-refresh|reconcile}, /_local/pollers`,
    '',
  ].join('\n');
}

let platform: RunningPlatform | undefined;
let stopping = false;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('[local] shutting down');
  await platform?.stop();
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// In Lambda an unhandled rejection kills only that invocation's container; here it must not kill everything.
process.on('unhandledRejection', (reason) => {
  console.error(`[local] unhandled rejection: ${reason instanceof Error ? reason.name : 'UnknownError'}`);
});

try {
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--port ${values.port} is not a port number`);
  }
  platform = await startPlatform({
    ephemeral: values.ephemeral,
    clean: values.clean,
    ...(port !== undefined ? { apiPort: port } : {}),
    log: (line) => console.log(line),
  });
  console.log(banner(platform.info));
  const readyFile = values['ready-file'];
  if (readyFile) {
    writeFileSync(`${readyFile}.tmp`, JSON.stringify(platform.info));
    renameSync(`${readyFile}.tmp`, readyFile);
  }
  if (values['exit-with-parent']) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) void shutdown(0);
    }, 1000).unref();
  }
} catch (err) {
  console.error(`[local] failed to start: ${err instanceof Error ? err.message : String(err)}`);
  await platform?.stop();
  process.exit(1);
}
