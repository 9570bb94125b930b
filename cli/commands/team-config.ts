import { parseArgs } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  CHOICE_LISTS,
  ENTITIES,
  FIELDS_BY_ENTITY,
  SYNC_CHOICES_ATTRIBUTE,
  SYNC_FIELDS_ATTRIBUTE,
  TeamSyncChoicesSchema,
  TeamSyncFieldsSchema,
  readTeamSyncConfig,
  type ChoiceList,
  type Entity,
  type TeamSyncConfig,
} from '../../shared/mapping';
import { parseTeamId } from '../../shared/teams/team-id';
import { getTeamItem, isTeamRemoved, LIVE_TEAM_CONDITION, LIVE_TEAM_VALUES, teamKey } from '../../shared/teams/team-store';
import { CliError, type CliContext } from '../context';

export const TEAM_CONFIG_USAGE = `Usage:
  drchrono-sync team fields <teamId>                                   show the team's fields
  drchrono-sync team fields <teamId> <entity> "<Field>,<Field>,..."    set the fields of patient|appointment|employee
  drchrono-sync team fields <teamId> <entity> --none                   sync no fields of that entity
  drchrono-sync team fields <teamId> [<entity>] --reset                back to all supported fields
  drchrono-sync team choices <teamId>                                  show the team's choice lists
  drchrono-sync team choices <teamId> <list> <from>=<to> ...           map DrChrono values to the app's labels
  drchrono-sync team choices <teamId> [<list>] --reset                 back to the defaults
  Choice lists: ${CHOICE_LISTS.join(', ')}. Changes apply to new deliveries within a minute.`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...args] = argv;
  let parsedArgs;
  try {
    parsedArgs = parseArgs({
      args,
      options: { reset: { type: 'boolean' }, none: { type: 'boolean' }, json: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${TEAM_CONFIG_USAGE}`, 2);
  }
  const { values, positionals } = parsedArgs;
  const [rawTeam, target, ...rest] = positionals;
  if (rawTeam === undefined) throw new CliError(`a team id is required\n\n${TEAM_CONFIG_USAGE}`, 2);
  const teamId = parseTeamId(rawTeam);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${rawTeam}"`, 2);
  const team = await getTeamItem(ctx.ddb, ctx.resources.teamsTable, teamId, true);
  if (!team) throw new CliError(`no team ${teamId}`);
  if (isTeamRemoved(team)) throw new CliError(`team ${teamId} is ${team.status}: it has no configuration any more`);

  if (sub === 'fields') return fields(ctx, teamId, team, target, rest, values);
  if (sub === 'choices') return choices(ctx, teamId, team, target, rest, values);
  throw new CliError(`unknown team config command "${sub}"\n\n${TEAM_CONFIG_USAGE}`, 2);
}

type Flags = { reset?: boolean; none?: boolean; json?: boolean };

async function fields(ctx: CliContext, teamId: string, team: Record<string, unknown>, target: string | undefined, rest: string[], flags: Flags): Promise<number> {
  const stored = { ...((team[SYNC_FIELDS_ATTRIBUTE] as Record<string, unknown> | undefined) ?? {}) };
  if (target === undefined && !flags.reset) return showFields(ctx, readTeamSyncConfig(team), flags.json);
  if (target !== undefined && !(ENTITIES as readonly string[]).includes(target)) {
    throw new CliError(`entity must be one of ${ENTITIES.join(', ')}, got "${target}"`, 2);
  }
  const entity = target as Entity | undefined;
  if (flags.reset) {
    if (rest.length) throw new CliError('--reset takes no field names', 2);
    if (entity) delete stored[entity];
    else for (const e of ENTITIES) delete stored[e];
  } else {
    if (!entity) throw new CliError(TEAM_CONFIG_USAGE, 2);
    const names = flags.none ? [] : rest.join(',').split(',').map((s) => s.trim()).filter(Boolean);
    if (!flags.none && names.length === 0) throw new CliError('list the fields (comma-separated), or pass --none', 2);
    const supported = FIELDS_BY_ENTITY[entity];
    const unknown = names.filter((n) => !supported.includes(n));
    if (unknown.length) {
      throw new CliError(`unknown ${entity} field(s): ${unknown.map((n) => `"${n}"`).join(', ')}\nsupported: ${supported.join(', ')}`, 2);
    }
    stored[entity] = [...new Set(names)];
  }
  const checked = TeamSyncFieldsSchema.safeParse(stored);
  if (!checked.success) throw new CliError(`invalid field configuration: ${checked.error.issues.map((i) => i.message).join('; ')}`, 2);
  await saveAttribute(ctx, teamId, SYNC_FIELDS_ATTRIBUTE, checked.data);
  return showFields(ctx, readTeamSyncConfig({ ...team, [SYNC_FIELDS_ATTRIBUTE]: checked.data }), flags.json);
}

async function choices(ctx: CliContext, teamId: string, team: Record<string, unknown>, target: string | undefined, rest: string[], flags: Flags): Promise<number> {
  const stored = { ...((team[SYNC_CHOICES_ATTRIBUTE] as Record<string, Record<string, string>> | undefined) ?? {}) };
  if (target === undefined && !flags.reset) return showChoices(ctx, readTeamSyncConfig(team), flags.json);
  const list = target === undefined ? undefined : choiceListName(target);
  if (flags.reset) {
    if (rest.length) throw new CliError('--reset takes no mappings', 2);
    if (list) delete stored[list];
    else for (const l of CHOICE_LISTS) delete stored[l];
  } else {
    if (!list || rest.length === 0) throw new CliError(`give at least one <from>=<to> mapping\n\n${TEAM_CONFIG_USAGE}`, 2);
    const next = { ...(stored[list] ?? {}) };
    for (const pair of rest) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new CliError(`mapping must look like <from>=<to>, got "${pair}"`, 2);
      next[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    stored[list] = next;
  }
  const checked = TeamSyncChoicesSchema.safeParse(stored);
  if (!checked.success) throw new CliError(`invalid choice lists: ${checked.error.issues.map((i) => i.message).join('; ')}`, 2);
  await saveAttribute(ctx, teamId, SYNC_CHOICES_ATTRIBUTE, checked.data);
  return showChoices(ctx, readTeamSyncConfig({ ...team, [SYNC_CHOICES_ATTRIBUTE]: checked.data }), flags.json, list);
}

function choiceListName(raw: string): ChoiceList {
  const normalised = raw.replace(/[-_\s]/g, '').toLowerCase();
  const list = CHOICE_LISTS.find((l) => l.toLowerCase() === normalised);
  if (!list) throw new CliError(`choice list must be one of ${CHOICE_LISTS.join(', ')}, got "${raw}"`, 2);
  return list;
}

async function saveAttribute(ctx: CliContext, teamId: string, attribute: string, value: unknown): Promise<void> {
  try {
    await ctx.ddb.send(
      new UpdateCommand({
        TableName: ctx.resources.teamsTable,
        Key: teamKey(teamId),
        UpdateExpression: 'SET #a = :v, updatedAt = :now',
        ConditionExpression: LIVE_TEAM_CONDITION,
        ExpressionAttributeNames: { '#a': attribute, '#status': 'status' },
        ExpressionAttributeValues: { ':v': value, ':now': new Date().toISOString(), ...LIVE_TEAM_VALUES },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new CliError(`no team ${teamId}`);
    throw err;
  }
}

function showFields(ctx: CliContext, config: TeamSyncConfig, json?: boolean): number {
  if (json) {
    ctx.out(JSON.stringify(config.fields, null, 2));
    return 0;
  }
  for (const e of ENTITIES) {
    const chosen = config.fields[e];
    const all = FIELDS_BY_ENTITY[e];
    const note = chosen.length === all.length ? ' (all)' : chosen.length === 0 ? ' (none)' : '';
    ctx.out(`${e}${note}: ${chosen.join(', ')}`);
  }
  return 0;
}

function showChoices(ctx: CliContext, config: TeamSyncConfig, json?: boolean, only?: ChoiceList): number {
  const lists = only ? [only] : [...CHOICE_LISTS];
  if (json) {
    ctx.out(JSON.stringify(Object.fromEntries(lists.map((l) => [l, config.choices[l]])), null, 2));
    return 0;
  }
  for (const l of lists) {
    const pairs = Object.entries(config.choices[l]);
    ctx.out(`${l}: ${pairs.length ? pairs.map(([k, v]) => `${k}=${v}`).join(', ') : '(defaults only)'}`);
  }
  return 0;
}
