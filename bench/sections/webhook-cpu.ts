import { spawn } from 'node:child_process';
import { summarizeBy, type Summary } from '../stats';
import type { WebhookCpuRun } from '../webhook-cpu-child';

/** Section 3: webhook handler CPU per event in a fresh process, against the header-check-and-parse floor. */
export interface WebhookCpuSection {
  eventsPerRun: number;
  handlerCpuUsPerEvent: Summary;
  floorCpuUsPerEvent: Summary;
  floorWithSendCpuUsPerEvent: Summary;
  /** The handler's CPU above floor + send, taken apart (WebhookCpuRun); absent from results before 2026-11-30. */
  floorWithEnqueueCpuUsPerEvent?: Summary;
  receiveCpuUsPerEvent?: Summary;
  enqueueRatioToFloorWithSend?: Summary;
  receiveRatioToFloorWithSend?: Summary;
  ratioToFloor: Summary;
  ratioToFloorWithSend: Summary;
  handlerEventsPerSecond: Summary;
  runs: WebhookCpuRun[];
}

export async function runWebhookCpuSection(opts: { events: number; runs: number }): Promise<WebhookCpuSection> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/webhook-cpu-child.ts'], {
    cwd: process.cwd(),
    // Logger at INFO, as the stack configures it: an accepted delivery prints nothing; any line would go nowhere here.
    env: { ...process.env, BENCH_CPU_EVENTS: String(opts.events), BENCH_CPU_RUNS: String(opts.runs), POWERTOOLS_LOG_LEVEL: 'INFO' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const runs = await new Promise<WebhookCpuRun[]>((resolve, reject) => {
    child.once('message', (m: { runs: WebhookCpuRun[] }) => resolve(m.runs));
    child.once('exit', (code) => reject(new Error(`webhook CPU child exited with ${code} before reporting`)));
  });
  return {
    eventsPerRun: opts.events,
    handlerCpuUsPerEvent: summarizeBy(runs, (r) => r.handlerCpuUs),
    floorCpuUsPerEvent: summarizeBy(runs, (r) => r.floorCpuUs),
    ratioToFloor: summarizeBy(runs, (r) => r.ratio),
    floorWithSendCpuUsPerEvent: summarizeBy(runs, (r) => r.floorWithSendCpuUs),
    floorWithEnqueueCpuUsPerEvent: summarizeBy(runs, (r) => r.floorWithEnqueueCpuUs),
    receiveCpuUsPerEvent: summarizeBy(runs, (r) => r.receiveCpuUs),
    enqueueRatioToFloorWithSend: summarizeBy(runs, (r) => r.enqueueRatioToFloorWithSend),
    receiveRatioToFloorWithSend: summarizeBy(runs, (r) => r.receiveRatioToFloorWithSend),
    ratioToFloorWithSend: summarizeBy(runs, (r) => r.ratioToFloorWithSend),
    handlerEventsPerSecond: summarizeBy(runs, (r) => r.handlerEventsPerSecond),
    runs,
  };
}
