import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { handlerEnvironment, type PlatformInfo } from '../../../local/platform-info';
import { PLATFORM_INFO_ENV, PLATFORM_PID_ENV, READY_FILE } from './platform-process';

/**
 * Starts the same local platform `npm start` runs (ephemeral: in-memory, random ports) as a child process in
 * its own process group, and points the test workers at it through process.env. Its output goes to
 * .local/test-logs/platform-<pid>.log, which is kept: a later PHI scan reads every log line the suite writes.
 */
const READY_TIMEOUT_MS = 90_000;

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

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!existsSync(READY_FILE)) {
    if (exitCode !== undefined || Date.now() > deadline) {
      if (exitCode === undefined && child.pid) process.kill(-child.pid, 'SIGKILL');
      const why = exitCode !== undefined ? `exited with code ${exitCode}` : `was not ready within ${READY_TIMEOUT_MS / 1000} s`;
      throw new Error(`The local platform ${why}. Log ${logPath}, last lines:\n${tail(logPath)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const info = JSON.parse(readFileSync(READY_FILE, 'utf8')) as PlatformInfo;
  Object.assign(process.env, handlerEnvironment(info), {
    API_BASE_URL: info.apiBaseUrl,
    SANDBOX_URL: info.sandboxUrl ?? '',
    [PLATFORM_INFO_ENV]: READY_FILE,
    [PLATFORM_PID_ENV]: String(child.pid),
  });
}
