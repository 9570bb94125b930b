/**
 * Custom metric the deletion check emits (Powertools Metrics, dimension `service` = `backfill`). Kept free of
 * runtime imports so lib/ (CDK) can name it for its alarm without loading the check.
 */
export const DELETION_CHECK_BLOCKED_METRIC = 'DeletionCheckBlocked';
export type DeletionCheckMetricName = typeof DELETION_CHECK_BLOCKED_METRIC;
