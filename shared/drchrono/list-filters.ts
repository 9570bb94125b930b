/**
 * DrChrono's list filters, checked before a request so a bad filter is our TypeError, not a DrChrono 400.
 * Used by the paged lists (client.ts) and the bulk lists (bulk.ts) alike.
 */
const SINCE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** DrChrono `since`: a date or a practice wall-clock timestamp, never with an offset. */
export function checkSince(since: string): string {
  if (!SINCE.test(since)) throw new TypeError('since must be YYYY-MM-DD or a timestamp without offset');
  return since;
}

/** DrChrono `date_range=start/end`: inclusive YYYY-MM-DD dates, start <= end. */
export function dateRangeValue(range: { start: string; end: string }): string {
  const { start, end } = range;
  if (!DATE.test(start) || !DATE.test(end) || start > end) throw new TypeError('dateRange needs YYYY-MM-DD start <= end');
  return `${start}/${end}`;
}
