import * as z from 'zod/mini';
import '../../shared/validation/english-messages';
import { AwsFaultRuleSchema, type AwsFaults } from '../emulators/fault-proxy';
import type { SqsPoller } from '../poller/sqs-poller';
import { advanceClock, clockOffsetMs, resetClock } from '../time-control';
import type { Scheduler } from '../scheduler';
import { FunctionNotImplementedError } from '../functions';
import { jsonResponse, type HttpResponse } from './http-response';

/**
 * The local-only /_local/ routes: health, run a scheduled function now, pause/resume/inspect the SQS
 * pollers (tests pause `sync` to look at the ingest queue), move the process clock, and inject DynamoDB/SQS
 * faults in front of the handlers. They never exist in the deployed API.
 */
export interface ControlDeps {
  pollers: ReadonlyMap<string, SqsPoller>;
  scheduler: Scheduler;
  awsFaults?: AwsFaults;
  health(): unknown;
}

const ClockSchema = z.union([z.strictObject({ advanceSeconds: z.number().check(z.minimum(0), z.maximum(4000 * 86_400)) }), z.strictObject({ reset: z.literal(true) })]);

function parseJson(body: Buffer): unknown {
  try {
    return body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function badRequest(error: z.core.$ZodError | undefined): HttpResponse {
  return jsonResponse(400, { message: 'Bad Request', issues: error?.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) ?? [{ path: '', message: 'body is not JSON' }] });
}

function clockView(): { now: string; offsetSeconds: number } {
  return { now: new Date().toISOString(), offsetSeconds: clockOffsetMs() / 1000 };
}

function errorBody(err: unknown): { message: string; errorClass: string; errorMessage: string } {
  const e = err instanceof Error ? err : undefined;
  return { message: 'Function error', errorClass: e?.name ?? 'UnknownError', errorMessage: e?.message ?? 'non-Error thrown' };
}

export function controlRoutes(deps: ControlDeps): (method: string, path: string, body?: Buffer) => Promise<HttpResponse> {
  return async (method, path, body = Buffer.alloc(0)) => {
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

    if (first === 'clock' && parts.length === 1) {
      if (method === 'GET') return jsonResponse(200, clockView());
      if (method === 'POST') {
        const parsed = ClockSchema.safeParse(parseJson(body));
        if (!parsed.success) return badRequest(parsed.error);
        if ('reset' in parsed.data) resetClock();
        else advanceClock(parsed.data.advanceSeconds * 1000);
        return jsonResponse(200, clockView());
      }
    }

    if (first === 'faults' && parts.length === 1 && deps.awsFaults) {
      const faults = deps.awsFaults;
      if (method === 'GET') return jsonResponse(200, { faults: faults.list(), injected: faults.injected });
      if (method === 'DELETE') {
        faults.clear();
        return jsonResponse(200, { faults: [], injected: faults.injected });
      }
      if (method === 'POST') {
        const parsed = AwsFaultRuleSchema.safeParse(parseJson(body));
        if (!parsed.success) return badRequest(parsed.error);
        return jsonResponse(201, faults.add(parsed.data));
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
