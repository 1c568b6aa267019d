// Redraws docs/*.svg from saved results without running anything: node scripts/bench/redraw.ts
// bench-results/<run>.json [...]; each file draws the charts it has data for, later files win.
import { readFileSync } from 'node:fs';
import { type BenchResults, writeCharts } from './report.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node scripts/bench/redraw.ts bench-results/<run>.json [...]\n');
  process.exit(2);
}
for (const file of files) {
  const written = writeCharts(JSON.parse(readFileSync(file, 'utf8')) as BenchResults, 'docs');
  process.stdout.write(`${file}: ${written.join(', ') || 'nothing to draw'}\n`);
}
