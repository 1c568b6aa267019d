// The values table of charts/event-planner/README.md, generated from the `## @section` and
// `## @param` comments of values.yaml. chart.test.ts fails when the README is out of date;
// `node test/k8s/values-table.ts --write` rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const chartDir = join(import.meta.dirname, '..', '..', 'charts', 'event-planner');
export const readmePath = join(chartDir, 'README.md');
const begin = '<!-- values-table:begin (generated from values.yaml by node test/k8s/values-table.ts --write) -->';
const end = '<!-- values-table:end -->';

export interface Param {
  name: string;
  description: string;
  section: string;
}

export function readParams(valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8')): Param[] {
  const params: Param[] = [];
  let section = '';
  for (const line of valuesText.split('\n')) {
    const s = /^\s*## @section (.+)$/.exec(line);
    if (s) section = s[1]!.trim();
    const p = /^\s*## @param (\S+) (.+)$/.exec(line);
    if (p) params.push({ name: p[1]!, description: p[2]!.trim(), section });
  }
  return params;
}

function defaultOf(values: unknown, name: string): string {
  const value = name.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value);
  return (text ?? '').length > 60 ? 'see values.yaml' : `\`${text}\``;
}

export function valuesTable(valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8')): string {
  const values = parse(valuesText) as unknown;
  const lines: string[] = [];
  let section: string | undefined;
  for (const p of readParams(valuesText)) {
    if (p.section !== section) {
      section = p.section;
      lines.push('', `### ${section}`, '', '| Name | Description | Default |', '| --- | --- | --- |');
    }
    lines.push(`| \`${p.name}\` | ${p.description.replaceAll('|', '\\|')} | ${defaultOf(values, p.name).replaceAll('|', '\\|')} |`);
  }
  return `${begin}\n${lines.join('\n').trim()}\n${end}`;
}

/** The table as the README has it now (undefined when the markers are missing). */
export function readmeTable(readme = readFileSync(readmePath, 'utf8')): string | undefined {
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  return from < 0 || to < 0 ? undefined : readme.slice(from, to + end.length);
}

if (process.argv.includes('--write')) {
  const readme = readFileSync(readmePath, 'utf8');
  const current = readmeTable(readme);
  if (!current) throw new Error(`${readmePath} has no values-table markers`);
  writeFileSync(readmePath, readme.replace(current, valuesTable()));
  process.stdout.write(`rewrote the values table of ${readmePath}\n`);
}
