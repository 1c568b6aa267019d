import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A container's process run here: exactly the given command line, working directory and
 * environment (nothing inherited from this shell), with its output kept for failure messages.
 */
export class LocalProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;

  constructor(name: string, command: string[], opts: { cwd: string; env: Record<string, string> }) {
    this.name = name;
    this.child = spawn(command[0]!, command.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 2_000) this.lines.splice(0, 1_000);
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of output, for a failure message. */
  output(lines = 15): string {
    return `${this.name}${this.running ? '' : ` exited ${this.child.exitCode ?? this.child.signalCode}`}:\n${this.lines.slice(-lines).join('\n')}`;
  }

  /** JSON log lines (pino) the process wrote. */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}
