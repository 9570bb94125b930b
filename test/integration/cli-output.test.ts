import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { documentClient } from '../../shared/aws/clients';
import { mapPatient } from '../../shared/mapping';
import { writeRecord } from '../../shared/store/records';
import { context, patient } from '../unit/mapping/fixtures';
import { PLATFORM_INFO_ENV } from './setup/platform-process';

/**
 * The real `drchrono-sync` bin, as operators run it in pipes: stdout is a pipe whose reader is slower than the
 * CLI. Output must arrive whole whatever the reader does, and a reader that goes away must give a non-zero exit.
 */
const BIN = join(__dirname, '..', '..', 'cli', 'drchrono-sync.mjs');
const PATIENTS = 1000;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the bin; `reader` decides how stdout is consumed. */
function runBin(argv: string[], reader: 'slow' | 'close-early'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    if (reader === 'slow') {
      // A reader slower than the CLI: after every chunk, wait before taking the next.
      child.stdout.on('data', (d: Buffer) => {
        chunks.push(d);
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), 20);
      });
    } else {
      child.stdout.once('data', (d: Buffer) => {
        chunks.push(d);
        child.stdout.destroy();
      });
    }
    child.once('error', reject);
    // 'close' can come before this side has read what the pipe still buffers: also wait for the reader to finish.
    const stdoutDone = new Promise<void>((r) => {
      child.stdout.once('end', r);
      if (reader === 'close-early') child.stdout.once('close', r);
    });
    child.once('close', (code) => void stdoutDone.then(() => resolve({ code, stdout: Buffer.concat(chunks), stderr })));
  });
}

describe('drchrono-sync output through a pipe', () => {
  const teamId = randomUUID();

  beforeAll(async () => {
    const ddb = documentClient();
    const table = process.env.RECORDS_TABLE!;
    const ids = Array.from({ length: PATIENTS }, (_, i) => i + 1);
    // Ten writers at a time: enough records for a ~1 MB listing without hammering DynamoDB Local.
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map((n) =>
          writeRecord(ddb, table, {
            teamId,
            record: mapPatient(patient({ id: 500_000 + n, chart_id: `PIPE${String(n).padStart(5, '0')}` }), context()),
            deliveryId: `seed-${n}`,
            syncedAt: new Date().toISOString(),
          }),
        ),
      );
    }
  }, 120_000);

  it('records --json delivers the whole listing to a slow reader, as valid JSON, with exit code 0', async () => {
    const run = await runBin(['records', teamId, 'patient', '--limit', String(PATIENTS), '--json'], 'slow');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(256 * 1024);
    const listed = JSON.parse(run.stdout.toString('utf8')) as unknown[];
    expect(listed).toHaveLength(PATIENTS);
  }, 120_000);

  it('plain records output reaches a slow reader whole', async () => {
    const run = await runBin(['records', teamId, 'patient', '--limit', String(PATIENTS)], 'slow');
    expect(run.code).toBe(0);
    const headers = run.stdout.toString('utf8').split('\n').filter((l) => l.startsWith('patient '));
    expect(headers).toHaveLength(PATIENTS);
  }, 120_000);

  it('exits non-zero when the reader goes away before the output is written', async () => {
    const run = await runBin(['records', teamId, 'patient', '--limit', String(PATIENTS), '--json'], 'close-early');
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toContain('could not write output');
  }, 120_000);
});
