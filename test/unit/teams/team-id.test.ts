import { parseTeamId } from '../../../shared/teams/team-id';

describe('team ids', () => {
  it('accepts a UUID and lower-cases it', () => {
    expect(parseTeamId('3F1C2B4E-8A7D-4C1E-9B2A-5D6E7F8A9B0C')).toBe('3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c');
  });
  it.each(['', 'team-1', '3f1c2b4e8a7d4c1e9b2a5d6e7f8a9b0c', '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c/..', 42, null])(
    'rejects %p',
    (value) => {
      expect(parseTeamId(value)).toBeUndefined();
    },
  );
});
