import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type ConfigMap, Rendered } from './chart-render.ts';
import { needTools, repoRoot, run } from './tools.ts';

// The chart's alert rules (templates/prometheus/_alert-rules.tpl), rendered with the default values,
// checked and unit-tested with promtool (test cases: alert-rules.test.yml). That each alert fires
// under real traffic is test/k8s/observability-proof.test.ts.

interface RuleGroup {
  name: string;
  rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
}
interface PromtoolTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const testFile = join(import.meta.dirname, 'alert-rules.test.yml');

let helm: string;
let promtool: string;
beforeEach((ctx) => {
  ({ helm, promtool } = needTools(ctx, ['helm', 'promtool'] as const));
});

function prometheusFiles(set: Record<string, string> = {}, values?: object): Record<string, string> {
  const valuesFiles: string[] = [];
  if (values) {
    const file = join(mkdtempSync(join(tmpdir(), 'ep-values-')), 'values.yaml');
    writeFileSync(file, stringify(values));
    valuesFiles.push(file);
  }
  return Rendered.render(helm, { set, valuesFiles }).get<ConfigMap>('ConfigMap', 'event-planner-prometheus').data!;
}

function rules(set: Record<string, string> = {}, values?: object): RuleGroup[] {
  return (parse(prometheusFiles(set, values)['alert-rules.yml']!) as { groups: RuleGroup[] }).groups;
}

const alerts = (groups: RuleGroup[]) => groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

/** Runs promtool on the rules rendered with `set` and the unit tests; returns its output. */
function promtoolTest(set: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ep-rules-'));
  writeFileSync(join(dir, 'alert-rules.yml'), prometheusFiles(set)['alert-rules.yml']!);
  copyFileSync(testFile, join(dir, 'tests.yml'));
  return run(promtool, ['test', 'rules', join(dir, 'tests.yml')]);
}

describe('alert rules', () => {
  it('are loaded by the chart\'s Prometheus and pass `promtool check rules` without a warning', () => {
    const files = prometheusFiles();
    expect((parse(files['prometheus.yml']!) as { rule_files: string[] }).rule_files).toEqual(['/etc/prometheus/alert-rules.yml']);
    const dir = mkdtempSync(join(tmpdir(), 'ep-rules-'));
    writeFileSync(join(dir, 'alert-rules.yml'), files['alert-rules.yml']!);
    const out = run(promtool, ['check', 'rules', join(dir, 'alert-rules.yml')]);
    expect(out).toMatch(/SUCCESS: 12 rules found/);
    expect(out).not.toMatch(/WARNING/i);
  });

  it('are the ones the issue asks for, each with a severity, a summary and a runbook section in docs/OPERATIONS.md', () => {
    const all = alerts(rules());
    expect(all.map((r) => r.alert).sort()).toEqual(
      [
        'CoordinatorDown',
        'DeadLettersIncreasing',
        'InvitationsWithoutSummaries',
        'NoActiveConsumer',
        'NoLiveGuests',
        'OldestPendingTooOld',
        'RedisAofFailing',
        'RedisDown',
        'RedisMemoryNearLimit',
        'StreamLagHigh',
        'StreamPendingHigh',
      ].sort(),
    );
    const operations = readFileSync(join(repoRoot, 'docs', 'OPERATIONS.md'), 'utf8');
    for (const rule of all) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.runbook).toBe(`docs/OPERATIONS.md#${rule.alert!.toLowerCase()}`);
      expect(operations, `docs/OPERATIONS.md has a "### ${rule.alert}" section`).toMatch(new RegExp(`^### ${rule.alert}$`, 'm'));
    }
  });

  it('pass their promtool unit tests, which have every alert both firing and not firing', () => {
    const tests = parse(readFileSync(testFile, 'utf8')) as PromtoolTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alerts(rules())) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${rule.alert} has a case where it fires`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${rule.alert} has a case where it does not`).toBe(true);
    }
    expect(promtoolTest()).toMatch(/SUCCESS/);
  });

  it('take their thresholds and durations from the values, so the unit tests fail when they move', () => {
    expect(() => promtoolTest({ 'prometheus.alerts.streamLag': '5000' })).toThrow(/StreamLagHigh/);
    expect(() => promtoolTest({ 'prometheus.alerts.for.CoordinatorDown': '30m' })).toThrow(/CoordinatorDown/);
    const shortened = alerts(rules({}, { prometheus: { alerts: { for: { NoLiveGuests: '10s' }, redisMemoryRatio: 0.5 } } }));
    expect(shortened.find((r) => r.alert === 'NoLiveGuests')!.for).toBe('10s');
    expect(shortened.find((r) => r.alert === 'StreamLagHigh')!.for).toBe('5m');
    expect(shortened.find((r) => r.alert === 'RedisMemoryNearLimit')!.expr).toMatch(/> 0\.5$/);
    expect(() => Rendered.render(helm, { set: { 'prometheus.alerts.for.NoSuchAlert': '1m' } })).toThrow(/NoSuchAlert/);
  });

  it('compare Redis memory with the container limit when maxmemory is not set, in bytes', () => {
    const limit = (memory: string) => rules({ 'redis.resources.limits.memory': memory }).flatMap((g) => g.rules).find((r) => r.record)!.expr;
    expect(limit('512Mi')).toBe('max(redis_memory_max_bytes{job="redis"} > 0) or vector(536870912)');
    expect(limit('2Gi')).toMatch(/vector\(2147483648\)$/);
    expect(limit('300M')).toMatch(/vector\(300000000\)$/);
    expect(() => limit('lots')).toThrow(/not a memory quantity/);
  });

  it('leave out the Redis rules without the exporter, and everything when alerts are off', () => {
    expect(rules({ 'redis.exporter.enabled': 'false' }).map((g) => g.name)).toEqual(['event-planner-streams', 'event-planner-services']);
    const off = prometheusFiles({ 'prometheus.alerts.enabled': 'false' });
    expect(off['alert-rules.yml']).toBeUndefined();
    expect(parse(off['prometheus.yml']!)).not.toHaveProperty('rule_files');
  });
});
