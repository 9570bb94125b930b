/** What an operator runs so a team can write back again: write-back on, then a fresh grant with the write scopes. */
export const RECONNECT_HINT = (teamId: string): string =>
  `drchrono-sync team write-back ${teamId} on, then reconnect: drchrono-sync team connect-link ${teamId}`;
