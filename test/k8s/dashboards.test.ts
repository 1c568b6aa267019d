import { lstatSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { chartDashboardDir, renderDashboards } from '../../grafana/src/dashboards.ts';
import { allPanels, dashboardDir, interpolate, loadDashboards, metricNames, queries } from './dashboards.ts';
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
  it('are what grafana/src generates, and so is the chart\'s copy (run `npm run dashboards` after changing it)', () => {
    const generated = renderDashboards();
    // The chart's copy is a real folder: a symlink made helm warn on every command.
    expect(lstatSync(chartDashboardDir).isDirectory(), 'charts/event-planner/dashboards is a folder, not a symlink').toBe(true);
    for (const [dir, shown] of [[dashboardDir, 'grafana/dashboards'], [chartDashboardDir, 'charts/event-planner/dashboards']] as const) {
      const committed = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
      expect(committed, `${shown}: one file per generated dashboard, no other`).toEqual([...generated.keys()].sort());
      for (const [file, text] of generated) {
        expect(readFileSync(join(dir, file), 'utf8') === text, `${shown}/${file} is stale: run npm run dashboards`).toBe(true);
      }
    }
  });

  it('are there, each with a stable uid (its file name), no id and a current schema', () => {
    expect(dashboards.length).toBeGreaterThan(0);
    for (const d of dashboards) {
      expect(d.uid, d.file).toBe(d.file.replace(/\.json$/, ''));
      expect(d.uid.length, `${d.file}: Grafana uids are at most 40 characters`).toBeLessThanOrEqual(40);
      expect(d.id, `${d.file}: provisioned dashboards carry no id`).toBeNull();
      expect(d.schemaVersion, d.file).toBeGreaterThanOrEqual(39);
      expect(d.title, d.file).toBeTruthy();
      expect(d.refresh, d.file).toBe('5s');
      for (const p of allPanels(d)) {
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, `${d.file} "${p.title}" refIds`).toBe(refIds.length);
        expect(refIds.every(Boolean), `${d.file} "${p.title}" refIds`).toBe(true);
      }
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

  it('have every panel explained in docs/OPERATIONS.md', () => {
    const operations = readFileSync(join(repoRoot, 'docs', 'OPERATIONS.md'), 'utf8');
    const undocumented = dashboards.flatMap((d) => allPanels(d).filter((p) => p.type !== 'row' && !operations.includes(`| ${p.title} |`)).map((p) => `${d.file} "${p.title}"`));
    expect(undocumented).toEqual([]);
  });

  it('show what the issue asks for, each dashboard its part', () => {
    const panelsOf = (uid: string) => {
      const d = dashboards.find((x) => x.uid === uid);
      expect(d, uid).toBeDefined();
      return allPanels(d!).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr, legend: t.legendFormat })));
    };
    const has = (uid: string, pattern: RegExp, legend?: string) =>
      expect(panelsOf(uid).some((q) => pattern.test(q.expr) && (legend === undefined || q.legend === legend)), `${uid}: ${pattern}`).toBe(true);
    const pipeline = 'event-planner-pipeline';
    has(pipeline, /sum by \(outcome\) \(rate\(event_planner_invitations_total\[\$__rate_interval\]\)\)/);
    has(pipeline, /rate\(event_planner_deliveries_total\[\$__rate_interval\]\)/);
    has(pipeline, /sum by \(reply\) \(rate\(event_planner_replies_total\[\$__rate_interval\]\)\)/, '{{reply}}');
    has(pipeline, /sum by \(reason\) \(rate\(event_planner_summaries_total\[\$__rate_interval\]\)\)/, '{{reason}}');
    for (const q of ['0.5', '0.95', '0.99']) has(pipeline, new RegExp(`histogram_quantile\\(${q}, .*event_planner_invitation_round_trip_seconds_bucket`));
    has(pipeline, /max by \(persona_group\) \(event_planner_guests_live\)/, '{{persona_group}}');
    has(pipeline, /sum by \(persona_group, reply\) \(.*event_planner_guest_replies_sent_total/);
    for (const gauge of ['lag', 'pending', 'oldest_pending_age_seconds']) has(pipeline, new RegExp(`max by \\(stream, group\\) \\(event_planner_stream_group_${gauge}\\)`));
    has(pipeline, /outcome="dead_lettered"/);
    has(pipeline, /event_planner_stream_reclaimed_total/);
    has(pipeline, /event_planner_stream_retries_total/);
    const svc = 'event-planner-services';
    has(svc, /sum by \(role, route\) \(rate\(event_planner_http_request_duration_seconds_count/);
    has(svc, /status_code=~"5\.\."/);
    has(svc, /histogram_quantile\(0\.95, sum by \(role, le\)/);
    for (const m of ['nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_start_time_seconds', 'event_planner_ready']) has(svc, new RegExp(m));
    const redis = 'event-planner-redis';
    for (const m of ['redis_memory_used_bytes', 'event_planner:redis_memory_limit_bytes', 'redis_connected_clients', 'redis_commands_total', 'redis_db_keys', 'redis_aof_enabled', 'redis_aof_last_rewrite_duration_sec', 'redis_connected_slaves']) {
      has(redis, new RegExp(m));
    }
  });
});
