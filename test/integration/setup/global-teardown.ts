import { rmSync } from 'node:fs';
import { PLATFORM_PID_ENV, READY_FILE } from './platform-process';

/** Stops the platform's process group: SIGTERM for a clean shutdown, SIGKILL if it is still there after 10 s. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env[PLATFORM_PID_ENV]);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    process.kill(-pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  }
  rmSync(READY_FILE, { force: true });
}
