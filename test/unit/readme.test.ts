import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

// The README is the operator's reference: it must name every variable the code reads and every
// npm script it tells people to run.
describe('README', () => {
  it('documents every environment variable the services read', () => {
    const read = new Set<string>();
    for (const file of sources(join(root, 'services'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/env\.(?:int|string|bool|number|oneOf|raw|optionalString)\('([A-Z][A-Z0-9_]+)'/g)) read.add(m[1]!);
      for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
    }
    // Standard variables that are not ours to document.
    for (const v of ['NO_COLOR', 'OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) read.delete(v);
    expect(read.size).toBeGreaterThan(30);
    const missing = [...read].filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('only names npm scripts that exist', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const named = [...readme.matchAll(/npm run ([a-z0-9:-]+)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((n) => !scripts.includes(n))).toEqual([]);
  });
});
