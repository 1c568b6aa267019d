import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Rendered, type Service, chartDir } from './chart-render.ts';
import { needTools, repoRoot } from './tools.ts';

interface SkaffoldConfig {
  apiVersion: string;
  build: { local?: { push?: boolean; useBuildkit?: boolean }; artifacts: { image: string; context?: string; docker?: { dockerfile?: string; buildArgs?: Record<string, string> } }[] };
  deploy: { helm: { releases: { name: string; chartPath: string; namespace?: string; setValueTemplates?: Record<string, string>; setValues?: Record<string, unknown> }[] } };
  portForward: { resourceType: string; resourceName: string; port: number; localPort: number }[];
  resourceSelector?: { deny?: { groupKind: string; labels?: string[] }[] };
  profiles?: { name: string; patches: { op: 'add' | 'remove'; path: string; value?: unknown }[] }[];
}

/** The config with a profile's JSON patches applied (add and remove: what skaffold.yaml uses). */
function withProfile(name: string): SkaffoldConfig {
  const profile = config.profiles?.find((p) => p.name === name);
  if (!profile) throw new Error(`no profile ${name}`);
  const patched = structuredClone(config) as unknown as Record<string, unknown>;
  for (const patch of profile.patches) {
    const keys = patch.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    const parent = keys.reduce<Record<string, unknown>>((o, k) => {
      const next = o[k];
      if (next === undefined || next === null) throw new Error(`${patch.path}: ${k} missing`);
      return next as Record<string, unknown>;
    }, patched);
    if (patch.op === 'remove') {
      if (!(last in parent)) throw new Error(`${patch.path}: nothing to remove`);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else parent[last] = patch.value;
  }
  return patched as unknown as SkaffoldConfig;
}

/** Renders the chart with a config's release values; the Services its port-forwards name, by component. */
function forwardedComponents(helm: string, c: SkaffoldConfig): (string | undefined)[] {
  const [release] = c.deploy.helm.releases;
  const set = Object.fromEntries(Object.entries(release!.setValues ?? {}).map(([k, v]) => [k, String(v)]));
  const r = Rendered.render(helm, { release: release!.name, set: { ...set, 'image.repository': 'event-planner', 'image.tag': 'dev' } });
  return c.portForward.map((f) => {
    expect(f.resourceType).toBe('service');
    const service = r.get<Service>('Service', f.resourceName);
    expect(service.spec.ports.map((p) => p.port), f.resourceName).toContain(f.port);
    return service.metadata.labels?.['app.kubernetes.io/component'];
  });
}

const text = readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8');
const config = parse(text) as SkaffoldConfig;
const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'schemas', 'skaffold-v4beta13.json'), 'utf8')) as object;

describe('skaffold.yaml', () => {
  it('is valid against the skaffold/v4beta13 schema (skaffold v2.16.1 and later)', () => {
    // strict: false because the schema uses its own keywords (preferredOrder, x-intellij-...).
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    expect(config.apiVersion).toBe('skaffold/v4beta13');
    expect(validate(config), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const broken = structuredClone(config) as unknown as { build: { artifacts: Record<string, unknown>[] } };
    broken.build.artifacts[0]!.dockerfle = 'Dockerfile';
    expect(validate(broken), 'a misspelt field is refused, so the check above can fail').toBe(false);
  });

  it('builds the one image from the root Dockerfile, locally, without pushing', () => {
    expect(config.build.artifacts).toHaveLength(1);
    const artifact = config.build.artifacts[0]!;
    const context = join(repoRoot, artifact.context ?? '.');
    expect(statSync(context).isDirectory()).toBe(true);
    expect(existsSync(join(context, artifact.docker?.dockerfile ?? 'Dockerfile'))).toBe(true);
    expect(config.build.local?.push).toBe(false);
  });

  it('deploys the chart with the built image injected into the values the chart reads', () => {
    const [release] = config.deploy.helm.releases;
    expect(config.deploy.helm.releases).toHaveLength(1);
    expect(join(repoRoot, release!.chartPath)).toBe(chartDir);
    expect(existsSync(join(chartDir, 'Chart.yaml'))).toBe(true);
    // Skaffold names template variables after the image, with non-alphanumerics as underscores.
    const key = config.build.artifacts[0]!.image.replace(/[^A-Za-z0-9]/g, '_');
    expect(release!.setValueTemplates).toEqual({ 'image.repository': `{{.IMAGE_REPO_${key}}}`, 'image.tag': `{{.IMAGE_TAG_${key}}}` });
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as { image: Record<string, string> };
    expect(Object.keys(values.image)).toEqual(expect.arrayContaining(['repository', 'tag', 'pullPolicy']));
    expect(values.image.pullPolicy).toBe('IfNotPresent');
  });

  it('forwards ports of Services the chart renders (host, Grafana, Prometheus, Jaeger)', (ctx) => {
    const { helm } = needTools(ctx, ['helm'] as const);
    expect(forwardedComponents(helm, config).sort()).toEqual(['grafana', 'host', 'jaeger', 'prometheus']);
    expect(new Set(config.portForward.map((f) => f.localPort)).size).toBe(config.portForward.length);
  });

  it('profile no-grafana turns Grafana off and drops its port-forward (the rest still name rendered Services)', (ctx) => {
    const { helm } = needTools(ctx, ['helm'] as const);
    const off = withProfile('no-grafana');
    expect(off.deploy.helm.releases[0]!.setValues?.['grafana.enabled']).toBe(false);
    expect(forwardedComponents(helm, off).sort()).toEqual(['host', 'jaeger', 'prometheus']);
    // Without the profile's removal the Grafana forward would name a Service that is not rendered.
    const [release] = off.deploy.helm.releases;
    const r = Rendered.render(helm, { release: release!.name, set: { 'grafana.enabled': 'false' } });
    expect(() => r.get<Service>('Service', 'event-planner-grafana')).toThrow();
  });

  it('builds with whatever builder the local Docker has (no useBuildkit), marked as built by skaffold', () => {
    expect(config.build.local?.useBuildkit).toBeUndefined();
    expect(config.build.artifacts[0]!.docker?.buildArgs).toEqual({ BUILT_BY: 'skaffold' });
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^ARG BUILT_BY=/m);
  });

  it("keeps skaffold's run-id label off pod templates and claim templates: a new skaffold run restarts neither Redis nor Prometheus, and is not refused", (ctx) => {
    const { helm } = needTools(ctx, ['helm'] as const);
    const denied = new Map((config.resourceSelector?.deny ?? []).map((d) => [d.groupKind, d.labels ?? []]));
    const r = Rendered.render(helm, { release: 'event-planner' });
    // Every workload kind the chart renders (Redis is a StatefulSet, Prometheus a Deployment).
    const kinds = new Set(r.objects.filter((o) => 'spec' in o && (o.spec as { template?: unknown }).template).map((o) => `${o.kind}.apps`));
    expect([...kinds].sort()).toEqual(['Deployment.apps', 'StatefulSet.apps']);
    expect(denied.get('Deployment.apps')).toEqual(['.spec.template.metadata.labels']);
    // A StatefulSet's volumeClaimTemplates cannot change: with a new label on every run, the second
    // `skaffold run` was refused by the API server.
    expect(denied.get('StatefulSet.apps')).toEqual(['.spec.template.metadata.labels', '.spec.volumeClaimTemplates.metadata.labels']);
    expect(r.ofKind('StatefulSet').every((s) => Array.isArray((s.spec as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates))).toBe(true);
  });
});
