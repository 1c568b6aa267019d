import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../services/launcher/redis-server.ts';
import { type ConfigMap, Rendered, type Workload } from '../k8s/chart-render.ts';
import { LocalProcess } from '../k8s/local-process.ts';
import { findTool, jaegerModuleVersion, needTools } from '../k8s/tools.ts';
import { Processes } from '../helpers/processes.ts';
import { type TestRedis, startTestRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';

// The roles export their spans (OTLP over HTTP, protobuf: the SDK's default) to a real Jaeger run
// with the configuration the chart renders for it (its listen addresses moved to free loopback
// ports), and the test reads the traces back through Jaeger's query API, as its UI does.

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
  warnings: string[] | null;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
  warnings: string[] | null;
}

const tools = ['helm', 'jaeger'] as const;
const events = ['jaeger-event-1', 'jaeger-event-2', 'jaeger-event-3'];
const services = { host: 'event-planner-host', coordinator: 'event-planner-coordinator', guest: 'event-planner-guest' };

let redis: TestRedis;
let jaeger: LocalProcess | undefined;
let queryUrl = '';
let otlpHttp = '';
let chartTag = '';
let dir: string;

/** The chart's Jaeger config with every listen address on a free loopback port: its file and health address. */
async function localJaegerConfig(): Promise<{ file: string; health: string }> {
  const rendered = Rendered.render(findTool('helm')!, { valuesFiles: ['tracing.yaml'] });
  chartTag = rendered.get<Workload>('Deployment', 'event-planner-jaeger').spec.template.spec.containers[0]!.image.split(':')[1]!;
  const config = parse(rendered.get<ConfigMap>('ConfigMap', 'event-planner-jaeger').data!['config.yaml']!) as {
    receivers: { otlp: { protocols: Record<'grpc' | 'http', { endpoint: string }> } };
    extensions: { jaeger_query: Record<'http' | 'grpc', { endpoint: string }>; healthcheckv2: { http: { endpoint: string } } };
  };
  const listeners = [
    config.receivers.otlp.protocols.http,
    config.receivers.otlp.protocols.grpc,
    config.extensions.jaeger_query.http,
    config.extensions.jaeger_query.grpc,
    config.extensions.healthcheckv2.http,
  ];
  for (const listener of listeners) {
    expect(listener.endpoint, 'the chart listens on every interface of the pod').toMatch(/^0\.0\.0\.0:\d+$/);
    listener.endpoint = `127.0.0.1:${await freePort()}`;
  }
  otlpHttp = `http://${config.receivers.otlp.protocols.http.endpoint}`;
  queryUrl = `http://${config.extensions.jaeger_query.http.endpoint}`;
  const file = join(dir, 'config.yaml');
  writeFileSync(file, stringify(config));
  return { file, health: config.extensions.healthcheckv2.http.endpoint };
}

