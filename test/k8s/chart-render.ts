import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot, run } from './tools.ts';

export const chartDir = join(repoRoot, 'charts', 'event-planner');
export const valueSetDir = join(import.meta.dirname, 'values');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Files under test/k8s/values/ (or absolute paths). */
  valuesFiles?: string[];
  set?: Record<string, string>;
}

/** `helm template` of charts/event-planner, parsed into objects (empty documents dropped). */
export function renderChart(helm: string, opts: RenderOptions = {}): KubeObject[] {
  const args = ['template', opts.release ?? 'event-planner', chartDir, '--namespace', opts.namespace ?? 'default'];
  for (const file of opts.valuesFiles ?? []) args.push('--values', file.startsWith('/') ? file : join(valueSetDir, file));
  for (const [key, value] of Object.entries(opts.set ?? {})) args.push('--set', `${key}=${value}`);
  return parseManifests(run(helm, args));
}

export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as KubeObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/**
 * NOTES.txt as `helm install` would print it. `helm template` leaves NOTES out, so a copy of the
 * chart carries it as the text of a ConfigMap, which is rendered instead.
 */
export function renderNotes(helm: string, opts: RenderOptions = {}): string {
  const copy = mkdtempSync(join(tmpdir(), 'ep-notes-'));
  try {
    cpSync(chartDir, copy, { recursive: true, dereference: true });
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    const indented = notes.split('\n').map((line) => `    ${line}`).join('\n');
    writeFileSync(join(copy, 'templates', 'notes-as-configmap.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n${indented}\n`);
    const args = ['template', opts.release ?? 'event-planner', copy, '--namespace', opts.namespace ?? 'default', '--show-only', 'templates/notes-as-configmap.yaml'];
    for (const file of opts.valuesFiles ?? []) args.push('--values', file.startsWith('/') ? file : join(valueSetDir, file));
    for (const [key, value] of Object.entries(opts.set ?? {})) args.push('--set', `${key}=${value}`);
    const [configMap] = parseManifests(run(helm, args)) as (KubeObject & { data: { notes: string } })[];
    return configMap!.data.notes;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** The rendered chart as a set of objects, with the look-ups the tests need. */
export class Rendered {
  readonly objects: KubeObject[];
  readonly release: string;
  readonly namespace: string;

  constructor(objects: KubeObject[], release = 'event-planner', namespace = 'default') {
    this.objects = objects;
    this.release = release;
    this.namespace = namespace;
  }

  static render(helm: string, opts: RenderOptions = {}): Rendered {
    return new Rendered(renderChart(helm, opts), opts.release ?? 'event-planner', opts.namespace ?? 'default');
  }

  ofKind<T extends KubeObject = KubeObject>(kind: string): T[] {
    return this.objects.filter((o) => o.kind === kind) as T[];
  }

  find<T extends KubeObject = KubeObject>(kind: string, name: string): T | undefined {
    return this.objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
  }

  get<T extends KubeObject = KubeObject>(kind: string, name: string): T {
    const found = this.find<T>(kind, name);
    if (!found) throw new Error(`no ${kind} ${name} rendered; have: ${this.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
    return found;
  }

  /** Deployments and StatefulSets: the objects that own pods. */
  workloads(): Workload[] {
    return this.objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as Workload[];
  }

  /** Workloads of an app role (host, coordinator, guest), by their component label. */
  appWorkloads(): Workload[] {
    return this.workloads().filter((w) => appComponents.includes(componentOf(w)));
  }
}

export const appComponents = ['host', 'coordinator', 'guest'];

export function componentOf(o: KubeObject): string {
  return o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

export interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}

export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  volumes?: {
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
    emptyDir?: object;
    persistentVolumeClaim?: { claimName: string };
  }[];
}

export interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: LabelSelector;
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: KubeObject[];
  };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface Service extends KubeObject {
  spec: { type?: string; clusterIP?: string; selector?: Record<string, string>; ports: { name?: string; port: number; targetPort?: number | string }[] };
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export interface Secret extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** Whether a label selector (Deployment, PDB) selects these labels, as the API server decides it. */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const plain = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const expressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === 'In') return key in labels && values.includes(labels[key]!);
    if (operator === 'NotIn') return !(key in labels) || !values.includes(labels[key]!);
    if (operator === 'Exists') return key in labels;
    return !(key in labels);
  });
  const empty = Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
  return !empty && plain && expressions;
}

/** The container port a probe or Service targetPort names (by name or number). */
export function resolvePort(container: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return container.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** A Secret's decoded value. */
export function secretValue(secret: Secret, key: string): string | undefined {
  if (secret.stringData?.[key] !== undefined) return secret.stringData[key];
  const encoded = secret.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}
