// Self time by function (and by file) from a V8 .cpuprofile, for reading `npm run bench -- --cpu-prof`
// output without a browser: node scripts/bench/profile-summary.ts <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const [file, topText] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/bench/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; startTime: number; endTime: number };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples.length;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, count] of hits) {
  const frame = byId.get(id)!.callFrame;
  const where = frame.url.replace(/^.*\/(node_modules\/[^/]+|services|scripts)\//, '$1/') || '(native)';
  const name = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  byFile.set(where, (byFile.get(where) ?? 0) + count);
}
// Inclusive (total) time of the project's own functions: a sample counts for every distinct
// function on its stack, so a caller shows what its callees (JSON, ioredis, Buffer) cost for it.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
for (const [id, count] of hits) {
  const names = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (!/\/(services|scripts)\//.test(frame.url)) continue;
    names.add(`${frame.functionName || '(anonymous)'}  ${frame.url.replace(/^.*\/(services|scripts)\//, '$1/')}:${frame.lineNumber + 1}`);
  }
  for (const name of names) inclusive.set(name, (inclusive.get(name) ?? 0) + count);
}
const top = Number(topText ?? 25);
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, count] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}\n`);
  }
};
process.stdout.write(`${file}: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s\n`);
show('self time by function', byFunction);
show('self time by file or package', byFile);
show('total time (self and callees) of services/ and scripts/ functions', inclusive);
