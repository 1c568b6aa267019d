// The dashboards of grafana/dashboards/, generated from this folder: `npm run dashboards` writes
// them, test/k8s/dashboards.test.ts fails when a committed file differs from what this produces.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventPipeline } from './event-pipeline.ts';
import { type DashboardSpec, buildDashboard } from './panels.ts';
import { redisDashboard } from './redis.ts';
import { services } from './services.ts';

export const dashboardSpecs: DashboardSpec[] = [eventPipeline, services, redisDashboard];

export const dashboardDir = join(import.meta.dirname, '..', 'dashboards');

/** File name -> the JSON text Grafana provisions (one file per dashboard, named by its uid). */
export function renderDashboards(): Map<string, string> {
  return new Map(dashboardSpecs.map((spec) => [`${spec.uid}.json`, `${JSON.stringify(buildDashboard(spec), null, 2)}\n`]));
}

if (import.meta.main) {
  const files = renderDashboards();
  for (const [file, text] of files) {
    writeFileSync(join(dashboardDir, file), text);
    process.stdout.write(`wrote grafana/dashboards/${file}\n`);
  }
  // Every dashboard comes from here: a file no spec produces is a removed or renamed dashboard.
  for (const file of readdirSync(dashboardDir).filter((f) => f.endsWith('.json') && !files.has(f))) {
    rmSync(join(dashboardDir, file));
    process.stdout.write(`removed grafana/dashboards/${file}\n`);
  }
}
