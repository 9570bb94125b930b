import { Writable } from 'node:stream';
import { OUTPUT_FAILED_EXIT, streamOutput } from '../../../cli/output';

/** A stream that takes each chunk only after `delayMs`, like a pipe whose reader is slow. */
function slowSink(delayMs: number): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        chunks.push(chunk);
        cb();
      }, delayMs);
    },
  });
  return Object.assign(sink, { text: () => Buffer.concat(chunks).toString('utf8') });
}

function failingSink(code: string): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error('write failed'), { code }));
    },
  });
}

describe('CLI output', () => {
  it('finish resolves only after a slow reader has taken every line', async () => {
    const stdout = slowSink(2);
    const io = streamOutput(stdout, slowSink(0));
    for (let i = 0; i < 200; i++) io.out(`line ${i}`);
    expect(await io.finish(0)).toBe(0);
    expect(stdout.text().split('\n')).toHaveLength(201);
    expect(stdout.text().endsWith('line 199\n')).toBe(true);
  });

  it('a failed stdout write (EPIPE) turns exit code 0 into a failure and says so on stderr', async () => {
    const stderr = slowSink(0);
    const io = streamOutput(failingSink('EPIPE'), stderr);
    io.out('{"a":1}');
    expect(await io.finish(0)).toBe(OUTPUT_FAILED_EXIT);
    expect(stderr.text()).toContain('could not write output (stdout: EPIPE)');
  });

  it('keeps the command’s own non-zero exit code when the output also failed', async () => {
    const io = streamOutput(failingSink('EIO'), slowSink(0));
    io.out('x');
    expect(await io.finish(2)).toBe(2);
  });

  it('stops writing once the reader is gone', async () => {
    let writes = 0;
    const stdout = new Writable({
      write(_c, _e, cb) {
        writes++;
        cb(Object.assign(new Error('gone'), { code: 'EPIPE' }));
      },
    });
    const io = streamOutput(stdout, slowSink(0));
    io.out('first');
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 100; i++) io.out(`more ${i}`);
    await io.finish(0);
    expect(writes).toBe(1);
  });
});
