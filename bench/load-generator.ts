import { readFileSync } from 'node:fs';
import { postDelivery, type Delivery } from './workload';

/**
 * Section 5's load generator, a separate process: posts the prepared deliveries at a fixed rate (open loop: a
 * slow answer does not delay the next send) and reports, per delivery, when it was sent and how it was answered.
 *   node --import tsx bench/load-generator.ts <deliveries.json> <apiBaseUrl> <eventsPerSecond>
 */
export interface SendRecord {
  index: number;
  sentAt: number;
  answeredAt: number;
  status: number;
}

const [file, apiBaseUrl, rateArg] = process.argv.slice(2);
if (!file || !apiBaseUrl || !rateArg) throw new Error('usage: load-generator.ts <deliveries.json> <apiBaseUrl> <eventsPerSecond>');
const deliveries = JSON.parse(readFileSync(file, 'utf8')) as Delivery[];
const intervalMs = 1000 / Number(rateArg);
const records: SendRecord[] = [];
const inFlight = new Set<Promise<void>>();
const start = performance.now();

for (const [index, d] of deliveries.entries()) {
  const due = start + index * intervalMs;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const sentAt = Date.now();
  const p = postDelivery(apiBaseUrl, d)
    .then((status) => void records.push({ index, sentAt, answeredAt: Date.now(), status }))
    .catch(() => void records.push({ index, sentAt, answeredAt: Date.now(), status: 0 }))
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
}
await Promise.all(inFlight);
process.send?.({ records, elapsedMs: performance.now() - start }, () => process.exit(0));
