import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { WRITE_API_PATHS, type RouteMethod } from '../http/routes';
import { encodeSqsMessageBody } from '../ingest/sqs-message-body';
import { logger } from '../logging/logger';
import { readTeamSyncConfig, type TeamSyncConfig } from '../mapping/team-sync-config';
import { writeBackAllowed } from '../oauth/authorize-url';
import { parseVersionKey } from '../store/record-version';
import { getRecord, findPatientsByChartId, type StoredRecord } from '../store/records';
import { parseTeamId } from '../teams/team-id';
import { getTeamItem, teamLifecycle, type TeamItem } from '../teams/team-store';
import { writeBackDefaultsOf } from '../teams/write-back-settings';
import { ChangeIdSchema, ChangeMessageSchema, changeGroupId, type ChangeMessage, type ChangeOp, type WriteEntity } from './change';
import { completeChange, createChange, getChange } from './change-store';
import { recordView } from './record-view';
import type { FieldProblem, WriteDefaults, WriteLookups, WritePlan, WriteRequest } from './reverse-map';
import { RECONNECT_HINT } from './reconnect-hint';
import { AmbiguousChartIdError, LookupUnavailableError } from './write-lookups';

/**
 * The write API's routes (docs/write-back.md, "The write API"): validate the request, check the team may write,
 * map the body back to DrChrono's fields (reverse-map.ts planWrite), store the pending change item and queue the
 * change on the FIFO write-back queue. Also the two reads an app needs: a record with its version (ETag) and a
 * change's outcome. Signatures are checked before this runs (IAM authorizer). Bodies, values and keys (Chart IDs)
 * are never logged: team id, change id, entity, op, outcome and counts only.
 */
export const MAX_BODY_BYTES = 64 * 1024;

export interface WriteApiRequest {
  method: string;
  /** The route template, e.g. `/teams/{teamId}/patients/{chartId}`. */
  routePath: string;
  params: Readonly<Record<string, string | undefined>>;
  /** lower-cased names */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body as received (decoded from base64 when API Gateway encoded it); undefined when none. */
  body: Buffer | undefined;
}

export interface WriteApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export type PlanWrite = (req: WriteRequest, ctx: { config: TeamSyncConfig; defaults: WriteDefaults; lookups: WriteLookups }) => Promise<WritePlan>;

