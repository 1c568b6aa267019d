import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { type Finished, runCommand } from '../helpers/command.ts';

// `scripts/run demo` and `scripts/run test` are the README's quick start: each must work from a
// shell whose `node` is an old one. Here the shell's first `node` is a fake Node 20 that records
// every use beyond a version check; the wrapper must set up and run everything with Node 24.

const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ep-run-'));
const fakeBin = join(work, 'bin');
const fakeLog = join(work, 'fake-node.log');

/** The caller's PATH without Node 24 (.tools/bin) and without npm's node_modules/.bin, behind the fake. */
const oldShellPath = [fakeBin, ...(process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.startsWith(join(root, '.tools')) && !d.includes('node_modules'))].join(delimiter);

beforeAll(() => {
  const lock = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
  const stamp = join(root, 'node_modules', '.setup-package-lock.sha256');
  const hidden = join(root, 'node_modules', '.package-lock.json');
  const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() === lock : existsSync(hidden) && statSync(hidden).mtimeMs > statSync(join(root, 'package-lock.json')).mtimeMs;
  // The wrapper would run `npm ci`, replacing node_modules under this very test run.
  if (!installed) throw new Error('node_modules is not installed from the current package-lock.json: run `scripts/run test` (or `npm ci`) first');
  mkdirSync(fakeBin);
  writeFileSync(
    join(fakeBin, 'node'),
    ['#!/bin/sh', 'case "$1" in', '  --version|-v) echo v20.0.0 ;;', '  -p) echo 20 ;;', `  *) echo "$*" >> '${fakeLog}'; echo "fake Node 20: cannot run $*" >&2; exit 1 ;;`, 'esac', ''].join('\n'),
  );
  chmodSync(join(fakeBin, 'node'), 0o755);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>, timeoutMs: number): Promise<Finished> {
  return runCommand('bash', args, { cwd: work, env: { HOME: process.env.HOME ?? work, PATH: oldShellPath, ...env }, timeoutMs });
}

describe('scripts/run (the quick start) under a shell whose node is Node 20', () => {
  it('sets up and runs the demo with Node 24', async () => {
    const dataDir = join(work, 'data');
    const ports = { HOST_PORT: String(await freePort()), COORDINATOR_PORT: String(await freePort()), GUEST_PORT: String(await freePort()) };
    const { code, output } = await run([join(root, 'scripts', 'run'), 'demo'], { DATA_DIR: dataDir, ...ports }, 120_000);
    expect(code, output).toBe(0);
    expect(output).toMatch(/\[setup\].* ready: node v24\./);
    expect(output).toContain('📊 EVENT SUMMARY — Team Building Workshop');
    expect(output).toMatch(/demo finished in [\d.]+ s, exit code 0/);
    // The fake was asked for its version at most, never to run anything.
    expect(existsSync(fakeLog) ? readFileSync(fakeLog, 'utf8') : '').toBe('');
  }, 150_000);

  it('set-up is idempotent: a second one installs nothing and says so in one line', async () => {
    const { code, output } = await run([join(root, 'scripts', 'setup.sh'), '--core', '--quiet'], {}, 60_000);
    expect(code, output).toBe(0);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/\[setup\].* ready: node v24\.\d+\.\d+, npm [\d.]+, redis-server \d/);
  });

  it('without a script names the commands and exits 2', async () => {
    const { code, output } = await run([join(root, 'scripts', 'run')], {}, 10_000);
    expect(code).toBe(2);
    expect(output).toMatch(/scripts\/run demo/);
    expect(output).toMatch(/scripts\/run test/);
  });
});
