import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one structured logger. Log ids (team, delivery, DrChrono object id), outcomes and counts only:
 * never request bodies, headers, tokens, secrets or any DrChrono object field.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'drchrono-sync' });

/** Error details safe to log: the class and our own message, never a response body or a stack with data. */
export function errorFields(err: unknown): { errorClass: string; errorMessage: string } {
  if (err instanceof Error) return { errorClass: err.name, errorMessage: err.message };
  return { errorClass: 'UnknownError', errorMessage: 'non-Error thrown' };
}
