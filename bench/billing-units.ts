/** Billing units, without dependencies: the platform process's request counter imports them. */
export const SQS_CHUNK_BYTES = 64 * 1024;

/** Lambda bills duration per started millisecond. */
export function billedMs(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs));
}

/** One SQS request per started 64 KB chunk of the larger of request and response payload. */
export function sqsBilledRequests(payloadBytes: number): number {
  return Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
}
