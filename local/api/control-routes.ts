import type { SqsPoller } from '../poller/sqs-poller';
import type { Scheduler } from '../scheduler';
import { FunctionNotImplementedError } from '../functions';
import { jsonResponse, type HttpResponse } from './http-response';

/**
 * The local-only /_local/ routes: health, run a scheduled function now, and pause/resume/inspect the SQS
 * pollers (tests pause `sync` to look at the ingest queue). They never exist in the deployed API.
 */
export interface ControlDeps {
  pollers: ReadonlyMap<string, SqsPoller>;
  scheduler: Scheduler;
  health(): unknown;
}

function errorBody(err: unknown): { message: string; errorClass: string; errorMessage: string } {
  const e = err instanceof Error ? err : undefined;
  return { message: 'Function error', errorClass: e?.name ?? 'UnknownError', errorMessage: e?.message ?? 'non-Error thrown' };
}

export function controlRoutes(deps: ControlDeps): (method: string, path: string) => Promise<HttpResponse> {
  return async (method, path) => {
    const parts = path.split('/').filter((p) => p !== '').slice(1);
    const [first, second, third] = parts;
    if (method === 'GET' && first === 'health' && parts.length === 1) return jsonResponse(200, deps.health());

    if (method === 'POST' && first === 'run' && second !== undefined && parts.length === 2) {
      if (!deps.scheduler.has(second)) return jsonResponse(404, { message: `No scheduled function named ${second}` });
      try {
        return jsonResponse(200, (await deps.scheduler.runNow(second)) ?? null);
      } catch (err) {
        if (err instanceof FunctionNotImplementedError) return jsonResponse(501, { message: err.message });
        return jsonResponse(500, errorBody(err));
      }
    }

    if (first === 'pollers') {
      if (method === 'GET' && parts.length === 1) {
        return jsonResponse(200, { pollers: [...deps.pollers.values()].map((p) => p.stats()) });
      }
      const poller = second === undefined ? undefined : deps.pollers.get(second);
      if (method === 'POST' && parts.length === 3 && (third === 'pause' || third === 'resume')) {
        if (!poller) return jsonResponse(404, { message: `No poller for function ${second ?? ''}` });
        if (third === 'pause') await poller.pause();
        else poller.resume();
        return jsonResponse(200, poller.stats());
      }
    }
    return jsonResponse(404, { message: 'Not Found' });
  };
}
