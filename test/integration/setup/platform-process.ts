import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where global setup and teardown find each other's state: the same jest parent process. */
export const READY_FILE = join(tmpdir(), `drchrono-sync-platform-${process.pid}.json`);
export const PLATFORM_INFO_ENV = 'LOCAL_PLATFORM_INFO_FILE';
export const PLATFORM_PID_ENV = 'LOCAL_PLATFORM_PID';
/** The platform's log file (its stdout and stderr, Powertools' EMF metric lines included). */
export const PLATFORM_LOG_ENV = 'LOCAL_PLATFORM_LOG_FILE';
