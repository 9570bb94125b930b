import type { TeamItem } from '../teams/team-store';
import type { DrChronoConnectionUser } from './team-connection';

/**
 * A team is bound to the DrChrono account (user and practice group) that first connected it: a later OAuth
 * completion by another user or practice group is refused before anything is stored, unless the connect link
 * carried an operator's one-time permission (`team connect-link --allow-account-change`). Without this, anyone who
 * sees the connect link (or the webhook URL's team id) could connect their own practice, import its PHI into the
 * clinic's records and discard the clinic's tokens; an admin logged into the wrong DrChrono account would do the
 * same by accident.
 *
 * Stored on the team item: `boundDrchronoUserId`, `boundDrchronoPracticeGroup` (absent when DrChrono gave none),
 * `accountBoundAt`, and `accountChangeLinksUsed` (a string set of the link ids whose permission was spent). Teams
 * connected before binding existed are bound to their recorded `drchronoUserId` / `drchronoPracticeGroup`.
 */
export interface AccountBinding {
  userId: number;
  practiceGroup: string | null;
}

export type BindingDecision =
  | { kind: 'first' }
  | { kind: 'same' }
  | { kind: 'change'; linkId: string }
  | { kind: 'refused'; reason: 'other_account' | 'permission_used' };

export function boundAccount(team: TeamItem): AccountBinding | undefined {
  const t = team as TeamItem & { boundDrchronoUserId?: unknown; boundDrchronoPracticeGroup?: unknown };
  if (typeof t.boundDrchronoUserId === 'number') {
    return { userId: t.boundDrchronoUserId, practiceGroup: pgOf(t.boundDrchronoPracticeGroup) };
  }
  if (team.drchronoUserId === undefined) return undefined;
  return { userId: team.drchronoUserId, practiceGroup: pgOf(team.drchronoPracticeGroup) };
}

/** The link ids whose account-change permission is spent (a DynamoDB string set, read as a Set). */
export function usedAccountChangeLinks(team: TeamItem): ReadonlySet<string> {
  const v = (team as { accountChangeLinksUsed?: unknown }).accountChangeLinksUsed;
  if (v instanceof Set) return new Set([...v].map(String));
  if (Array.isArray(v)) return new Set(v.map(String));
  return new Set();
}

export function sameAccount(bound: AccountBinding, user: DrChronoConnectionUser): boolean {
  if (bound.userId !== user.id) return false;
  // A binding recorded without a practice group (DrChrono gave none) is checked on the user alone.
  return bound.practiceGroup === null || bound.practiceGroup === pgOf(user.practiceGroup);
}

export function decideBinding(team: TeamItem, user: DrChronoConnectionUser, permission: { linkId?: string }): BindingDecision {
  const bound = boundAccount(team);
  if (!bound) return { kind: 'first' };
  if (sameAccount(bound, user)) return { kind: 'same' };
  if (!permission.linkId) return { kind: 'refused', reason: 'other_account' };
  if (usedAccountChangeLinks(team).has(permission.linkId)) return { kind: 'refused', reason: 'permission_used' };
  return { kind: 'change', linkId: permission.linkId };
}

/** Practice groups arrive as numbers or strings; compared and stored as strings. */
function pgOf(v: unknown): string | null {
  return v === undefined || v === null || v === '' ? null : String(v);
}

export function practiceGroupOf(user: DrChronoConnectionUser): string | null {
  return pgOf(user.practiceGroup);
}
