/**
 * The point in a Lambda invocation after which no more work may be waited for, so the handler still has
 * `reserveMs` to record outcomes and answer. Lambda's own timeout would throw all of the invocation's results
 * away (an SQS batch is then redelivered whole, and a work item dies silently); failing only the work still
 * running keeps everything else. Work that missed the deadline is not killed: `signal` aborts, and loops that
 * would start more work (more objects, the next queued message) check it.
 */
/** Work still running when the invocation's deadline came; the caller answers for it instead of timing out. */
export class InvocationDeadlineExceededError extends Error {
  override name = 'InvocationDeadlineExceededError';
  constructor() {
    super('not finished before the invocation deadline');
  }
}

export class InvocationDeadline {
  private readonly abort = new AbortController();
  private reached?: Promise<typeof DEADLINE>;
  private timer?: NodeJS.Timeout;

  /** `remainingMs`: Lambda's getRemainingTimeInMillis; without it there is no deadline. */
  constructor(
    private readonly remainingMs: (() => number) | undefined,
    private readonly reserveMs: number,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** `work`'s result, or `onDeadline()` thrown once the deadline passes first. */
  async race<T>(work: Promise<T>, onDeadline: () => Error): Promise<T> {
    const out = await Promise.race([work, this.deadline()]);
    if (out === DEADLINE) throw onDeadline();
    return out as T;
  }

  /** Stop the timer once the invocation's work is over. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Resolves (never rejects, so an unobserved deadline is harmless); one timer per invocation. */
  private deadline(): Promise<typeof DEADLINE> {
    if (!this.remainingMs) return new Promise(() => {});
    if (!this.reached) {
      const ms = Math.max(0, this.remainingMs() - this.reserveMs);
      this.reached = new Promise((resolve) => {
        this.timer = setTimeout(() => {
          this.abort.abort();
          resolve(DEADLINE);
        }, ms);
        this.timer.unref();
      });
    }
    return this.reached;
  }
}

const DEADLINE = Symbol('deadline');
