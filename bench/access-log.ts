import { ACCESS_LOG_FIELDS } from '../lib/http-api';

/**
 * The HTTP API access-log line the stack writes per request (lib/http-api.ts ACCESS_LOG_FIELDS), rendered with
 * realistic values so its size can be priced: API Gateway substitutes each `$context` variable, and writes `-` for
 * one that has no value (integrationErrorMessage on a success).
 */
export interface AccessLogRequest {
  routeKey: string;
  status: number;
  responseLength: number;
}

/** Realistic values of every `$context` variable ACCESS_LOG_FIELDS uses, in their AWS formats. */
const SAMPLE: Record<string, (r: AccessLogRequest) => string> = {
  // HTTP API request ids look like `Jx1B2gQwoAMEVxw=` (16 characters).
  '$context.requestId': () => 'Jx1B2gQwoAMEVxw=',
  // CLF format, always 26 characters.
  '$context.requestTime': () => '30/Nov/2026:11:36:42 +0000',
  // Epoch milliseconds, 13 digits.
  '$context.requestTimeEpoch': () => '1796038602123',
  // A public IPv4 address at its usual length.
  '$context.identity.sourceIp': () => '54.208.112.197',
  '$context.routeKey': (r) => r.routeKey,
  '$context.status': (r) => String(r.status),
  '$context.responseLatency': () => '18',
  '$context.integrationLatency': () => '15',
  '$context.integrationErrorMessage': () => '-',
  '$context.responseLength': (r) => String(r.responseLength),
};

export function renderAccessLogLine(fields: Record<string, string>, r: AccessLogRequest): string {
  const line: Record<string, string> = {};
  for (const [name, variable] of Object.entries(fields)) {
    const sample = SAMPLE[variable];
    if (!sample) throw new Error(`no sample value for ${variable}: add one to bench/access-log.ts`);
    line[name] = sample(r);
  }
  return JSON.stringify(line);
}

/** UTF-8 bytes of the stack's access-log line for a request (without CloudWatch's per-event overhead). */
export function accessLogLineBytes(r: AccessLogRequest, fields: Record<string, string> = ACCESS_LOG_FIELDS): number {
  return Buffer.byteLength(renderAccessLogLine(fields, r), 'utf8');
}

/** The floor's access-log line: which request, and its outcome. */
export const MINIMAL_ACCESS_LOG_FIELDS: Record<string, string> = { requestId: '$context.requestId', status: '$context.status' };

/** The webhook's answer to a queued delivery (shared/webhook/receive-webhook.ts) on its route. */
export const WEBHOOK_REQUEST: AccessLogRequest = {
  routeKey: 'POST /drchronowebhook/{teamId}',
  status: 202,
  responseLength: JSON.stringify({ ok: true, queued: true }).length,
};

/** The write API's answer to an accepted change (shared/write-back/write-api.ts; change ids are UUIDs). */
export const WRITE_API_REQUEST: AccessLogRequest = {
  routeKey: 'PATCH /teams/{teamId}/patients/{chartId}',
  status: 202,
  responseLength: JSON.stringify({ changeId: '6f1c2a7e-3b9d-4c1e-9a55-0d2b7c8e4f10', status: 'pending' }).length,
};
