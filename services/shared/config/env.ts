import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostHint, parseHost } from './network.ts';

// Reading and validating environment variables. Every problem names the variable, the value it got
// and what is allowed; all problems are collected and reported together so a misconfigured
// deployment is fixed in one round, not one variable at a time.

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

/** How every problem with a variable reads: its name, the value it got, what is allowed. */
export function problemText(name: string, value: string, allowed: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return `${name}=${JSON.stringify(shown)} is not valid: expected ${allowed}`;
}

interface IntOptions { min?: number; max?: number }

/**
 * Collects typed values from an environment. Use one reader per configuration load, call the typed
 * getters, then `done()` which throws a ConfigError listing every invalid variable.
 */
export class EnvReader {
  readonly env: Env;
  private readonly problems: string[] = [];
  /** Variables read, so the info route and the chart cross-check can list what the code consumes. */
  readonly read = new Set<string>();

  constructor(env: Env = process.env) {
    this.env = env;
  }

  raw(name: string): string | undefined {
    this.read.add(name);
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string, opts: { maxLength?: number; pattern?: RegExp; patternHint?: string } = {}): string {
    const value = this.raw(name) ?? fallback;
    if (opts.maxLength !== undefined && value.length > opts.maxLength) {
      this.fail(name, value, `at most ${opts.maxLength} characters`);
    } else if (opts.pattern && !opts.pattern.test(value)) {
      this.fail(name, value, opts.patternHint ?? `a value matching ${opts.pattern}`);
    }
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, opts: IntOptions = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const allowed = `an integer from ${min} to ${max}`;
    if (!/^[-+]?\d+$/.test(text)) {
      this.fail(name, text, allowed);
      return fallback;
    }
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(name, text, allowed);
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, opts: IntOptions = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    const min = opts.min ?? -Infinity;
    const max = opts.max ?? Infinity;
    // Decimal notation only: Number() would also take 0x10, 1e3 and Infinity.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(text) || !Number.isFinite(value) || value < min || value > max) {
      this.fail(name, text, `a number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const lower = text.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
    if (['0', 'false', 'no', 'off'].includes(lower)) return false;
    this.fail(name, text, 'one of true, false, 1, 0, yes, no, on, off');
    return fallback;
  }

  /** An IP address or an RFC 1123 host name (see network.ts); `portVariable` names where a port goes. */
  host(name: string, fallback: string, portVariable: string): string {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const host = parseHost(text);
    if (host === undefined) {
      this.fail(name, text, hostHint(portVariable));
      return fallback;
    }
    return host;
  }

  /** An absolute URL with one of `protocols` (like 'http:'), or undefined when unset. */
  optionalUrl(name: string, protocols: readonly string[], example: string): URL | undefined {
    const text = this.raw(name);
    if (text === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (!url || !protocols.includes(url.protocol) || parseHost(url.hostname) === undefined) {
      this.fail(name, text, `a ${protocols.map((p) => `${p}//`).join(' or ')} URL with a host, like ${example}`);
      return undefined;
    }
    return url;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.fail(name, text, `one of ${allowed.join(', ')}`);
    return fallback;
  }

  /**
   * The contents of the file a variable names (a mounted Secret, a certificate), or undefined when
   * the variable is unset. A file that cannot be read, or is empty, is a problem naming the variable.
   */
  file(name: string, what: string): Buffer | undefined {
    const path = this.raw(name);
    if (path === undefined) return undefined;
    try {
      const data = readFileSync(path);
      if (data.length === 0) this.fail(name, path, `a file holding ${what}; it is empty`);
      return data;
    } catch (error) {
      this.fail(name, path, `a readable file holding ${what} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return undefined;
    }
  }

  /** Records a problem found by a caller-side check (for rules that span several variables). */
  fail(name: string, value: string, allowed: string): void {
    this.problems.push(problemText(name, value, allowed));
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError([...this.problems]);
  }
}

/**
 * Loads `.env` from the working directory into process.env (variables already set win), using
 * Node's own parser (which skips lines that are not NAME=value). A missing file is normal; one that
 * cannot be read (a folder, no permission) is a configuration problem like any other: exit 2.
 * Called once at the very start of a process, before anything reads the environment.
 */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    const why = existsSync(path) && statSync(path).isDirectory() ? 'it is a folder' : (code ?? (error as Error).message);
    process.stderr.write(`event-planner: invalid configuration:\n  - ${path} in ${process.cwd()} cannot be read (${why}): expected a file of NAME=value lines, or none\n`);
    process.exit(2);
  }
}
