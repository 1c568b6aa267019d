/**
 * Runs `task` every `intervalMs` (never overlapping itself; the next run is scheduled when one
 * ends) until stopped. Errors go to `onError` and the schedule continues. With `jitter` (0.2: each
 * interval drawn from ±20 %), many processes started together do not fire in step.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly task: () => Promise<void>;
  private readonly onError: (error: unknown) => void;
  private readonly jitter: number;

  constructor(intervalMs: number, task: () => Promise<void>, onError: (error: unknown) => void, jitter = 0) {
    this.intervalMs = intervalMs;
    this.task = task;
    this.onError = onError;
    this.jitter = jitter;
  }

  start(initialDelayMs = this.intervalMs): this {
    this.schedule(initialDelayMs);
    return this;
  }

  /** Runs the task now (unless it is already running) and waits for it. */
  async runNow(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.task()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runNow().then(() => this.schedule(this.intervalMs * (1 - this.jitter + Math.random() * 2 * this.jitter)));
    }, delay);
    this.timer.unref();
  }
}
