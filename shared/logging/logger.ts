import { Logger } from '@aws-lambda-powertools/logger';

/**
 * A Powertools Logger that never logs the Lambda event. Events carry webhook bodies (PHI), OAuth codes and
 * states, so neither POWERTOOLS_LOGGER_LOG_EVENT=true nor `injectLambdaContext(logger, { logEvent: true })`
 * may turn event logging on.
 */
class EventSafeLogger extends Logger {
  override shouldLogEvent(_overwriteValue?: boolean): boolean {
    return false;
  }
}

/**
 * The one structured logger. Log ids (team, delivery, DrChrono object id), outcomes and counts only:
 * never request bodies, headers, tokens, secrets or any DrChrono object field.
 */
export const logger: Logger = new EventSafeLogger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'drchrono-sync' });

/** Error details safe to log: the class and our own message, never a response body or a stack with data. */
export function errorFields(err: unknown): { errorClass: string; errorMessage: string } {
  if (err instanceof Error) return { errorClass: err.name, errorMessage: err.message };
  return { errorClass: 'UnknownError', errorMessage: 'non-Error thrown' };
}
