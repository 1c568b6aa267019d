import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package version, found by walking up from this file (works from services/ and from dist/). */
export const version: string = (() => {
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i += 1) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'event-planner' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
})();
