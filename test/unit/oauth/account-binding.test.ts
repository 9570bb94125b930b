import { boundAccount, decideBinding } from '../../../shared/oauth/account-binding';
import type { TeamItem } from '../../../shared/teams/team-store';

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const base: TeamItem = { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x' };
const bound = (extra: Record<string, unknown>) => ({ ...base, ...extra }) as TeamItem;
const USER = { id: 9001, username: 'u', doctor: 1, practiceGroup: '77821' };
const LINK = 'L'.repeat(22);

describe('account binding', () => {
  it('a team never connected binds on its first connection', () => {
    expect(decideBinding(base, USER, {})).toEqual({ kind: 'first' });
  });

  it('the same user and practice group reconnect freely (practice group compared as text)', () => {
    expect(decideBinding(bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821' }), { ...USER, practiceGroup: 77821 }, {})).toEqual({ kind: 'same' });
  });

  it('another user of the same practice group is refused', () => {
    expect(decideBinding(bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821' }), { ...USER, id: 9101 }, {})).toEqual({ kind: 'refused', reason: 'other_account' });
  });

  it('the same user id in another practice group is refused', () => {
    expect(decideBinding(bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821' }), { ...USER, practiceGroup: '88934' }, {})).toEqual({ kind: 'refused', reason: 'other_account' });
  });

  it('another account is allowed with an unspent account-change permission', () => {
    expect(decideBinding(bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821' }), { ...USER, id: 9201, practiceGroup: '88934' }, { linkId: LINK })).toEqual({
      kind: 'change',
      linkId: LINK,
    });
  });

  it('a spent permission (the link id in accountChangeLinksUsed) is refused', () => {
    const team = bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821', accountChangeLinksUsed: new Set([LINK]) });
    expect(decideBinding(team, { ...USER, id: 9201, practiceGroup: '88934' }, { linkId: LINK })).toEqual({ kind: 'refused', reason: 'permission_used' });
  });

  it('a permission is not spent when the same account reconnects', () => {
    expect(decideBinding(bound({ boundDrchronoUserId: 9001, boundDrchronoPracticeGroup: '77821' }), USER, { linkId: LINK })).toEqual({ kind: 'same' });
  });

  it('a team connected before binding existed is bound to its recorded user and practice group', () => {
    const legacy = bound({ drchronoUserId: 9001, drchronoPracticeGroup: 77821 });
    expect(boundAccount(legacy)).toEqual({ userId: 9001, practiceGroup: '77821' });
    expect(decideBinding(legacy, USER, {})).toEqual({ kind: 'same' });
    expect(decideBinding(legacy, { ...USER, id: 9201 }, {})).toEqual({ kind: 'refused', reason: 'other_account' });
  });

  it('the binding wins over the recorded connection user', () => {
    const team = bound({ boundDrchronoUserId: 9201, boundDrchronoPracticeGroup: '88934', drchronoUserId: 9001, drchronoPracticeGroup: '77821' });
    expect(decideBinding(team, USER, {})).toEqual({ kind: 'refused', reason: 'other_account' });
  });
});
