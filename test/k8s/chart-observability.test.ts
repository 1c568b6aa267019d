import { beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ConfigMap, type Container, Rendered, type Service, type Workload, resolvePort, selects } from './chart-render.ts';
import { needTools } from './tools.ts';

// What the chart adds for observability beyond the app: redis_exporter beside Redis and its scrape
// job, and Jaeger with the roles' OTLP exporter pointed at it, wired port to port. (Rendering,
// linting and schema validation of these objects: chart.test.ts, value sets "defaults" and "Jaeger
// on"; the rules: alert-rules.test.ts; all of it running for real: observability-proof.test.ts.)

let helm: string;
beforeEach((ctx) => {
  ({ helm } = needTools(ctx, ['helm'] as const));
});

const exporterOf = (r: Rendered) => r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec.containers.find((c) => c.name === 'redis-exporter');
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);
const endpointPort = (endpoint: string) => Number(endpoint.split(':').at(-1));

interface ScrapeJob {
  job_name: string;
  relabel_configs?: { source_labels?: string[]; regex?: string; action?: string }[];
}

describe('redis_exporter', () => {
  it('runs beside Redis in its pod, pinned, reaching Redis on the pod\'s loopback as the metrics user, password from the Secret', () => {
    const r = Rendered.render(helm);
    const redis = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.spec.containers[0]!;
    const exporter = exporterOf(r)!;
    expect(exporter.image).toMatch(/^oliver006\/redis_exporter:v\d+\.\d+\.\d+$/);
    expect(env(exporter, 'REDIS_ADDR')?.value).toBe(`redis://127.0.0.1:${resolvePort(redis, 'redis')}`);
    // The probes' user and password are the exporter's: the metrics ACL user (no keys).
    expect(env(exporter, 'REDIS_USER')?.value).toBe('event-planner-metrics');
    expect(env(redis, 'REDIS_PROBE_USER')?.value).toBe('event-planner-metrics');
    // Neither has its password in the environment: the probes read the mounted metrics-password,
    // the exporter a password file the init container writes (test/security/acl-chart.test.ts).
    expect(env(redis, 'REDISCLI_AUTH')).toBeUndefined();
    expect(env(redis, 'REDIS_PROBE_PASSWORD_FILE')?.value).toBe('/run/secrets/redis/metrics-password');
    expect(env(exporter, 'REDIS_PASSWORD')).toBeUndefined();
    expect(env(exporter, 'REDIS_PASSWORD_FILE')?.value).toBe('/run/redis-exporter/password.json');
    expect(JSON.stringify(exporter.args ?? [])).not.toMatch(/password/i);
    // It listens on the port it declares as "metrics", which its probes use.
    const metrics = resolvePort(exporter, 'metrics')!;
    expect(env(exporter, 'REDIS_EXPORTER_WEB_LISTEN_ADDRESS')?.value).toBe(`:${metrics}`);
    for (const probe of [exporter.livenessProbe!, exporter.readinessProbe!]) expect(resolvePort(exporter, probe.httpGet!.port)).toBe(metrics);
  });

  it('is scraped by the chart\'s Prometheus as job "redis": the Redis pod\'s "metrics" port, this release only', () => {
    const r = Rendered.render(helm);
    const config = parse(r.get<ConfigMap>('ConfigMap', 'event-planner-prometheus').data!['prometheus.yml']!) as { scrape_configs: ScrapeJob[] };
    const job = config.scrape_configs.find((j) => j.job_name === 'redis')!;
    const keep = (label: string) => job.relabel_configs!.find((c) => c.action === 'keep' && c.source_labels?.[0] === label)?.regex;
    expect(keep('__meta_kubernetes_pod_label_app_kubernetes_io_instance')).toBe('event-planner');
    expect(keep('__meta_kubernetes_pod_label_app_kubernetes_io_component')).toBe('redis');
    expect(keep('__meta_kubernetes_pod_container_port_name')).toBe('metrics');
    const pod = r.get<Workload>('StatefulSet', 'event-planner-redis').spec.template.metadata.labels;
    expect(pod['app.kubernetes.io/component']).toBe('redis');
    // The app job cannot pick it up as well (it keeps only ports named "http").
    expect(config.scrape_configs.find((j) => j.job_name === 'event-planner')!.relabel_configs).toContainEqual(
      expect.objectContaining({ source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'http', action: 'keep' }),
    );
  });

  it('can be turned off: no container, no scrape job', () => {
    const r = Rendered.render(helm, { set: { 'redis.exporter.enabled': 'false' } });
    expect(exporterOf(r)).toBeUndefined();
    const config = parse(r.get<ConfigMap>('ConfigMap', 'event-planner-prometheus').data!['prometheus.yml']!) as { scrape_configs: ScrapeJob[] };
    expect(config.scrape_configs.map((j) => j.job_name)).toEqual(['event-planner', 'prometheus']);
  });
});

