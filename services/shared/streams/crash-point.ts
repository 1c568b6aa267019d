import { writeSync } from 'node:fs';

/**
 * Test-only fault injection: STREAM_TEST_CRASH makes the process SIGKILL itself at an exact point
 * between reading a batch and acknowledging it, which an outside `kill -9` can only hit by luck.
 * Format `<phase>:<batch>:<stream>`:
 *   read:<n>:<stream>         right after the n-th read of new entries returned, before any handling
 *   handled:<n>:<stream>      after the handler finished that batch (effects done), before its XACK
 *   delay-<ms>:<n>:<stream>   <ms> after that read, wherever the handler then is
 * Unset in production: the consumer then holds no trigger and the read path pays one undefined check.
 */
export interface CrashPoint {
  phase: 'read' | 'handled' | 'delay';
  delayMs: number;
  batch: number;
  stream: string;
}

/** The crash point described by `text`, or a message saying what is wrong with it. */
export function parseCrashPoint(text: string): CrashPoint | string {
  const match = /^(read|handled|delay-(\d{1,6})):(\d{1,6}):(.+)$/.exec(text);
  if (!match || Number(match[3]) < 1) return 'read:<n>:<stream>, handled:<n>:<stream> or delay-<ms>:<n>:<stream> with n >= 1';
  const phase = match[1]!.startsWith('delay') ? 'delay' : (match[1] as 'read' | 'handled');
  return { phase, delayMs: Number(match[2] ?? 0), batch: Number(match[3]), stream: match[4]! };
}

export class CrashTrigger {
  private readonly point: CrashPoint;
  private reads = 0;

  constructor(point: CrashPoint) {
    this.point = point;
  }

  /**
   * Called after each non-empty read of new entries. Returns true when the handling of this batch
   * is where the process must die (phase `handled`); kills at once for phase `read`.
   */
  afterRead(count: number): boolean {
    this.reads += 1;
    if (this.reads !== this.point.batch) return false;
    if (this.point.phase === 'read') crash(`after reading batch ${this.reads} (${count} entries) of ${this.point.stream}`);
    if (this.point.phase === 'delay') {
      setTimeout(() => crash(`${this.point.delayMs} ms after reading batch ${this.reads} of ${this.point.stream}`), this.point.delayMs);
    }
    return this.point.phase === 'handled';
  }

  afterHandled(): void {
    crash(`after handling batch ${this.reads} of ${this.point.stream}, before acknowledging it`);
  }
}

function crash(where: string): never {
  // Synchronous: the line must be out before the process is gone.
  writeSync(2, `STREAM_TEST_CRASH: SIGKILL ${where}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}
