// Builds the web page with Vite into build/ beside serve.ts: `npm run build` (scripts/build.ts)
// always, `npm start` and the browser test only when the build is missing or older than its
// sources. Needs the dev dependencies (vite); the image only serves what the build stage made.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { webBuildDir } from './serve.ts';

const webDir = import.meta.dirname;
const config = join(webDir, 'vite.config.ts');

function newestSource(): number {
  let newest = statSync(config).mtimeMs;
  const src = join(webDir, 'src');
  for (const name of readdirSync(src, { recursive: true, encoding: 'utf8' })) newest = Math.max(newest, statSync(join(src, name)).mtimeMs);
  return newest;
}

function builtAt(): number {
  try {
    return statSync(join(webBuildDir, 'index.html')).mtimeMs;
  } catch {
    return 0;
  }
}

/** True when build/ is missing or older than a source file. */
export function webPageStale(): boolean {
  return builtAt() <= newestSource();
}

/** Runs `vite build`; throws with Vite's output when it fails. `inherit` shows Vite's own output. */
export function buildWebPage(opts: { output?: 'inherit' | 'capture' } = {}): void {
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  // NODE_ENV decides which React is bundled: under vitest it is `test`, which would ship React's
  // development build (double effects, no minification). The page is always built for production.
  const r = spawnSync(process.execPath, [vite, 'build', '--config', config, '--mode', 'production'], {
    cwd: join(webDir, '..', '..', '..'),
    env: { ...process.env, NODE_ENV: 'production' },
    encoding: 'utf8',
    stdio: opts.output === 'inherit' ? 'inherit' : 'pipe',
  });
  if (r.status !== 0) throw new Error(`vite build of the web page failed (exit ${r.status ?? r.signal}):\n${r.stderr ?? ''}${r.stdout ?? ''}`);
}