describe('Jaeger', () => {
  it('is off by default, and so is tracing', () => {
    const r = Rendered.render(helm);
    expect(r.objects.filter((o) => o.metadata.name.endsWith('-jaeger'))).toEqual([]);
    expect(r.get<ConfigMap>('ConfigMap', 'event-planner-env').data).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('when on, receives every role\'s spans: OTEL_EXPORTER_OTLP_ENDPOINT -> Service -> container port -> OTLP/HTTP receiver', () => {
    const r = Rendered.render(helm, { valuesFiles: ['tracing.yaml'] });
    const endpoint = new URL(r.get<ConfigMap>('ConfigMap', 'event-planner-env').data!.OTEL_EXPORTER_OTLP_ENDPOINT!);
    expect(endpoint.protocol).toBe('http:');
    const service = r.get<Service>('Service', endpoint.hostname);
    const deployment = r.get<Workload>('Deployment', 'event-planner-jaeger');
    expect(selects({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(true);
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.image).toMatch(/^jaegertracing\/jaeger:\d+\.\d+\.\d+$/);
    const servicePort = service.spec.ports.find((p) => p.port === Number(endpoint.port))!;
    const containerPort = resolvePort(container, servicePort.targetPort!);
    // Jaeger's own configuration: OTLP over HTTP on that port, the query API and UI on the Service's
    // "query" port, health on the probes' port, traces in memory.
    const config = parse(r.get<ConfigMap>('ConfigMap', 'event-planner-jaeger').data!['config.yaml']!) as {
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } }; extensions: string[] };
      receivers: { otlp: { protocols: { http: { endpoint: string }; grpc: { endpoint: string } } } };
      extensions: { jaeger_query: { http: { endpoint: string } }; healthcheckv2: { http: { endpoint: string } }; jaeger_storage: { backends: Record<string, { memory?: { max_traces: number } }> } };
    };
    expect(config.service.pipelines.traces.receivers).toContain('otlp');
    expect(endpointPort(config.receivers.otlp.protocols.http.endpoint)).toBe(containerPort);
    expect(resolvePort(container, service.spec.ports.find((p) => p.name === 'otlp-grpc')!.targetPort!)).toBe(endpointPort(config.receivers.otlp.protocols.grpc.endpoint));
    expect(resolvePort(container, service.spec.ports.find((p) => p.name === 'query')!.targetPort!)).toBe(endpointPort(config.extensions.jaeger_query.http.endpoint));
    expect(service.spec.ports.find((p) => p.name === 'query')!.port).toBe(16686);
    for (const probe of [container.livenessProbe!, container.readinessProbe!]) {
      expect(resolvePort(container, probe.httpGet!.port)).toBe(endpointPort(config.extensions.healthcheckv2.http.endpoint));
    }
    expect(Object.values(config.extensions.jaeger_storage.backends)[0]!.memory!.max_traces).toBe(10000);
    expect(container.args).toEqual(['--config', '/etc/jaeger/config.yaml']);
  });

  it('leaves a collector named in app.otlpEndpoint in charge', () => {
    const r = Rendered.render(helm, { valuesFiles: ['tracing.yaml'], set: { 'app.otlpEndpoint': 'http://otel-collector.observability:4318' } });
    expect(r.get<ConfigMap>('ConfigMap', 'event-planner-env').data!.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector.observability:4318');
  });
});
