import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Rendered, type Service, chartDir } from './chart-render.ts';
import { needTools, repoRoot } from './tools.ts';

interface SkaffoldConfig {
  apiVersion: string;
  build: { local?: { push?: boolean }; artifacts: { image: string; context?: string; docker?: { dockerfile?: string } }[] };
  deploy: { helm: { releases: { name: string; chartPath: string; namespace?: string; setValueTemplates?: Record<string, string>; setValues?: Record<string, unknown> }[] } };
  portForward: { resourceType: string; resourceName: string; port: number; localPort: number }[];
}

const text = readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8');
const config = parse(text) as SkaffoldConfig;
const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'schemas', 'skaffold-v4beta14.json'), 'utf8')) as object;

describe('skaffold.yaml', () => {
  it('is valid against the skaffold/v4beta14 schema', () => {
    // strict: false because the schema uses its own keywords (preferredOrder, x-intellij-...).
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    expect(config.apiVersion).toBe('skaffold/v4beta14');
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
    const [release] = config.deploy.helm.releases;
    const set = Object.fromEntries(Object.entries(release!.setValues ?? {}).map(([k, v]) => [k, String(v)]));
    const r = Rendered.render(helm, { release: release!.name, set: { ...set, 'image.repository': 'event-planner', 'image.tag': 'dev' } });
    const forwarded = config.portForward.map((f) => {
      expect(f.resourceType).toBe('service');
      const service = r.get<Service>('Service', f.resourceName);
      expect(service.spec.ports.map((p) => p.port), f.resourceName).toContain(f.port);
      return service.metadata.labels?.['app.kubernetes.io/component'];
    });
    expect(forwarded.sort()).toEqual(['grafana', 'host', 'jaeger', 'prometheus']);
    expect(new Set(config.portForward.map((f) => f.localPort)).size).toBe(config.portForward.length);
  });
});