export interface WriteApiDeps {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  teamsTable: string;
  recordsTable: string;
  writeBackQueueUrl: string;
  planWrite: PlanWrite;
  lookups(team: TeamItem): WriteLookups;
  newChangeId?: () => string;
  now?: () => Date;
}

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): WriteApiResponse {
  return { statusCode, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

const notFound = (what: string): WriteApiResponse => json(404, { message: `${what} not found` });
const ambiguous = (): WriteApiResponse => json(409, { message: 'several patients have this Chart ID' });
const invalid = (problems: FieldProblem[]): WriteApiResponse => json(400, { message: 'invalid change', problems });

/** Path keys: a Chart ID as the app names it (the change message allows 128 characters), a Claim ID is DrChrono's numeric id. */
const ChartIdSchema = z.string().check(z.minLength(1), z.maxLength(128));
const ClaimIdSchema = z.string().check(z.regex(/^\d{1,20}$/));
const BodySchema = z.record(z.string(), z.unknown());

type Route = keyof typeof WRITE_API_PATHS;

function routeOf(routePath: string): Route | undefined {
  return (Object.keys(WRITE_API_PATHS) as Route[]).find((r) => WRITE_API_PATHS[r].path === routePath);
}

export async function handleWriteApi(req: WriteApiRequest, deps: WriteApiDeps): Promise<WriteApiResponse> {
  const route = routeOf(req.routePath);
  if (!route) return notFound('route');
  const allowed: readonly RouteMethod[] = WRITE_API_PATHS[route].methods;
  if (!allowed.includes(req.method as RouteMethod)) {
    return json(405, { message: 'Method Not Allowed' }, { allow: allowed.join(', ') });
  }

  const teamId = parseTeamId(req.params.teamId);
  if (teamId === undefined) return notFound('team');
  // Consistent: `team write-back off` and `team disable` stop writes from the next request on.
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  const lifecycle = teamLifecycle(team);
  if (!team || lifecycle === undefined || lifecycle === 'removing' || lifecycle === 'removed') return notFound('team');

  if (req.method === 'GET') return read(route, teamId, req, deps);

  if (lifecycle === 'disabled') return json(409, { message: 'team is disabled' });
  // Not connected (never, or DrChrono revoked the grant): the worker could not apply the change, which would sit
  // pending for days. Refuse now and say how to reconnect.
  if (team.status !== 'connected') return json(409, { message: 'the team is not connected to DrChrono', hint: RECONNECT_HINT(teamId) });
  if (!writeBackAllowed({ writeBack: team.writeBack, grantedScopes: team.grantedScopes })) {
    const message = team.writeBack === true ? 'the team has not granted the write scopes' : 'write-back is off for this team';
    return json(403, { message, hint: RECONNECT_HINT(teamId) });
  }
  return write(route, team, req, deps);
}

async function read(route: Route, teamId: string, req: WriteApiRequest, deps: WriteApiDeps): Promise<WriteApiResponse> {
  if (route === 'change') {
    const changeId = ChangeIdSchema.safeParse(req.params.changeId);
    if (!changeId.success) return notFound('change');
    const change = await getChange(deps.ddb, deps.teamsTable, teamId, changeId.data);
    return change ? json(200, change) : notFound('change');
  }
  const found = await findRecord(route === 'patient' ? 'patient' : 'appointment', teamId, req, deps);
  if (found === 'ambiguous') return ambiguous();
  if (found === 'invalid-key' || found.record === undefined) return notFound('record');
  const view = recordView(found.record, found.key);
  return json(200, view, { etag: `"${view.version}"` });
}

async function findRecord(
  entity: WriteEntity,
  teamId: string,
  req: WriteApiRequest,
  deps: WriteApiDeps,
): Promise<{ key: string; record: StoredRecord | undefined } | 'invalid-key' | 'ambiguous'> {
  if (entity === 'patient') {
    const key = ChartIdSchema.safeParse(req.params.chartId);
    if (!key.success) return 'invalid-key';
    const { live, deleted } = await findPatientsByChartId(deps.ddb, deps.recordsTable, teamId, key.data);
    // Two live patients share the Chart ID (DrChrono allows it): reading or writing "the" patient would pick one at random.
    if (live.length > 1) return 'ambiguous';
    return { key: key.data, record: live[0] ?? deleted };
  }
  const key = ClaimIdSchema.safeParse(req.params.claimId);
  if (!key.success) return 'invalid-key';
  return { key: key.data, record: await getRecord(deps.ddb, deps.recordsTable, teamId, 'appointment', key.data, { consistent: true }) };
}

/**
 * `If-Match: "<versionKey>"` → the base version; absent or `*` ("any version", RFC 9110) → null (last writer wins).
 * A weak ETag `W/"<versionKey>"` (a proxy may weaken ours) names the same version: its opaque value is compared.
 */
function baseVersionOf(header: string | undefined): { ok: true; value: string | null } | { ok: false } {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return { ok: true, value: null };
  const m = /^(?:W\/)?"([^"]{1,200})"$/.exec(header.trim());
  if (!m || parseVersionKey(m[1]!) === undefined) return { ok: false };
  return { ok: true, value: m[1]! };
}

function parseBody(body: Buffer | undefined): { ok: true; fields: Record<string, unknown> } | { ok: false; response: WriteApiResponse } {
  if (body === undefined || body.length === 0) return { ok: false, response: invalid([{ field: '(body)', problem: 'a JSON object of record fields is required' }]) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, response: invalid([{ field: '(body)', problem: 'the body is not JSON' }]) };
  }
  const object = BodySchema.safeParse(parsed);
  if (!object.success) return { ok: false, response: invalid([{ field: '(body)', problem: 'the body must be a JSON object of record fields' }]) };
  return { ok: true, fields: object.data };
}

