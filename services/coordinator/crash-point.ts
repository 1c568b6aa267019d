import { writeSync } from 'node:fs';

/**
 * A test-only crash point (SUMMARY_TEST_CRASH, FANOUT_TEST_CRASH: `after-step:<n>`): the process
 * SIGKILLs itself right after the n-th step it counts, where an outside kill -9 could only land
 * by luck. With n = 0 it never fires.
 */
export class CrashPoint {
  private readonly label: string;
  private readonly after: number;
  private steps = 0;

  constructor(label: string, after: number) {
    this.label = label;
    this.after = after;
  }

  /** Counts a step; kills the process after the configured one. */
  step(what: string): void {
    this.steps += 1;
    if (this.after > 0 && this.steps === this.after) {
      writeSync(2, `${this.label}: SIGKILL after ${what} step ${this.steps}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  }
}
