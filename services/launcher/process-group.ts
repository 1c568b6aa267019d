import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const colors = ['\x1b[35m', '\x1b[36m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[31m'];
const reset = '\x1b[0m';
const useColor = process.stdout.isTTY && process.env.NO_COLOR === undefined;

/** services/main.ts from the source tree, or dist/services/main.js when running compiled. */
export const mainEntry = join(import.meta.dirname, '..', import.meta.filename.endsWith('.ts') ? 'main.ts' : 'main.js');

export interface Member {
  label: string;
  child: ChildProcess;
  exited: Promise<number>;
}

/**
 * Runs role processes side by side with labelled output (like the original's run_components.py)
 * and stops them together: SIGTERM to each, then SIGKILL after a grace period.
 */
export class ProcessGroup {
  readonly members: Member[] = [];
  private readonly width: number;

  constructor(labelWidth = 12) {
    this.width = labelWidth;
  }

  say(label: string, text: string): void {
    this.print(label, text, 0);
  }

  startRole(label: string, role: string, env: Record<string, string>): Member {
    const child = spawn(process.execPath, [mainEntry, role], {
      env: { ...process.env, LOG_FORMAT: 'pretty', ...(useColor ? {} : { NO_COLOR: '1' }), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const index = this.members.length + 1;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.print(label, line, index));
    }
    const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    const member = { label, child, exited };
    this.members.push(member);
    return member;
  }

  async stopAll(graceMs = 10_000): Promise<void> {
    const running = this.members.filter((m) => m.child.exitCode === null && m.child.signalCode === null);
    for (const m of running) m.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const m of running) if (m.child.exitCode === null) m.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(running.map((m) => m.exited));
    clearTimeout(timer);
  }

  private print(label: string, line: string, index: number): void {
    const tag = label.padEnd(this.width).slice(0, this.width);
    const color = colors[index % colors.length]!;
    process.stdout.write(useColor ? `${color}${tag}${reset} │ ${line}\n` : `${tag} │ ${line}\n`);
  }
}
