/**
 * An error the user can act on: main prints the message (no stack) and exits non-zero. Its own module so that
 * cli/main.ts can use it without loading cli/context.ts (and with it the AWS SDK) for `--help`.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
