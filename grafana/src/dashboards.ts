// The dashboards of grafana/dashboards/, generated from this folder: `npm run dashboards` writes
// them, and the chart's copy in charts/event-planner/dashboards/ (a real folder, not a symlink: helm
// warned about the link on every command, and a packaged chart must not depend on it being
// followed); test/k8s/dashboards.test.ts fails when a committed file differs from what this produces.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventPipeline } from './event-pipeline.ts';
import { type DashboardSpec, buildDashboard } from './panels.ts';
import { redisDashboard } from './redis.ts';
import { services } from './services.ts';

export const dashboardSpecs: DashboardSpec[] = [eventPipeline, services, redisDashboard];

export const dashboardDir = join(import.meta.dirname, '..', 'dashboards');
/** The chart's copy, which its dashboards ConfigMap reads. */
export const chartDashboardDir = join(import.meta.dirname, '..', '..', 'charts', 'event-planner', 'dashboards');

/** File name -> the JSON text Grafana provisions (one file per dashboard, named by its uid). */
export function renderDashboards(): Map<string, string> {
  return new Map(dashboardSpecs.map((spec) => [`${spec.uid}.json`, `${JSON.stringify(buildDashboard(spec), null, 2)}\n`]));
}

if (import.meta.main) {
  const files = renderDashboards();
  for (const [dir, shown] of [[dashboardDir, 'grafana/dashboards'], [chartDashboardDir, 'charts/event-planner/dashboards']] as const) {
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of files) {
      writeFileSync(join(dir, file), text);
      process.stdout.write(`wrote ${shown}/${file}\n`);
    }
    // Every dashboard comes from here: a file no spec produces is a removed or renamed dashboard.
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json') && !files.has(f))) {
      rmSync(join(dir, file));
      process.stdout.write(`removed ${shown}/${file}\n`);
    }
  }
}
