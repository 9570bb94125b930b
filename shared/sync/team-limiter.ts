/**
 * Bounds how many messages of one team a container processes at once. Records of a batch run in parallel
 * (writes are order-safe), but each may call DrChrono, and one team's burst should not fire ten parallel
 * requests at its practice or race for the last calls of its budget.
 */
export class TeamLimiter {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly perTeam = 2) {}

  async run<T>(teamId: string, fn: () => Promise<T>): Promise<T> {
    if ((this.running.get(teamId) ?? 0) >= this.perTeam) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(teamId) ?? [];
        queue.push(resolve);
        this.waiting.set(teamId, queue);
      });
    } else {
      this.running.set(teamId, (this.running.get(teamId) ?? 0) + 1);
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.get(teamId)?.shift();
      // Hand the slot straight to the next waiter; otherwise release it.
      if (next) next();
      else {
        const n = (this.running.get(teamId) ?? 1) - 1;
        if (n > 0) this.running.set(teamId, n);
        else this.running.delete(teamId);
        this.waiting.delete(teamId);
      }
    }
  }
}
