import { execFile, execFileSync } from 'node:child_process';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** OTLP span kinds as numbers (SPAN_KIND_*), the way OTLP/JSON encodes them. */
export const SpanKinds = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpKeyValue[];
  links?: { traceId: string; spanId: string }[];
}
interface OtlpRequest {
  resourceSpans?: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

/** OTLP/JSON ids are hex; accept base64 too (what protobuf-JSON mappings produce). */
function hexId(id: string | undefined): string {
  if (!id) return '';
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function attributeMap(list: OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/**
 * A local OTLP/HTTP receiver for traces in JSON (the roles export with
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json): what a collector would receive, kept in memory.
 */
export class OtlpReceiver {
  readonly spans: CollectedSpan[] = [];
  /** Requests that were not OTLP/JSON traces (wrong path or content type): a test fails on any. */
  readonly rejected: string[] = [];
  private server: Server | undefined;
  private port = 0;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      void body(request).then((raw) => {
        if (request.method !== 'POST' || request.url !== '/v1/traces' || !String(request.headers['content-type']).includes('json')) {
          this.rejected.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
          response.writeHead(400).end();
          return;
        }
        this.add(JSON.parse(raw.toString()) as OtlpRequest);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** Environment that makes a role export its spans here, quickly. */
  get env(): Record<string, string> {
    return {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${this.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private add(request: OtlpRequest): void {
    for (const resourceSpans of request.resourceSpans ?? []) {
      const service = String(attributeMap(resourceSpans.resource?.attributes)['service.name'] ?? '');
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            traceId: hexId(span.traceId),
            spanId: hexId(span.spanId),
            parentSpanId: hexId(span.parentSpanId),
            name: span.name,
            kind: span.kind,
            attributes: attributeMap(span.attributes),
            links: (span.links ?? []).map((l) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId) })),
          });
        }
      }
    }
  }
}

/**
 * Where promtool is: a test that needs it fails in CI (the CI image must have it) and is skipped
 * elsewhere with the reason, so a laptop without Debian's prometheus package can still run the rest.
 */
export function promtoolPath(): string | undefined {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    return undefined;
  }
}

export const promtoolHint =
  'promtool was not found on PATH. Install it with scripts/setup.sh (Debian package `prometheus`: `sudo apt-get install -y prometheus`).';

/** `promtool check metrics` on an exposition text: what it prints (nothing when clean) and its exit code. */
export function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
    child.stdin!.end(exposition);
  });
}

/** The spans of one trace as an indented tree (service, kind, name, links): for failure messages. */
export function traceTree(spans: CollectedSpan[], traceId: string): string {
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const ids = new Set(inTrace.map((s) => s.spanId));
  const kinds = ['', 'internal', 'server', 'client', 'producer', 'consumer'];
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (const s of inTrace.filter((x) => (parent === '' ? !ids.has(x.parentSpanId) : x.parentSpanId === parent))) {
      const links = s.links.length > 0 ? ` (${s.links.length} link${s.links.length > 1 ? 's' : ''})` : '';
      lines.push(`${'  '.repeat(depth)}${s.service.replace('event-planner-', '')} ${kinds[s.kind] ?? s.kind} "${s.name}"${links}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines.join('\n');
}
