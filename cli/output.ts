/**
 * The CLI's stdout and stderr. Operators pipe this CLI into jq, head and scripts, and a pipe is asynchronous in
 * Node: `process.exit()` right after writing drops whatever the reader had not taken yet (a 1 MB `--json` listing
 * arrived as ~200 KB of invalid JSON, exit 0). So lines are written to the streams, `finish` waits until every
 * written byte has been handed to the OS, and a write that failed (EPIPE: the reader went away; EIO, ENOSPC) turns
 * the exit code non-zero instead of being swallowed the way console.log swallows it.
 */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
  /** Resolves once both streams are drained; the exit code, non-zero if any write failed. */
  finish(code: number): Promise<number>;
}

/** Exit code when the output could not be written (the command's own code is kept when it already failed). */
export const OUTPUT_FAILED_EXIT = 1;

export function streamOutput(stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): CliOutput {
  let failure: string | undefined;
  const onError = (stream: string) => (err: NodeJS.ErrnoException) => {
    failure ??= `${stream}: ${err.code ?? err.message}`;
  };
  stdout.on('error', onError('stdout'));
  stderr.on('error', onError('stderr'));

  const write = (stream: NodeJS.WritableStream, line: string): void => {
    // After a failed write the reader is gone: stop producing output, keep the failure for the exit code.
    if (failure !== undefined) return;
    stream.write(`${line}\n`);
  };
  const drained = (stream: NodeJS.WritableStream): Promise<void> =>
    new Promise((resolve) => {
      // An empty write's callback runs after every earlier chunk was flushed (or with the error that stopped it).
      stream.write('', (err) => {
        if (err) onError(stream === stdout ? 'stdout' : 'stderr')(err as NodeJS.ErrnoException);
        resolve();
      });
    });

  return {
    out: (line) => write(stdout, line),
    err: (line) => write(stderr, line),
    async finish(code) {
      if (failure === undefined) await Promise.all([drained(stdout), drained(stderr)]);
      if (failure === undefined) return code;
      // Say why on stderr when stderr still works; never hide the failure behind exit 0.
      if (!failure.startsWith('stderr')) await new Promise<void>((r) => stderr.write(`error: could not write output (${failure})\n`, () => r()));
      return code === 0 ? OUTPUT_FAILED_EXIT : code;
    },
  };
}
