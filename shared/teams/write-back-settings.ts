import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { getTeamItem, LIVE_TEAM_CONDITION, LIVE_TEAM_VALUES, teamKey, TeamRemovedError, TeamItemSchema, type TeamItem } from './team-store';

/**
 * A team's write-back settings on its team item (docs/write-back.md, "Opt-in per team"):
 * - `writeBack` (boolean, absent = off): the team opted in. The connect flow asks DrChrono for the write scopes only
 *   when it is on (shared/oauth/authorize-url.ts scopesToRequest), and the write API and the write-back worker check
 *   it on every change, so switching it off stops writes at once (changes already queued end `rejected`).
 * - `writeBackDefaults` `{office?, examRoom?}`: what an appointment create uses when the request names no office
 *   or exam room (shared/write-back/reverse-map.ts).
 * - `grantedScopes` is written by the OAuth callback only (team-connection.ts), never here.
 */
export const WriteBackDefaultsSchema = z.strictObject({
  /** A DrChrono office id. */
  office: z.optional(z.number().check(z.int(), z.positive())),
  /** An exam room index within the office (Office `exam_rooms[].index`, 1-based), the range the reverse mapping accepts. */
  examRoom: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(999))),
});
export type WriteBackDefaults = z.infer<typeof WriteBackDefaultsSchema>;

/** The team's defaults; an absent or malformed attribute reads as none (the create then needs them in the request). */
export function writeBackDefaultsOf(team: { readonly writeBackDefaults?: unknown; readonly [attr: string]: unknown }): WriteBackDefaults {
  const parsed = WriteBackDefaultsSchema.safeParse(team.writeBackDefaults ?? {});
  return parsed.success ? parsed.data : {};
}

export class TeamNotRegisteredError extends Error {
  override name = 'TeamNotRegisteredError';
}

export interface WriteBackSettingsDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  now?: () => Date;
}

/**
 * One conditional UpdateItem on a live team (not removing or removed); returns the team item before it and the
 * item with the change applied (`apply`, the same change in code). Idempotent: running it again writes the same values.
 */
async function updateLiveTeam(
  deps: WriteBackSettingsDeps,
  teamId: string,
  update: { expression: string; values?: Record<string, unknown>; apply: (team: TeamItem, now: string) => TeamItem },
): Promise<{ before: TeamItem; after: TeamItem }> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.teamsTable,
        Key: teamKey(teamId),
        UpdateExpression: update.expression,
        ConditionExpression: LIVE_TEAM_CONDITION,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':now': now, ...LIVE_TEAM_VALUES, ...update.values },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const before = TeamItemSchema.parse(out.Attributes);
    return { before, after: update.apply(before, now) };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
    if (!team) throw new TeamNotRegisteredError(`team ${teamId} is not registered`);
    throw new TeamRemovedError(`team ${teamId} is ${team.status}`);
  }
}

/** Switch write-back on or off. `changed`: the setting was different before. */
export async function setWriteBack(deps: WriteBackSettingsDeps, teamId: string, on: boolean): Promise<{ team: TeamItem; changed: boolean }> {
  const { before, after } = await updateLiveTeam(deps, teamId, {
    expression: 'SET writeBack = :on, updatedAt = :now',
    values: { ':on': on },
    apply: (team, now) => ({ ...team, writeBack: on, updatedAt: now }),
  });
  return { team: after, changed: (before.writeBack === true) !== on };
}

/** Replace the appointment-create defaults (both at once: an exam room index means nothing without its office); `{}` clears them. */
export async function setWriteBackDefaults(deps: WriteBackSettingsDeps, teamId: string, defaults: WriteBackDefaults): Promise<TeamItem> {
  const valid = WriteBackDefaultsSchema.parse(defaults);
  const clear = valid.office === undefined && valid.examRoom === undefined;
  const { after } = await updateLiveTeam(
    deps,
    teamId,
    clear
      ? { expression: 'SET updatedAt = :now REMOVE writeBackDefaults', apply: ({ writeBackDefaults: _old, ...team }, now) => ({ ...team, updatedAt: now }) }
      : {
          expression: 'SET writeBackDefaults = :defaults, updatedAt = :now',
          values: { ':defaults': valid },
          apply: (team, now) => ({ ...team, writeBackDefaults: valid, updatedAt: now }),
        },
  );
  return after;
}
