/**
 * A one-line progress bar on stderr: overall share of the planned time, the current step and its
 * own status. Without a terminal it prints a line per step instead of redrawing.
 */
export class Progress {
  private readonly totalS: number;
  private doneS = 0;
  private step = '';
  private stepS = 0;
  private stepStarted = Date.now();
  private status = '';
  private readonly tty: boolean;
  private readonly enabled: boolean;
  private timer: NodeJS.Timeout | undefined;

  constructor(totalS: number, enabled: boolean) {
    this.totalS = Math.max(1, totalS);
    this.enabled = enabled;
    this.tty = process.stderr.isTTY === true;
    if (enabled && this.tty) this.timer = setInterval(() => this.draw(), 250).unref();
  }

  /** Starts a step planned to take `plannedS` seconds. */
  begin(step: string, plannedS: number): void {
    this.finishStep();
    this.step = step;
    this.stepS = plannedS;
    this.stepStarted = Date.now();
    this.status = '';
    if (this.enabled && !this.tty) process.stderr.write(`[bench] ${step} (about ${Math.round(plannedS)} s)\n`);
  }

  update(status: string): void {
    this.status = status;
  }

  /** A line that stays (results as they come), printed above the bar. */
  note(text: string): void {
    if (!this.enabled) return;
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`[bench] ${text}\n`);
    this.draw();
  }

  end(): void {
    this.finishStep();
    if (this.timer) clearInterval(this.timer);
    if (this.enabled && this.tty) process.stderr.write('\r\x1b[2K');
  }

  private finishStep(): void {
    if (this.step) this.doneS += this.stepS;
    this.step = '';
  }

  private draw(): void {
    if (!this.enabled || !this.tty) return;
    const inStep = Math.min(this.stepS, (Date.now() - this.stepStarted) / 1000);
    const share = Math.min(1, (this.doneS + inStep) / this.totalS);
    const width = 28;
    const filled = Math.round(share * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${this.step}${this.status ? ` · ${this.status}` : ''}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
  }
}
