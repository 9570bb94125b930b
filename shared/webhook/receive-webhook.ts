import * as z from 'zod/mini';
import { errorFields, logger } from '../logging/logger';
import { WEBHOOK_METHODS } from '../http/routes';
import { isSyncedEvent } from '../ingest/ingest-message';
import type { IngestMessageInput } from '../ingest/ingest-queue';
import { SqsMessageTooLargeError } from '../ingest/sqs-message-body';
import type { TeamSecret } from '../teams/team-secret';
import { parseTeamId } from '../teams/team-id';
import { parseWebhookEnvelope } from './envelope';
import { handshakeToken } from './handshake';
import { isAcceptedDeliverySignature } from './signature';

/**
 * Largest accepted body, in bytes after base64 decoding. DrChrono objects are a few KB (a verbose patient is
 * ~5 KB); 128 KiB leaves room for the ingest message's own fields and JSON escaping under SQS's classic
 * 256 KiB message limit. Only a body packed with U+FFFE/U+FFFF (3 bytes raw, 6 escaped) can still exceed it
 * once encoded: that one gets 413 too, never a 5xx.
 */
export const MAX_WEBHOOK_BODY_BYTES = 128 * 1024;

/** A signature mismatch re-reads the team secret (to pick up a rotated token) at most this often per team. */
export const SECRET_REFRESH_MIN_AGE_MS = 30_000;

/**
 * A cached secret older than the team item's `tokenVersion` is re-read at once the first time, then at most this
 * often per team while it stays older: while a claimed version has no secret yet (the writer claims, then writes) or
 * after a write that failed after its claim. Only a secret writer moves that version, never a forged request.
 */
export const SECRET_VERSION_REREAD_MIN_AGE_MS = 5_000;

export const PING_EVENT = 'PING';

export interface WebhookRequest {
  /** The raw path parameter, not yet validated. */
  teamId: string | undefined;
  method: string;
  query: Readonly<Record<string, string | undefined>>;
  /** Header names lower-cased. */
  headers: Readonly<Record<string, string | undefined>>;
  /**
   * The body's bytes: a Buffer (decoded base64), or the event's text as it came (its UTF-8 bytes are the body's),
   * which spares a copy into a Buffer and back for every delivery.
   */
  rawBody: Buffer | string;
}

/** The body's size in bytes, as sent. */
export function bodyBytes(rawBody: Buffer | string): number {
  return typeof rawBody === 'string' ? Buffer.byteLength(rawBody, 'utf8') : rawBody.length;
}

/** Whether the body is over `limit` bytes; a text body of at most limit/3 UTF-16 units cannot be (3 bytes each at most). */
function bodyExceeds(rawBody: Buffer | string, limit: number): boolean {
  if (typeof rawBody === 'string' && rawBody.length * 3 <= limit) return false;
  return bodyBytes(rawBody) > limit;
}

/** What the receiver needs to know about a team besides its secret. `gone`: unknown, being removed or removed. */
export type WebhookTeamState = 'active' | 'disabled' | 'gone';

/** The team item as the receiver reads it per request: its state and the last claimed secret `tokenVersion`. */
export interface WebhookTeamView {
  state: WebhookTeamState;
  tokenVersion?: number;
}

export interface WebhookDeps {
  /**
   * The team item's view (one eventually consistent GetItem of three attributes), cached per container for a short
   * TTL (team-state-cache.ts): `get` may answer from the cache, `fresh` always reads. The handshake and every
   * signature failure read fresh, so a token rotated or a team reconnected a moment ago never makes a good request fail.
   */
  teamState: {
    get(teamId: string): Promise<WebhookTeamView>;
    fresh(teamId: string): Promise<WebhookTeamView>;
  };
  secrets: {
    get(teamId: string): Promise<TeamSecret | null>;
    refresh(teamId: string, minAgeMs?: number): Promise<TeamSecret | null>;
    /** TeamSecretCache.atLeastVersion: re-read a copy older than `version`, bounded by minAgeMs after the first time. */
    atLeastVersion(teamId: string, version: number, minAgeMs: number): Promise<TeamSecret | null>;
  };
  /** Resolves once the queue has accepted the message; rejects otherwise. */
  enqueue(msg: IngestMessageInput): Promise<unknown>;
  /** Count one delivery of an event the product does not sync. */
  countIgnored(teamId: string, receivedAt: string): Promise<void>;
  now(): Date;
}

export type WebhookOutcome =
  | 'handshake'
  | 'ping'
  | 'queued'
  | 'ignored'
  | 'disabled'
  | 'unknown_team'
  | 'too_large'
  | 'bad_request'
  | 'unauthorized'
  | 'method_not_allowed'
  | 'secret_unavailable'
  | 'team_unavailable'
  | 'queue_unavailable';

