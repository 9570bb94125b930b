/**
 * Custom metric names the sync function emits (Powertools Metrics, dimension `service` = `sync`). Kept free of
 * imports because the CDK app (lib/secure-defaults.ts) reads them too, for its dashboard and alarms.
 */
export const DELIVERIES_FAILED_METRIC = 'DeliveriesFailed';
