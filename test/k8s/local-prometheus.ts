import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../services/launcher/redis-server.ts';
import { eventually } from '../helpers/wait.ts';
import type { ConfigMap, Rendered, Workload } from './chart-render.ts';
import type { LocalCluster } from './local-cluster.ts';
import { LocalProcess } from './local-process.ts';
import { type DiscoveredPod, podTargets, withFileDiscovery } from './prometheus-config.ts';

export interface ActiveTarget {
  scrapeUrl: string;
  health: string;
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
}

/**
 * The chart's Prometheus config run by a local prometheus, with Kubernetes pod discovery replaced
 * by a targets file listing the local cluster's pods as discovery would (see prometheus-config.ts).
 * Pods of workloads that do not run here (Prometheus, Grafana themselves) are listed too, at an
 * unreachable address, so the relabel rules have to drop them.
 */
export class LocalPrometheus {
  readonly port: number;
  private readonly proc: LocalProcess;
  private readonly targetsFile: string;
  private readonly cluster: LocalCluster;

  private constructor(port: number, proc: LocalProcess, targetsFile: string, cluster: LocalCluster) {
    this.port = port;
    this.proc = proc;
    this.targetsFile = targetsFile;
    this.cluster = cluster;
  }

  static async start(prometheus: string, rendered: Rendered, cluster: LocalCluster, dir: string): Promise<LocalPrometheus> {
    mkdirSync(join(dir, 'data'), { recursive: true });
    const targetsFile = join(dir, 'targets.json');
    const configFile = join(dir, 'prometheus.yml');
    const data = rendered.get<ConfigMap>('ConfigMap', `${rendered.release}-prometheus`).data!;
    for (const [name, text] of Object.entries(data)) if (name !== 'prometheus.yml') writeFileSync(join(dir, name), text);
    const port = await freePort();
    writeFileSync(configFile, withFileDiscovery(data['prometheus.yml']!, targetsFile, { scrapeInterval: '1s', configDir: dir, selfAddress: `127.0.0.1:${port}` }));
    const proc = new LocalProcess('prometheus', [prometheus, `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    const p = new LocalPrometheus(port, proc, targetsFile, cluster);
    p.refreshTargets();
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, 20_000, `prometheus ready (${proc.output()})`);
    return p;
  }

  /** Rewrites the discovered pods (Prometheus watches the file): call after scaling. */
  refreshTargets(): void {
    const running: DiscoveredPod[] = this.cluster.pods
      .filter((p) => p.process.running)
      .map((p) => ({
        name: p.name,
        namespace: this.cluster.rendered.namespace,
        labels: p.labels,
        annotations: p.annotations,
        phase: 'Running',
        containers: [p.container, ...p.sidecars.map((s) => s.container)].map((c) => ({ name: c.name, ports: c.ports ?? [] })),
        address: (containerPort) => `127.0.0.1:${p.ports.get(containerPort)}`,
      }));
    const notRunHere: DiscoveredPod[] = this.cluster.rendered
      .workloads()
      .filter((w) => !this.cluster.pods.some((p) => p.workload === w))
      .map((w: Workload) => ({
        name: `${w.metadata.name}-0`,
        namespace: this.cluster.rendered.namespace,
        labels: w.spec.template.metadata.labels,
        annotations: w.spec.template.metadata.annotations ?? {},
        phase: 'Running',
        containers: w.spec.template.spec.containers.map((c) => ({ name: c.name, ports: c.ports ?? [] })),
        address: () => '127.0.0.1:9',
      }));
    // Write then rename, so Prometheus never reads half a file.
    writeFileSync(`${this.targetsFile}.tmp`, JSON.stringify(podTargets([...running, ...notRunHere]), null, 1));
    renameSync(`${this.targetsFile}.tmp`, this.targetsFile);
  }

  async activeTargets(): Promise<ActiveTarget[]> {
    const res = (await (await fetch(`http://127.0.0.1:${this.port}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: ActiveTarget[] } };
    return res.data.activeTargets;
  }

  /** Alerts pending or firing now (GET /api/v1/alerts). */
  async alerts(): Promise<{ labels: Record<string, string>; state: 'pending' | 'firing'; activeAt: string }[]> {
    const res = (await (await fetch(`http://127.0.0.1:${this.port}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: 'pending' | 'firing'; activeAt: string }[] } };
    return res.data.alerts;
  }

  /** A range query (what a Grafana panel sends); throws with Prometheus' error for a query it refuses. */
  async queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const params = new URLSearchParams({ query: expr, start: String(start / 1000), end: String(end / 1000), step: String(stepSeconds) });
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query_range`, { method: 'POST', body: params });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  }

  /** An instant query; throws with Prometheus' error for a query it refuses. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    if (body.data!.resultType === 'scalar') return [{ metric: {}, value: body.data!.result as [number, string] }];
    return body.data!.result as { metric: Record<string, string>; value: [number, string] }[];
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM');
  }
}