/**
 * Outcomes that print nothing (no log line, no metric): a queued delivery, recorded in the API access log and by
 * the sync worker's integration log entry (with its delivery id). An ignored or disabled delivery reaches no
 * integration log, so it prints its one line (its delivery id is recorded nowhere else); so does every other
 * outcome (handshake, ping, every refusal and error), with one metric (docs/webhook.md, "Logging and metrics").
 */
export const SILENT_OUTCOMES: ReadonlySet<WebhookOutcome> = new Set<WebhookOutcome>(['queued']);

export interface WebhookResponse {
  statusCode: number;
  body: string;
  outcome: WebhookOutcome;
  /** Extra response headers (the 405's `Allow`). */
  headers?: Record<string, string>;
}

/** Events are upper-case names such as PATIENT_MODIFY; anything else is not a DrChrono event. */
const EventSchema = z.string().check(z.regex(/^[A-Z][A-Z0-9_]{0,63}$/));
/**
 * The handshake challenge. Deliveries may be signed with the hex HMAC of the body under the same key the handshake
 * uses, so the handshake must never sign something that could be a body: every accepted body is a JSON object and
 * contains '{', so a msg with '{' is refused. Without this, GET ?msg=<forged body> would mint a valid signature.
 */
const HandshakeMsgSchema = z.string().check(z.regex(/^[^{]{1,1024}$/));
/** Delivery ids are opaque; accept printable ASCII so they are safe to log and to store. */
const DeliveryIdSchema = z.string().check(z.regex(/^[\x21-\x7e]{1,200}$/));

type RequestLog = { teamId?: string; event?: string; deliveryId?: string; method: string };

/** The response for `outcome`, with its one log line unless the outcome is silent. */
function finish(log: RequestLog, outcome: WebhookOutcome, statusCode: number, body: Record<string, unknown>): WebhookResponse {
  if (!SILENT_OUTCOMES.has(outcome)) {
    const level = statusCode >= 500 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
    logger[level]('webhook request', { ...log, outcome, statusCode });
  }
  return { statusCode, body: JSON.stringify(body), outcome };
}

/**
 * Handle one request to /drchronowebhook/{teamId}: the GET verification handshake or a POST delivery.
 * Checks run cheapest first and nothing is queued unless every check passes. Logs carry ids and the
 * outcome only: never the body, headers or secrets.
 */
export async function receiveWebhook(req: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const log: RequestLog = { method: req.method };
  const done = finish.bind(undefined, log);

  // An id that is not a UUID names no team; the raw value is never logged.
  const teamId = parseTeamId(req.teamId);
  if (teamId === undefined) return done('unknown_team', 404, { error: 'unknown team' });
  log.teamId = teamId;

  if (req.method !== 'GET' && req.method !== 'POST') {
    return { ...done('method_not_allowed', 405, { error: 'method not allowed' }), headers: { allow: WEBHOOK_METHODS.join(', ') } };
  }
  if (bodyExceeds(req.rawBody, MAX_WEBHOOK_BODY_BYTES)) {
    return done('too_large', 413, { error: `body larger than ${MAX_WEBHOOK_BODY_BYTES} bytes` });
  }

  let team: WebhookTeamView;
  try {
    // The handshake happens right after a token is set or changed in DrChrono (and is rare): always read fresh.
    team = req.method === 'GET' ? await deps.teamState.fresh(teamId) : await deps.teamState.get(teamId);
  } catch (err) {
    logger.error('team state unavailable', { teamId, ...errorFields(err) });
    return done('team_unavailable', 503, { error: 'temporarily unavailable' });
  }
  if (team.state === 'gone') return done('unknown_team', 404, { error: 'unknown team' });

  let secret: TeamSecret | null;
  try {
    // The handshake happens right after a token is set or changed in DrChrono, so it reads a fresher copy.
    secret = req.method === 'GET' ? await deps.secrets.refresh(teamId, SECRET_REFRESH_MIN_AGE_MS) : await deps.secrets.get(teamId);
    secret = await secretOfVersion(teamId, secret, team, deps);
  } catch (err) {
    logger.error('team secret unavailable', { teamId, ...errorFields(err) });
    return done('secret_unavailable', 503, { error: 'temporarily unavailable' });
  }
  if (secret === null) return done('unknown_team', 404, { error: 'unknown team' });

  if (req.method === 'GET') {
    const msg = HandshakeMsgSchema.safeParse(req.query.msg);
    if (!msg.success) return done('bad_request', 400, { error: 'missing or invalid msg query parameter' });
    // During a rotation's overlap the reply is signed with the NEW token: DrChrono verifies with the token pasted
    // into it, and the only reason to press "Verify webhook" then is having just pasted the new one (docs/webhook.md).
    return done('handshake', 200, { secret_token: handshakeToken(secret.webhookSecret, msg.data) });
  }

  const signature = req.headers['x-drchrono-signature'];
  const nowMs = deps.now().getTime();
  if (!isAcceptedDeliverySignature(signature, secret, nowMs, req.rawBody)) {
    // The cached team view may predate a rotation or a reconnect (its tokenVersion), or a removal: read it again,
    // bypassing the cache, before refusing a delivery that may be good.
    try {
      team = await deps.teamState.fresh(teamId);
    } catch (err) {
      logger.error('team state unavailable', { teamId, ...errorFields(err) });
      return done('team_unavailable', 503, { error: 'temporarily unavailable' });
    }
    if (team.state === 'gone') return done('unknown_team', 404, { error: 'unknown team' });
    let current: TeamSecret | null;
    try {
      current = await secretOfVersion(teamId, secret, team, deps);
    } catch (err) {
      logger.error('team secret unavailable', { teamId, ...errorFields(err) });
      return done('secret_unavailable', 503, { error: 'temporarily unavailable' });
    }
    const matchesCurrent = current !== null && current !== secret && isAcceptedDeliverySignature(signature, current, nowMs, req.rawBody);
    if (!matchesCurrent && !(await signatureMatchesRefreshedSecret(teamId, current ?? secret, signature, req.rawBody, nowMs, deps))) {
      return done('unauthorized', 401, { error: 'invalid signature' });
    }
  }

  const event = EventSchema.safeParse(req.headers['x-drchrono-event']);
  if (!event.success) return done('bad_request', 400, { error: 'missing or invalid X-drchrono-event header' });
  log.event = event.data;
  if (event.data === PING_EVENT) return done('ping', 200, { ok: true, queued: false });

  const deliveryId = DeliveryIdSchema.safeParse(req.headers['x-drchrono-delivery']);
  if (!deliveryId.success) return done('bad_request', 400, { error: 'missing or invalid X-drchrono-delivery header' });
  log.deliveryId = deliveryId.data;

  const parsed = parseWebhookEnvelope(req.rawBody);
  if (!parsed.ok) return done('bad_request', 400, { error: parsed.error });

  const receivedAt = deps.now().toISOString();
  // Disabled: answered 2xx so DrChrono keeps the hook, but not queued (no PHI enters the queue); `team enable`
  // catches up through reconcile. Counted as ignored, so the operator sees deliveries still arriving.
  const disabled = team.state === 'disabled';
  if (disabled || !isSyncedEvent(event.data)) {
    try {
      await deps.countIgnored(teamId, receivedAt);
    } catch (err) {
      // A lost counter increment is not worth a redelivery of an event we would ignore again.
      logger.warn('ignored-event counter not updated', { teamId, ...errorFields(err) });
    }
    return done(disabled ? 'disabled' : 'ignored', 200, { ok: true, queued: false });
  }

  try {
    await deps.enqueue({
      v: 1,
      teamId,
      event: event.data,
      deliveryId: deliveryId.data,
      receivedAt,
      source: 'webhook',
      object: parsed.envelope.object,
    });
  } catch (err) {
    // Escaping (U+FFFE/U+FFFF become 6-byte escapes) can take an accepted body over SQS's limit: that body
    // could never be queued, so it is refused rather than redelivered.
    if (err instanceof SqsMessageTooLargeError) return done('too_large', 413, { error: 'body too large to queue' });
    // 5xx makes DrChrono redeliver (at +1 h, +3 h, +7 h).
    logger.error('ingest queue rejected delivery', { ...log, ...errorFields(err) });
    return done('queue_unavailable', 503, { error: 'temporarily unavailable' });
  }
  return done('queued', 202, { ok: true, queued: true });
}

/**
 * A copy cached before the last secret write (the team item's tokenVersion is higher: `team rotate-webhook-secret
 * --overlap 0` must cut the old token off in every warm container, not after the cache TTL) is read again.
 */
async function secretOfVersion(teamId: string, secret: TeamSecret | null, team: WebhookTeamView, deps: WebhookDeps): Promise<TeamSecret | null> {
  if (secret && (secret.tokenVersion ?? 0) < (team.tokenVersion ?? 0)) {
    return deps.secrets.atLeastVersion(teamId, team.tokenVersion ?? 0, SECRET_VERSION_REREAD_MIN_AGE_MS);
  }
  return secret;
}

/**
 * On a mismatch, re-read the secret once in case the token was rotated, at most once per
 * SECRET_REFRESH_MIN_AGE_MS per team, so a flood of forged deliveries costs at most that many reads.
 */
async function signatureMatchesRefreshedSecret(
  teamId: string,
  cached: TeamSecret,
  signature: string | undefined,
  rawBody: Buffer | string,
  nowMs: number,
  deps: WebhookDeps,
): Promise<boolean> {
  let fresh: TeamSecret | null;
  try {
    fresh = await deps.secrets.refresh(teamId, SECRET_REFRESH_MIN_AGE_MS);
  } catch (err) {
    logger.warn('team secret refresh failed', { teamId, ...errorFields(err) });
    return false;
  }
  // Only a rotation (a new current token) can make a refused signature valid; previous tokens never come back.
  if (fresh === null || fresh.webhookSecret === cached.webhookSecret) return false;
  return isAcceptedDeliverySignature(signature, fresh, nowMs, rawBody);
}
