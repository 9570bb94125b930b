import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';

/**
 * Runs the scheduled functions on their intervals with the event an EventBridge schedule rule delivers.
 * A tick is skipped while the previous run of the same function is still going, as a reserved
 * concurrency of 1 would do in AWS.
 */
export interface ScheduledFunction {
  name: string;
  everySeconds: number;
  ruleName: string;
}

export function scheduledEvent(ruleName: string, region: string, now = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:000000000000:rule/${ruleName}`],
    detail: {},
  };
}

export class Scheduler {
  private timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();

  constructor(
    private readonly functions: readonly ScheduledFunction[],
    private readonly region: string,
    private readonly invoke: (name: string, event: ScheduledEvent) => Promise<unknown>,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    for (const fn of this.functions) {
      if (fn.everySeconds <= 0) continue;
      this.timers.push(
        setInterval(() => {
          if (this.running.has(fn.name)) {
            this.log(`${fn.name}: previous run still going, tick skipped`);
            return;
          }
          // The class only: a message can carry data. The next tick runs regardless.
          void this.runNow(fn.name).catch((err: unknown) => this.log(`${fn.name}: run failed (${err instanceof Error ? err.name : 'UnknownError'})`));
        }, fn.everySeconds * 1000),
      );
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  has(name: string): boolean {
    return this.functions.some((f) => f.name === name);
  }

  async runNow(name: string): Promise<unknown> {
    const fn = this.functions.find((f) => f.name === name);
    if (!fn) throw new Error(`${name} is not a scheduled function`);
    this.running.add(name);
    try {
      return await this.invoke(name, scheduledEvent(fn.ruleName, this.region));
    } finally {
      this.running.delete(name);
    }
  }

  describe(): { name: string; everySeconds: number }[] {
    return this.functions.map((f) => ({ name: f.name, everySeconds: f.everySeconds }));
  }
}