beforeAll(async () => {
  if (tools.some((t) => !findTool(t))) return; // each test reports what is missing
  dir = mkdtempSync(join(tmpdir(), 'ep-jaeger-'));
  redis = await startTestRedis();
  const { file, health } = await localJaegerConfig();
  jaeger = new LocalProcess('jaeger', [findTool('jaeger')!, '--config', file], { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
  await eventually(
    async () => {
      if (!jaeger!.running) throw new Error(jaeger!.output());
      return (await fetch(`http://${health}/status`).catch(() => undefined))?.ok;
    },
    30_000,
    'Jaeger healthy',
  );
}, 60_000);

afterAll(async () => {
  await jaeger?.stop('SIGTERM');
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach((ctx) => {
  needTools(ctx, tools);
});

async function jaegerApi<T>(path: string): Promise<T> {
  const res = await fetch(`${queryUrl}${path}`);
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return ((await res.json()) as { data: T }).data;
}

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

describe('traces in a real Jaeger', () => {
  it('runs the Jaeger release the chart pins (Go module v1.N is Jaeger 2.(N-63))', () => {
    const [, minor, patch] = /^v1\.(\d+)\.(\d+)$/.exec(jaegerModuleVersion)!;
    expect(chartTag).toBe(`2.${Number(minor) - 63}.${patch}`);
  });

  it('holds one trace per event spanning host, coordinator and guests, with the expected spans and no orphan', async () => {
    const procs = new Processes({ REDIS_URL: redis.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlpHttp, OTEL_BSP_SCHEDULE_DELAY: '100' });
    try {
      await procs.coordinator();
      await procs.guests({ GUESTS_PER_AGENT: '3', PERSONAS: 'original', GUEST_AGENT_ID: 'jaeger-a' });
      await procs.guests({ GUESTS_PER_AGENT: '2', PERSONAS: 'original', GUEST_AGENT_ID: 'jaeger-b' });
      const host = await procs.host({ HOST_ID: 'jaeger-host' });
      for (const id of events) {
        const res = await fetch(host.url('/api/events'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, event_name: `Traced ${id}` }),
        });
        expect(res.status).toBe(202);
      }
      await eventually(() => host.logs.filter((l) => l.msg.startsWith('📊 summary received')).length === events.length, 30_000, 'three summaries');
    } finally {
      // SIGTERM: every role exports what its batch processor still holds before it exits.
      await procs.stopAll();
    }

    expect(await jaegerApi<string[]>('/api/services')).toEqual(expect.arrayContaining(Object.values(services)));
    const expectedNames = [
      'POST /api/events',
      'send event_invitations',
      'apply revision',
      'send guest_inbox',
      'process guest_inbox',
      'send guest_responses',
      'count replies',
      'summarize',
      'send event_summaries',
      'process event_summaries',
      'receive summary',
      'apply activity',
    ];
    const seenTraces = new Set<string>();
    for (const id of events) {
      // Jaeger's search by tag, as in its UI: the trace holding the summary receipt of this event.
      const query = `/api/traces?service=${services.host}&operation=${encodeURIComponent('receive summary')}&tags=${encodeURIComponent(JSON.stringify({ 'event_planner.event_id': id }))}&limit=10`;
      const traces = await eventually(async () => {
        const found = await jaegerApi<JaegerTrace[]>(query);
        return found.length > 0 ? found : undefined;
      }, 15_000, `the trace of ${id}`);
      expect(traces, `${id}: one trace`).toHaveLength(1);
      // Read it whole (spans of all three services arrive in separate exports).
      const trace = await eventually(async () => {
        const [t] = await jaegerApi<JaegerTrace[]>(`/api/traces/${traces[0]!.traceID}`);
        return expectedNames.every((n) => t!.spans.some((s) => s.operationName === n)) ? t : undefined;
      }, 15_000, `every span of ${id}`);
      seenTraces.add(trace.traceID);

      const service = (s: JaegerSpan) => trace.processes[s.processID]!.serviceName;
      expect(new Set(trace.spans.map(service))).toEqual(new Set(Object.values(services)));
      const names = new Set(trace.spans.map((s) => s.operationName));
      for (const name of expectedNames) expect(names, `${id}: a "${name}" span`).toContain(name);
      // Five guests in two agents: a delivery and a process span per agent, a reply per guest.
      expect(trace.spans.filter((s) => s.operationName === 'send guest_inbox')).toHaveLength(2);
      expect(trace.spans.filter((s) => s.operationName === 'process guest_inbox').map(service)).toEqual([services.guest, services.guest]);
      expect(trace.spans.filter((s) => s.operationName === 'send guest_responses')).toHaveLength(5);
      // Every span about an event is about this one.
      for (const s of trace.spans) {
        const eventId = tag(s, 'event_planner.event_id');
        if (eventId !== undefined) expect(eventId, `${s.operationName} in the trace of ${id}`).toBe(id);
      }

      // No orphan: one root (the host's request), every other span's parent is in the trace, and
      // Jaeger itself found nothing to warn about but clock skew: a consumer's span starts after its
      // producer's ended (asynchronous messaging), which Jaeger reads as skew and, with adjustment
      // off (the chart's default), only notes.
      const ids = new Set(trace.spans.map((s) => s.spanID));
      // Jaeger's parent is a span's first reference: CHILD_OF, or FOLLOWS_FROM for the guests' and
      // the host's `process` spans, whose parent (the entry's `send`) is also linked.
      const roots = trace.spans.filter((s) => s.references.length === 0);
      expect(roots.map((s) => `${service(s)} ${s.operationName}`)).toEqual([`${services.host} POST /api/events`]);
      for (const s of trace.spans.filter((x) => x.references.length > 0)) {
        const parent = s.references[0]!;
        expect(parent.traceID === trace.traceID && ids.has(parent.spanID), `parent of ${service(s)} "${s.operationName}" is in the trace`).toBe(true);
        expect((s.warnings ?? []).filter((w) => !w.startsWith('clock skew adjustment disabled')), `${s.operationName}: Jaeger warnings`).toEqual([]);
      }
      const follows = trace.spans.filter((x) => x.references[0]?.refType === 'FOLLOWS_FROM').map((x) => x.operationName).sort();
      // The host reads event_activity a batch at a time (its `process` span is a root of its own, as
      // the coordinator's reads of replies): each entry's `apply activity` is a child of the
      // entry's send, in the event's trace, as many as the entries the event's effects fell into.
      expect(follows).toEqual(['process event_summaries', 'process guest_inbox', 'process guest_inbox']);
      const applied = trace.spans.filter((x) => x.operationName === 'apply activity');
      expect(applied.length).toBeGreaterThan(0);
      for (const s of applied) expect(service(s)).toBe(services.host);
      expect(trace.warnings ?? []).toEqual([]);
    }
    expect(seenTraces.size).toBe(events.length);
  });
});
