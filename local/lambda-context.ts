import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** A Lambda context like the one AWS passes, with getRemainingTimeInMillis honouring the function's timeout. */
export function lambdaContext(opts: { functionName: string; timeoutSeconds: number; memoryMb?: number; region?: string }): Context {
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  const region = opts.region ?? 'us-east-1';
  const awsRequestId = randomUUID();
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: opts.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${opts.functionName}`,
    memoryLimitInMB: String(opts.memoryMb ?? 256),
    awsRequestId,
    logGroupName: `/aws/lambda/${opts.functionName}`,
    logStreamName: `${day}/[$LATEST]${awsRequestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export class FunctionTimeoutError extends Error {
  constructor(functionName: string, timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds (${functionName})`);
    this.name = 'FunctionTimeoutError';
  }
}

/** Runs an invocation, rejecting with FunctionTimeoutError once the Lambda timeout has passed. */
export async function withTimeout<T>(run: Promise<T>, functionName: string, timeoutSeconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeoutError(functionName, timeoutSeconds)), timeoutSeconds * 1000);
  });
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
