import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { allPanels, interpolate, loadDashboards, metricNames, queries } from './dashboards.ts';
import { needTools, repoRoot, run } from './tools.ts';

const dashboards = loadDashboards();

/** Every metric the services define (prom-client `name:` options and the coordinator's gauge helper). */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  const dir = join(repoRoot, 'services');
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/['"](event_planner_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
  }
  return names;
}

describe('Grafana dashboards in grafana/dashboards/', () => {
  it('are there, each with a stable uid (its file name), no id and a current schema', () => {
    expect(dashboards.length).toBeGreaterThan(0);
    for (const d of dashboards) {
      expect(d.uid, d.file).toBe(d.file.replace(/\.json$/, ''));
      expect(d.uid.length, `${d.file}: Grafana uids are at most 40 characters`).toBeLessThanOrEqual(40);
      expect(d.id, `${d.file}: provisioned dashboards carry no id`).toBeNull();
      expect(d.schemaVersion, d.file).toBeGreaterThanOrEqual(39);
      expect(d.title, d.file).toBeTruthy();
      expect(d.refresh, d.file).toBe('5s');
    }
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
  });

  it('read Prometheus through the datasource variable, never an import-time ${DS_...} input', () => {
    for (const d of dashboards) {
      const text = readFileSync(join(repoRoot, 'grafana', 'dashboards', d.file), 'utf8');
      expect(d.__inputs, d.file).toBeUndefined();
      expect(text, d.file).not.toMatch(/\$\{DS_/);
      expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const p of allPanels(d).filter((p) => p.type !== 'row')) {
        expect(p.datasource, `${d.file} "${p.title}"`).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets?.length, `${d.file} "${p.title}" has queries`).toBeGreaterThan(0);
        for (const t of p.targets!) expect(t.datasource ?? p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('lay their panels out on the 24-column grid without overlaps, with unique ids', () => {
    for (const d of dashboards) {
      const panels = allPanels(d);
      expect(new Set(panels.map((p) => p.id)).size, d.file).toBe(panels.length);
      const taken = new Set<string>();
      for (const p of panels) {
        const { x, y, w, h } = p.gridPos;
        expect(x + w, `${d.file} "${p.title}"`).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i += 1) {
          for (let j = y; j < y + h; j += 1) {
            expect(taken.has(`${i},${j}`), `${d.file} "${p.title}" overlaps at ${i},${j}`).toBe(false);
            taken.add(`${i},${j}`);
          }
        }
      }
    }
  });

  it('only chart metrics the services export', () => {
    const defined = definedMetrics();
    const unknown: string[] = [];
    for (const d of dashboards) {
      for (const q of queries(d)) {
        for (const name of metricNames(q.expr)) {
          if (!defined.has(name.replace(/_(bucket|sum|count)$/, ''))) unknown.push(`${q.where}: ${name}`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });

  it('have PromQL the Prometheus parser accepts (promtool check rules)', (ctx) => {
    const { promtool } = needTools(ctx, ['promtool'] as const);
    const all = dashboards.flatMap((d) => queries(d));
    const rules = all.map((q, i) => ({ record: `dashboard:query_${i}`, expr: interpolate(q.expr) }));
    const dir = mkdtempSync(join(tmpdir(), 'ep-dash-'));
    const file = join(dir, 'dashboard-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    expect(run(promtool, ['check', 'rules', file])).toContain(`SUCCESS: ${rules.length} rules found`);
    // A broken query must be refused, or the check above proves nothing.
    writeFileSync(file, stringify({ groups: [{ name: 'broken', rules: [{ record: 'x:y', expr: 'sum by (reply (rate(event_planner_replies_total[1m]))' }] }] }));
    expect(() => run(promtool, ['check', 'rules', file])).toThrow();
  });

  it('show what the issue asks for: guests by persona group, replies by value per second, summaries, stream lag and pending', () => {
    const overview = dashboards.find((d) => d.uid === 'event-planner-overview')!;
    const qs = queries(overview);
    const has = (pattern: RegExp, legend?: string) => qs.some((q) => pattern.test(q.expr) && (legend === undefined || q.legendFormat === legend));
    expect(has(/by \(persona_group\) \(event_planner_guests_live\)/, '{{persona_group}}')).toBe(true);
    expect(has(/sum by \(reply\) \(rate\(event_planner_replies_total\[\$__rate_interval\]\)\)/, '{{reply}}')).toBe(true);
    expect(has(/event_planner_summaries_total/)).toBe(true);
    expect(has(/event_planner_stream_group_lag/)).toBe(true);
    expect(has(/event_planner_stream_group_pending/)).toBe(true);
  });
});
