import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitForReady } from '../../../local/emulators/wait-ready';
import { handlerEnvironment, type PlatformInfo } from '../../../local/platform-info';
import { PLATFORM_INFO_ENV, PLATFORM_LOG_ENV, PLATFORM_PID_ENV, READY_FILE } from './platform-process';

/**
 * Starts the same local platform `npm start` runs (ephemeral: in-memory, random ports) as a child process in
 * its own process group, and points the test workers at it through process.env. Its output goes to
 * .local/test-logs/platform-<pid>.log, which is kept: a later PHI scan reads every log line the suite writes.
 * It waits for the platform's ready file for as long as the platform process is alive (a loaded 2-core machine
 * can take minutes to start DynamoDB Local's JVM), and fails at once if the process exits.
 */

function tail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export default async function globalSetup(globalConfig: { rootDir: string }): Promise<void> {
  const root = globalConfig.rootDir;
  const logDir = join(root, '.local', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `platform-${process.pid}.log`);
  rmSync(READY_FILE, { force: true });

  const logFd = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/start.ts', '--ephemeral', '--ready-file', READY_FILE, '--exit-with-parent'],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, LOCAL_TEST_FUNCTIONS: '1' },
    },
  );
  closeSync(logFd);
  child.unref();
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });

  try {
    await waitForReady({
      what: 'the local platform',
      probe: async () => {
        if (!existsSync(READY_FILE)) throw new Error('not ready');
      },
      gone: () => (exitCode !== undefined ? `exited with code ${exitCode}` : undefined),
      pollMs: 200,
      report: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    if (exitCode === undefined && child.pid) process.kill(-child.pid, 'SIGKILL');
    throw new Error(`${(err as Error).message}. Log ${logPath}, last lines:\n${tail(logPath)}`);
  }

  const info = JSON.parse(readFileSync(READY_FILE, 'utf8')) as PlatformInfo;
  Object.assign(process.env, handlerEnvironment(info), {
    API_BASE_URL: info.apiBaseUrl,
    SANDBOX_URL: info.sandboxUrl ?? '',
    [PLATFORM_INFO_ENV]: READY_FILE,
    [PLATFORM_PID_ENV]: String(child.pid),
    [PLATFORM_LOG_ENV]: logPath,
  });
}