async function write(route: Route, team: TeamItem, req: WriteApiRequest, deps: WriteApiDeps): Promise<WriteApiResponse> {
  const teamId = team.teamId;
  if (req.body !== undefined && req.body.length > MAX_BODY_BYTES) return json(413, { message: `the body is larger than ${MAX_BODY_BYTES} bytes` });
  const base = baseVersionOf(req.headers['if-match']);
  if (!base.ok) return invalid([{ field: 'If-Match', problem: 'must be *, or one quoted record version as the ETag of a record read' }]);

  const entity: WriteEntity = route === 'patient' ? 'patient' : 'appointment';
  const op: ChangeOp = req.method === 'PUT' ? 'upsert' : req.method === 'POST' ? 'create' : req.method === 'DELETE' ? 'delete' : 'update';

  let key: string | null = null;
  let drchronoId: string | null = null;
  if (op !== 'create') {
    const found = await findRecord(entity, teamId, req, deps);
    if (found === 'invalid-key') return entity === 'patient' ? invalid([{ field: 'Chart ID', problem: 'must be 1 to 128 characters' }]) : notFound('record');
    if (found === 'ambiguous') return ambiguous();
    key = found.key;
    const live = found.record !== undefined && !found.record.deleted ? found.record : undefined;
    // PUT creates the patient when no live record holds the Chart ID; PATCH and DELETE need one.
    if (op !== 'upsert' && !live) return notFound('record');
    drchronoId = live?.drchronoId ?? null;
  }

  let fieldsWritten: string[] = [];
  let payload: Record<string, unknown> = {};
  if (op === 'delete') {
    if (req.body !== undefined && req.body.length > 0 && req.body.toString('utf8').trim() !== '{}') {
      return invalid([{ field: '(body)', problem: 'DELETE takes no body' }]);
    }
  } else {
    const body = parseBody(req.body);
    if (!body.ok) return body.response;
    let plan: WritePlan;
    try {
      plan = await deps.planWrite({ entity, op, key, fields: body.fields }, { config: readTeamSyncConfig(team), defaults: writeBackDefaultsOf(team), lookups: deps.lookups(team) });
    } catch (err) {
      if (err instanceof AmbiguousChartIdError) return ambiguous();
      if (!(err instanceof LookupUnavailableError)) throw err;
      logger.warn('write-api lookup unavailable', { teamId, entity, op, reason: err.reason });
      return json(503, { message: 'DrChrono could not be asked for a lookup this change needs; retry later' }, { 'retry-after': String(err.retryAfterSeconds) });
    }
    if (!plan.ok) {
      logger.info('write-api change refused', { teamId, entity, op, outcome: 'invalid', problems: plan.problems.length });
      return invalid(plan.problems);
    }
    fieldsWritten = plan.fieldsWritten;
    payload = plan.payload;
  }

  return accept(
    { v: 1, changeId: '', teamId, entity, op, key, drchronoId, fieldsWritten, payload, baseVersion: base.value, requestedAt: (deps.now?.() ?? new Date()).toISOString() },
    deps,
  );
}

/** Stores the pending change, then queues it. A change whose send fails ends `failed` at once: the app retries with a new change. */
async function accept(draft: ChangeMessage, deps: WriteApiDeps): Promise<WriteApiResponse> {
  const newId = deps.newChangeId ?? randomUUID;
  let message: ChangeMessage | undefined;
  // A random UUID never collides in practice; one retry keeps a collision from answering 500.
  for (let attempt = 0; attempt < 2 && !message; attempt += 1) {
    const candidate = ChangeMessageSchema.parse({ ...draft, changeId: newId() });
    if (await createChange(deps.ddb, deps.teamsTable, candidate, deps.now?.() ?? new Date())) message = candidate;
  }
  if (!message) throw new Error('could not store the change: change id collided twice');
  const { teamId, changeId, entity, op } = message;
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.writeBackQueueUrl,
        // Values are the app's text: JSON.stringify leaves U+FFFE/U+FFFF raw and SQS would refuse the message.
        MessageBody: encodeSqsMessageBody(message),
        MessageGroupId: changeGroupId(message),
        MessageDeduplicationId: changeId,
        MessageAttributes: { teamId: { DataType: 'String', StringValue: teamId }, entity: { DataType: 'String', StringValue: entity } },
      }),
    );
  } catch (err) {
    // The worker never sees this change: end it so a poller does not wait forever. If this write fails too the
    // item stays pending (the app got a 5xx and no change id, so nothing waits on it) until its TTL.
    const ended = await completeChange(deps.ddb, deps.teamsTable, teamId, changeId, { status: 'failed', reason: 'not queued' }, deps.now?.() ?? new Date());
    if (!ended) {
      // The send failed on our side only (e.g. a timeout) but SQS stored the message and the worker already took
      // the change on: it is not ours to fail. "Send it again" would apply it twice; answer with its own status.
      const current = await getChange(deps.ddb, deps.teamsTable, teamId, changeId);
      if (current) {
        logger.warn('write-api change queued despite a send error', { teamId, changeId, entity, op, outcome: current.status });
        return json(202, { changeId, status: current.status }, { location: `/teams/${teamId}/changes/${changeId}` });
      }
    }
    logger.error('write-api change not queued', { teamId, changeId, entity, op, outcome: 'failed', errorClass: err instanceof Error ? err.name : 'UnknownError' });
    return json(503, { message: 'the change could not be queued; send it again', changeId, status: 'failed' }, { 'retry-after': '1' });
  }
  logger.info('write-api change accepted', { teamId, changeId, entity, op, outcome: 'pending', fields: message.fieldsWritten.length });
  return json(202, { changeId, status: 'pending' }, { location: `/teams/${teamId}/changes/${changeId}` });
}
