// Objects by constructor in two V8 heap snapshots (the soak's --heap-snapshots, after warm-up and
// at the end), largest growth first: tells a leak (a constructor whose count keeps rising with the
// events handled) from warm-up (code, caches and pools that reach their size and stay).
//   node scripts/bench/heap-compare.ts <warm.heapsnapshot> <end.heapsnapshot> [top]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

/** Count and self size of the heap's nodes by type and name (the constructor for objects). */
export function groupByConstructor(file: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    // Strings and code are grouped by type alone: their "names" are their contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${snap.strings[snap.nodes[i + nameAt]!]}` : `(${type})`;
    const g = groups.get(name) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += snap.nodes[i + sizeAt]!;
    groups.set(name, g);
  }
  return groups;
}

function main(): void {
  const [a, b, topText] = process.argv.slice(2);
  if (!a || !b) {
    process.stderr.write('usage: node scripts/bench/heap-compare.ts <first.heapsnapshot> <second.heapsnapshot> [top]\n');
    process.exit(2);
  }
  const first = groupByConstructor(a);
  const second = groupByConstructor(b);
  const total = (m: Map<string, Group>) => [...m.values()].reduce((t, g) => ({ count: t.count + g.count, bytes: t.bytes + g.bytes }), { count: 0, bytes: 0 });
  const ta = total(first);
  const tb = total(second);
  const mb = (n: number) => (n / 1e6).toFixed(2);
  process.stdout.write(`first:  ${ta.count} objects, ${mb(ta.bytes)} MB\nsecond: ${tb.count} objects, ${mb(tb.bytes)} MB (${(((tb.bytes - ta.bytes) / ta.bytes) * 100).toFixed(1)} %)\n\n`);
  const rows = [...new Set([...first.keys(), ...second.keys()])].map((name) => {
    const x = first.get(name) ?? { count: 0, bytes: 0 };
    const y = second.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: [x.count, y.count] as const, bytes: [x.bytes, y.bytes] as const, growth: y.bytes - x.bytes };
  });
  const top = Number(topText ?? 25);
  const show = (title: string, list: typeof rows) => {
    process.stdout.write(`${title}\n${'bytes first'.padStart(12)} ${'second'.padStart(12)} ${'count first'.padStart(12)} ${'second'.padStart(10)}  constructor\n`);
    for (const r of list.slice(0, top)) {
      process.stdout.write(`${String(r.bytes[0]).padStart(12)} ${String(r.bytes[1]).padStart(12)} ${String(r.count[0]).padStart(12)} ${String(r.count[1]).padStart(10)}  ${r.name}\n`);
    }
    process.stdout.write('\n');
  };
  show('largest growth (self bytes)', [...rows].sort((p, q) => q.growth - p.growth));
  show('largest shrink (self bytes)', [...rows].sort((p, q) => p.growth - q.growth));
  show('largest in the second snapshot', [...rows].sort((p, q) => q.bytes[1] - p.bytes[1]));
}

if (import.meta.main) main();
