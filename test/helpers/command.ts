import { spawn } from 'node:child_process';

export interface Finished {
  /** Exit code; null when it was killed (by the timeout, too). */
  code: number | null;
  /** stdout and stderr as they came. */
  output: string;
}

/** Runs a command to its end, with stdout and stderr collected; SIGKILL after `timeoutMs`. */
export function runCommand(command: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
