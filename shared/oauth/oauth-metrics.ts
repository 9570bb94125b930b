/**
 * Custom metrics the oauth function emits (Powertools Metrics, dimension `service` = `oauth`). Kept free of
 * Powertools imports so lib/ can name them without bundling the SDK.
 */
/** An OAuth completion by another DrChrono account than the team's was refused (account-binding.ts). */
export const ACCOUNT_CHANGE_REFUSED_METRIC = 'AccountChangeRefused';
/** A connect link was refused: unsigned, altered or expired (connect-link.ts). */
export const CONNECT_LINK_REFUSED_METRIC = 'ConnectLinkRefused';

export type OAuthMetricName = typeof ACCOUNT_CHANGE_REFUSED_METRIC | typeof CONNECT_LINK_REFUSED_METRIC;
