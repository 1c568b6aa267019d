import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './tools.ts';

export const dashboardDir = join(repoRoot, 'grafana', 'dashboards');

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
  panels?: Panel[];
}

export interface Dashboard {
  file: string;
  id: unknown;
  uid: string;
  title: string;
  schemaVersion: number;
  refresh?: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string; current?: { value: string } }[] };
  __inputs?: unknown;
}

export function loadDashboards(): Dashboard[] {
  return readdirSync(dashboardDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ ...(JSON.parse(readFileSync(join(dashboardDir, file), 'utf8')) as Omit<Dashboard, 'file'>), file }));
}

/** Panels, with the ones inside collapsed rows. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query of a dashboard with where it comes from. */
export function queries(d: Dashboard): { where: string; expr: string; legendFormat?: string }[] {
  return allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${d.file} "${p.title}" ${t.refId}`, expr: t.expr, legendFormat: t.legendFormat })));
}

/**
 * The query as Grafana sends it, with its built-in variables filled in: `$__rate_interval` (Grafana
 * makes it at least four scrape intervals), `$__interval` (the step) and `$__range` (the time range).
 */
export function interpolate(expr: string, rateInterval = '1m', range = '1h'): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$__interval', rateInterval).replaceAll('$__range', range);
}

/** Metric names a query reads (event_planner_* only; histogram suffixes kept). */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(event_planner_[a-z0-9_]+)/g)].map((m) => m[1]!))];
}
