/**
 * How connected teams sit in the sparse, keys-only GSI `byTokenExpiry` (pk refreshPartition, sk tokenExpiresAt).
 *
 * - `tokens`: every connected team, sorted by the real access-token expiry (epoch ms). The sweep reads the
 *   slice expiring within its window.
 * - `refresh-requested`: a connected team whose refresh the request path asked for (a token DrChrono rejected).
 *   The sweep reads the whole partition, which is normally empty. tokenExpiresAt stays the real expiry, so
 *   `team show` never displays a made-up value.
 * - absent: not connected (registered, reauthorization_required, disabled): the team is not in the index.
 */
export const REFRESH_PARTITION_TOKENS = 'tokens';
export const REFRESH_PARTITION_REQUESTED = 'refresh-requested';

export const MINUTE_MS = 60_000;
export const DEFAULT_REFRESH_WINDOW_MINUTES = 24 * 60;
export const DEFAULT_REFRESH_CONCURRENCY = 25;
