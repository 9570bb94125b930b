import type { Context } from 'aws-lambda';

/** A Lambda context as the runtime passes it, for invoking a handler in a unit test. */
export function lambdaContext(functionName: string, remainingMs = 10_000): Context {
  return {
    functionName,
    awsRequestId: 'req-1',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    getRemainingTimeInMillis: () => remainingMs,
  } as unknown as Context;
}

/**
 * Captures everything written to stdout and stderr (where the structured logger writes) until jest restores the
 * spies, so a test can assert what was logged, and what never was.
 */
export function captureOutput(): string[] {
  const output: string[] = [];
  const capture = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  return output;
}
