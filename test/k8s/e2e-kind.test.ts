// The offline parts of `npm run e2e:kind` (scripts/e2e-kind/): the real run needs Docker, a kind
// cluster and ~25 minutes of a cold machine, more than CI's budget, so CI checks that the scripts
// parse, that missing prerequisites are named, that --dry-run plans the run and loads the checks,
// that the stand-in images are the chart's, and that the runtime wrapper drops exactly the
// capabilities the machine lacks.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir } from './chart-render.ts';
import { repoRoot } from './tools.ts';

const dir = join(repoRoot, 'scripts', 'e2e-kind');
const work = mkdtempSync(join(tmpdir(), 'e2e-kind-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH of the system's basic tools plus stubs (exit 0) for the heavy prerequisites, minus `without`. */
function fakePath(without: string[] = []): string {
  const bin = mkdtempSync(join(work, 'bin-'));
  for (const tool of ['docker', 'go', 'gcc', 'debootstrap', 'helm', 'curl', 'python3']) {
    if (without.includes(tool)) continue;
    writeFileSync(join(bin, tool), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, tool), 0o755);
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  // The basic tools the scripts use, and nothing else of the machine (a real docker or go).
  for (const tool of ['bash', 'sh', 'cat', 'cut', 'date', 'dirname', 'grep', 'head', 'id', 'mkdir', 'mktemp', 'rm', 'sed', 'sort', 'tr', 'touch']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => spawnSync('test', ['-x', p]).status === 0);
    if (found) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

function e2e(args: string[], env: Record<string, string>) {
  return spawnSync('bash', [join(dir, 'e2e-kind.sh'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { HOME: work, E2E_IMAGES: 'local', ...env },
  });
}

describe('npm run e2e:kind, offline', () => {
  it('is the npm script, and every shell script of it parses', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['e2e:kind']).toBe('bash scripts/e2e-kind/e2e-kind.sh');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.sh'));
    expect(scripts.sort()).toEqual(['build-go.sh', 'build-images.sh', 'e2e-kind.sh', 'lib.sh', 'machine.sh']);
    for (const f of scripts) {
      const r = spawnSync('bash', ['-n', join(dir, f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it('names each missing prerequisite with how to get it, and stops', () => {
    const r = e2e(['--check-prereqs'], { PATH: fakePath(['docker', 'debootstrap']) });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/MISSING docker: .*apt-get install docker\.io/);
    expect(r.stdout).toMatch(/MISSING debootstrap: .*apt-get install debootstrap/);
    expect(r.stdout).not.toMatch(/MISSING (go|gcc|helm)/);
    expect(r.stderr).toMatch(/2 prerequisite\(s\) missing/);
    const ok = e2e(['--check-prereqs'], { PATH: fakePath() });
    // Root is a prerequisite of the local build; the suite runs as root in CI.
    if (process.getuid?.() === 0) expect(ok.status, ok.stdout + ok.stderr).toBe(0);
  });

  it('--dry-run plans the run (offline profile, static CNI) and loads the checks, without building or starting anything', () => {
    const r = e2e(['--dry-run'], { PATH: fakePath() });
    if (process.getuid?.() !== 0) return; // the local build needs root; the plan is not printed without it
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skaffold run --kube-context kind-event-planner-e2e --namespace event-planner-e2e -p no-grafana/);
    expect(r.stdout).toMatch(/kind create cluster --name event-planner-e2e --image <node image>/);
    expect(r.stdout).toMatch(/disableDefaultCNI: true/);
    const checks = r.stdout.split('checks:\n')[1]!.trim().split('\n').map((l) => l.trim());
    expect(checks).toEqual([
      'every pod Ready',
      "an event POSTed through the host's Service gets its summary",
      'a malformed invitation is dead-lettered, not processed',
      'scaling enthusiasts 1 -> 4 -> 1 changes who is invited, no reply lost scaling down',
      'deleting a coordinator pod and the Redis pod mid-event loses nothing',
      "Redis data survives its pod's deletion",
      'every Prometheus target is up',
      "the dashboards' queries return data through the in-cluster Prometheus",
      'the namespace enforces the restricted Pod Security level',
    ]);
    // With the registries reachable the real images are used, Grafana included.
    const online = e2e(['--dry-run'], { PATH: fakePath(), E2E_IMAGES: 'registry' });
    expect(online.status, online.stderr).toBe(0);
    expect(online.stdout).not.toMatch(/no-grafana|--image/);
    expect(e2e(['--bogus'], { PATH: fakePath() }).status).toBe(2);
  });

  it("builds stand-ins under exactly the names of the chart's third-party images", () => {
    const r = spawnSync('bash', [join(dir, 'build-images.sh'), 'list-third-party'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', E2E_CACHE: join(work, 'cache') } });
    expect(r.status, r.stderr).toBe(0);
    type Image = { repository: string; tag: string };
    const v = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, { image: Image; exporter?: { image: Image } }>;
    const name = (i: Image) => `${i.repository}:${i.tag}`;
    expect(r.stdout.trim().split(' ')).toEqual([name(v.redis!.image), name(v.redis!.exporter!.image), name(v.prometheus!.image), name(v.jaeger!.image)]);
  });

  it('runtime wrapper: removes from the bundle only the capabilities this machine lacks, then runs runc with the same arguments', () => {
    const bundle = join(work, 'bundle');
    mkdirSync(bundle, { recursive: true });
    const bnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
    const held = (bit: number) => ((BigInt(`0x${bnd}`) >> BigInt(bit)) & 1n) === 1n;
    const asked = ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_SYS_RESOURCE', 'CAP_NET_ADMIN'];
    const bits: Record<string, number> = { CAP_CHOWN: 0, CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_SYS_RESOURCE: 24 };
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { capabilities: { bounding: asked, effective: asked } } }));
    const fakeRunc = join(work, 'fake-runc');
    writeFileSync(fakeRunc, `#!/bin/sh\necho "runc $*"\n`);
    chmodSync(fakeRunc, 0o755);
    const r = spawnSync('python3', [join(dir, 'runc-caps.py'), '--root', '/run/x', 'create', '--bundle', bundle, 'ctr-1'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', E2E_RUNC: fakeRunc } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`runc --root /run/x create --bundle ${bundle} ctr-1`);
    const caps = (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { capabilities: Record<string, string[]> } }).process.capabilities;
    const expected = asked.filter((c) => held(bits[c]!));
    expect(caps.bounding).toEqual(expected);
    expect(caps.effective).toEqual(expected);
    // Other commands (state, delete, ...) leave the bundle alone.
    writeFileSync(join(bundle, 'config.json'), '{"process": {"capabilities": {"bounding": ["CAP_BOGUS"]}}}');
    spawnSync('python3', [join(dir, 'runc-caps.py'), 'delete', 'ctr-1'], { cwd: bundle, env: { PATH: '/usr/bin:/bin', E2E_RUNC: fakeRunc } });
    expect(readFileSync(join(bundle, 'config.json'), 'utf8')).toContain('CAP_BOGUS');
  });
});
