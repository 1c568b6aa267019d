import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPersistentKey, persistentKeys } from '../../services/shared/streams/keys.ts';

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
      for (const m of text.matchAll(/env\.(?:int|string|bool|number|oneOf|raw|optionalString|host|optionalUrl)\('([A-Z][A-Z0-9_]+)'/g)) read.add(m[1]!);
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

  it('marks exactly the keys of persistentKeys as living without a TTL, and gives every other key a life', () => {
    const start = readme.indexOf('| Key | Type | Holds | Life |');
    expect(start).toBeGreaterThan(0);
    const rows = readme
      .slice(start)
      .split('\n')
      .slice(2)
      .filter((line, i, all) => line.startsWith('|') && all.slice(0, i).every((l) => l.startsWith('|')))
      .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |\|$/g, '').trim()));
    expect(rows.length).toBeGreaterThan(8);
    const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const unbounded = rows.filter((r) => r[3]!.startsWith('no TTL')).flatMap((r) => names(r[0]!));
    expect(unbounded.sort()).toEqual(persistentKeys.map((p) => p.name).sort());
    for (const r of rows) expect(r[3], r[0]).toMatch(/^(no TTL|TTL): ./);
    // The names the README gives the keys with a TTL are not on the list.
    const expiring = rows.filter((r) => r[3]!.startsWith('TTL')).flatMap((r) => names(r[0]!)).map((n) => n.replace(/<[^>]+>|\{id\}|\{hostId\}/g, '{x}').replace('…', 'registry:agent:{x}'));
    expect(expiring.filter((n) => isPersistentKey(n))).toEqual([]);
  });

  it('quick start: two commands, one for the demo and one for the tests, each setting up first', () => {
    const section = readme.slice(readme.indexOf('## Quick start'));
    const block = /```bash\n([\s\S]*?)```/.exec(section)![1]!;
    const commands = block.split('\n').filter((line) => line.trim() !== '').map((line) => line.split('#')[0]!.trim());
    expect(commands).toEqual(['scripts/run demo', 'scripts/run test']);
    expect(statSync(join(root, 'scripts', 'run')).mode & 0o111).not.toBe(0);
  });
});
