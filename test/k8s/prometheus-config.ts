import { parse, stringify } from 'yaml';

/** A pod as Prometheus' Kubernetes pod discovery sees it. */
export interface DiscoveredPod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  containers: { name: string; ports: { name?: string; containerPort: number }[] }[];
  /** Where a container port is reached (locally: a loopback port per pod and container port). */
  address: (containerPort: number) => string;
}

interface ScrapeConfig {
  job_name: string;
  kubernetes_sd_configs?: unknown[];
  file_sd_configs?: unknown[];
  scrape_interval?: string;
}

const labelName = (text: string) => text.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * What `role: pod` discovery produces for these pods: one target per declared container port, with
 * the __meta_kubernetes_pod_* labels the relabel rules read (the documented set, for the fields
 * the chart's rules use), in file_sd form.
 */
export function podTargets(pods: DiscoveredPod[]): { targets: string[]; labels: Record<string, string> }[] {
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const pod of pods) {
    const base: Record<string, string> = {
      __meta_kubernetes_namespace: pod.namespace,
      __meta_kubernetes_pod_name: pod.name,
      __meta_kubernetes_pod_phase: pod.phase,
      __meta_kubernetes_pod_ready: pod.phase === 'Running' ? 'true' : 'false',
    };
    for (const [k, v] of Object.entries(pod.labels)) {
      base[`__meta_kubernetes_pod_label_${labelName(k)}`] = v;
      base[`__meta_kubernetes_pod_labelpresent_${labelName(k)}`] = 'true';
    }
    for (const [k, v] of Object.entries(pod.annotations)) {
      base[`__meta_kubernetes_pod_annotation_${labelName(k)}`] = v;
      base[`__meta_kubernetes_pod_annotationpresent_${labelName(k)}`] = 'true';
    }
    for (const container of pod.containers) {
      for (const port of container.ports) {
        groups.push({
          targets: [pod.address(port.containerPort)],
          labels: {
            ...base,
            __meta_kubernetes_pod_container_name: container.name,
            __meta_kubernetes_pod_container_port_name: port.name ?? '',
            __meta_kubernetes_pod_container_port_number: String(port.containerPort),
            __meta_kubernetes_pod_container_port_protocol: 'TCP',
          },
        });
      }
    }
  }
  return groups;
}

export interface LocalConfigOptions {
  /** Replaces the global scrape and evaluation intervals (tests run faster than the chart's 5 s). */
  scrapeInterval?: string;
  /**
   * Where the Prometheus ConfigMap's files are here: rule_files under its mount path
   * (/etc/prometheus) are pointed at this folder.
   */
  configDir?: string;
  /** host:port Prometheus listens on here, for its own job (the chart scrapes localhost:9090). */
  selfAddress?: string;
}

/** Where the chart mounts the Prometheus ConfigMap (templates/prometheus/deployment.yaml). */
export const prometheusConfigMount = '/etc/prometheus';

/**
 * The chart's Prometheus config with Kubernetes discovery swapped for a file of discovered targets,
 * everything else (relabel rules, rule files, other jobs) as rendered, adapted to this machine by
 * `opts`. Debian builds Prometheus without Kubernetes discovery, so this is how its prometheus and
 * promtool take the chart's config.
 */
export function withFileDiscovery(configText: string, targetsFile: string, opts: LocalConfigOptions = {}): string {
  const config = parse(configText) as {
    global?: Record<string, string>;
    rule_files?: string[];
    scrape_configs: (ScrapeConfig & { static_configs?: { targets: string[] }[] })[];
  };
  let swapped = 0;
  for (const job of config.scrape_configs) {
    if (job.job_name === 'prometheus' && opts.selfAddress) job.static_configs = [{ targets: [opts.selfAddress] }];
    if (!job.kubernetes_sd_configs) continue;
    delete job.kubernetes_sd_configs;
    job.file_sd_configs = [{ files: [targetsFile], refresh_interval: '1s' }];
    swapped += 1;
  }
  if (swapped === 0) throw new Error('the Prometheus config has no kubernetes_sd_configs to swap');
  if (opts.scrapeInterval) config.global = { ...config.global, scrape_interval: opts.scrapeInterval, evaluation_interval: opts.scrapeInterval };
  if (config.rule_files) {
    config.rule_files = config.rule_files.map((file) => {
      if (!file.startsWith(`${prometheusConfigMount}/`)) throw new Error(`rule file ${file} is not in the ConfigMap mounted at ${prometheusConfigMount}`);
      return opts.configDir ? `${opts.configDir}${file.slice(prometheusConfigMount.length)}` : file;
    });
  }
  return stringify(config);
}
