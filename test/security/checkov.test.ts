import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needTools, repoRoot, run } from '../k8s/tools.ts';

// checkov scans the rendered chart (every optional part on) and the Dockerfile: no failed check
// except those below, each with why it does not apply or is accepted. The Dockerfile's own skips
// are comments in it (`# checkov:skip=...`). A skip that no longer matches a failure is an error
// too, so the list only ever shrinks to what is true.

interface Accepted {
  check: string;
  /** Resources (kind.namespace.name) it is accepted for; all when absent. */
  resources?: RegExp;
  why: string;
}

const accepted: Accepted[] = [
  { check: 'CKV_K8S_21', why: 'The default namespace should not be used: the manifests carry no namespace; `helm install -n <ns>` chooses it' },
  { check: 'CKV_K8S_11', why: 'CPU limits: CFS throttling stalls the stream consumers (their latency is what the benchmarks measure); every container has CPU requests and memory limits' },
  { check: 'CKV_K8S_15', why: 'Image pull policy Always: images are pinned by tag (or image.digest), and kind loads the app image locally, where Always would try a registry' },
  { check: 'CKV_K8S_43', why: 'Image digest: third-party images are pinned by version tag; the app image takes image.digest when the deployment has one' },
  { check: 'CKV_K8S_38', resources: /\.event-planner-prometheus$/, why: 'Service account token: Prometheus discovers the release\'s pods through the Kubernetes API (a namespaced Role, list/watch pods only)' },
  {
    check: 'CKV_K8S_40',
    why: 'High UID: the uids are the images\' own users (node 1000, redis 999, grafana 472, busybox 65534 in the test pod); no pod shares a host namespace or mounts a host path, so none can collide with a host user',
  },
  { check: 'CKV_K8S_8', resources: /^Pod\.[^.]+\.event-planner-test-host-ready$/, why: 'Liveness probe: `helm test` runs this Pod once to completion' },
  { check: 'CKV_K8S_9', resources: /^Pod\.[^.]+\.event-planner-test-host-ready$/, why: 'Readiness probe: `helm test` runs this Pod once to completion' },
];

interface Failed { check_id: string; check_name: string; resource: string; file_line_range: number[] }

const dir = mkdtempSync(join(tmpdir(), 'ep-checkov-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** checkov's failed checks for one file; `--skip-download`: no call to the vendor's API. */
function failedChecks(checkov: string, file: string, framework: string): { failed: Failed[]; passed: number; skipped: number } {
  let out: string;
  try {
    out = run(checkov, ['-f', file, '--framework', framework, '--skip-download', '--quiet', '-o', 'json'], { env: { ...process.env, LOG_LEVEL: 'ERROR' } });
  } catch (error) {
    // checkov exits 1 when a check failed; its JSON report is on stdout all the same.
    const stdout = ((error as Error).cause as { stdout?: string } | undefined)?.stdout;
    if (!stdout) throw error;
    out = stdout;
  }
  const parsed = JSON.parse(out) as unknown;
  const report = (Array.isArray(parsed) ? parsed[0] : parsed) as { results?: { failed_checks: Failed[] }; summary: { passed: number; skipped: number } };
  return { failed: report.results?.failed_checks ?? [], passed: report.summary.passed, skipped: report.summary.skipped };
}

describe('checkov', () => {
  it('finds no failed check in the rendered chart beyond the accepted ones, each with its reason', (ctx) => {
    const { helm, checkov } = needTools(ctx, ['helm', 'checkov'] as const);
    const manifest = run(helm, ['template', 'event-planner', join(repoRoot, 'charts', 'event-planner'), '--set', 'jaeger.enabled=true', '--set', 'redis.tls.enabled=true', '--set', 'redis.tls.existingSecret=redis-tls']);
    const file = join(dir, 'chart.yaml');
    writeFileSync(file, manifest);
    const { failed, passed } = failedChecks(checkov, file, 'kubernetes');
    expect(passed, 'checkov ran its checks').toBeGreaterThan(300);
    const isAccepted = (f: Failed) => accepted.some((a) => a.check === f.check_id && (a.resources === undefined || a.resources.test(f.resource)));
    expect(failed.filter((f) => !isAccepted(f)).map((f) => `${f.check_id} ${f.check_name}: ${f.resource}`)).toEqual([]);
    const unused = accepted.filter((a) => !failed.some((f) => f.check_id === a.check && (a.resources === undefined || a.resources.test(f.resource))));
    expect(unused.map((a) => a.check), 'accepted checks that no longer fail: remove them').toEqual([]);
  }, 120_000);

  it('finds no failed check in the Dockerfile (its skips are justified in it), and finds them in a bad one', (ctx) => {
    const { checkov } = needTools(ctx, ['checkov'] as const);
    const { failed, skipped } = failedChecks(checkov, join(repoRoot, 'Dockerfile'), 'dockerfile');
    expect(failed.map((f) => `${f.check_id} ${f.check_name}`)).toEqual([]);
    expect(skipped).toBe(2);
    const bad = join(dir, 'Dockerfile');
    writeFileSync(bad, 'FROM node:latest\nRUN apt-get update && apt-get install -y curl\n');
    const found = failedChecks(checkov, bad, 'dockerfile').failed.map((f) => f.check_id);
    expect(found).toEqual(expect.arrayContaining(['CKV_DOCKER_3', 'CKV_DOCKER_7']));
  }, 120_000);
});
