// Compiles services/ to dist/ for the container image, and builds the web page: `npm run build`.
// The Lua scripts are read at run time next to the module that loads them, so each one is copied to
// the same relative place under dist/ (tsc only emits JavaScript).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildWebPage } from '../services/host/web/build-page.ts';
import { webBuildDir } from '../services/host/web/serve.ts';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'dist');
const sourceDir = join(root, 'services');

// A stale file from a deleted module would otherwise ship in the image.
rmSync(outDir, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${compiled.status ?? compiled.signal})\n`);
  process.exit(compiled.status ?? 1);
}

const luaFiles = readdirSync(sourceDir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.lua'));
for (const file of luaFiles) {
  const target = join(outDir, 'services', file);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(sourceDir, file), target);
}
process.stdout.write(`build: compiled services/ to dist/services/ and copied ${luaFiles.length} Lua scripts\n`);

// The web page (React + Vite) into services/host/web/build/, read by services/host/web/serve.ts
// beside itself: copied to the same place under dist/ as the Lua scripts are.
try {
  buildWebPage({ output: 'inherit' });
} catch (error) {
  process.stderr.write(`build: ${(error as Error).message}\n`);
  process.exit(1);
}
cpSync(webBuildDir, join(outDir, 'services', 'host', 'web', 'build'), { recursive: true });
process.stdout.write('build: built the web page into services/host/web/build/ and dist/services/host/web/build/\n');
