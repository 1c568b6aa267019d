// .github/workflows/ci.yml, checked offline: actionlint (syntax, expressions, action inputs, job
// graph) and what the jobs must run: the test suite through .ci/run, and `npm run e2e:kind` with the
// registries' real images.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { needTools, repoRoot, run } from '../k8s/tools.ts';

const workflowPath = join(repoRoot, '.github', 'workflows', 'ci.yml');
const text = readFileSync(workflowPath, 'utf8');

interface Step {
  uses?: string;
  run?: string;
  name?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, { 'runs-on': string; 'timeout-minutes'?: number; env?: Record<string, string>; steps: Step[] }>;
}
const workflow = parse(text) as Workflow;

describe('the CI workflow (.github/workflows/ci.yml)', () => {
  it('passes actionlint, which finds the errors of a broken copy', (ctx) => {
    const { actionlint } = needTools(ctx, ['actionlint'] as const);
    expect(run(actionlint, ['-no-color', workflowPath])).toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'workflow-'));
    try {
      const broken = join(dir, 'ci.yml');
      // A misspelt context and an unknown input of a known action: both must be reported.
      writeFileSync(broken, text.replace('${{ github.ref }}', '${{ github.reff }}').replace('go-version: "1.24"', 'go-versoin: "1.24"'));
      expect(() => run(actionlint, ['-no-color', broken])).toThrow(/reff[\s\S]*go-versoin|go-versoin[\s\S]*reff/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the test suite through .ci/run, on pushes to main and on pull requests', () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    const test = workflow.jobs.test!;
    expect(test.steps.map((s) => s.run?.trim())).toContain('bash .ci/run');
    expect(test['timeout-minutes']).toBeLessThanOrEqual(90);
  });

  it('runs npm run e2e:kind with the real images, within a time limit, keeping its logs on failure', () => {
    const e2e = workflow.jobs['e2e-kind']!;
    expect(e2e.env?.E2E_IMAGES).toBe('registry');
    expect(e2e.steps.some((s) => /^npm run e2e:kind$/m.test(s.run ?? ''))).toBe(true);
    expect(e2e['timeout-minutes']).toBeGreaterThan(0);
    expect(e2e.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))).toBeDefined();
    // KEEP=1 would leave the runner's cluster up: the job must tear down.
    expect(text).not.toMatch(/KEEP[:=]\s*"?1/);
  });
});
