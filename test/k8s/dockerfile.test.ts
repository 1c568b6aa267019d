import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/launcher/redis-server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';
import { type Stage, copyParts, dockerIgnored, execForm, parseDockerfile, readDockerfile } from './dockerfile.ts';
import { type ImageRoot, assembleRuntimeImage, localCommand } from './image-root.ts';
import { LocalProcess } from './local-process.ts';
import { needTools, repoRoot, run } from './tools.ts';

const dockerfilePath = join(repoRoot, 'Dockerfile');
const dockerfile = readDockerfile(dockerfilePath);
const runtime = dockerfile.stages.at(-1)!;
const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');

describe('the Dockerfile', () => {
  it('is clean under hadolint', (ctx) => {
    const { hadolint } = needTools(ctx, ['hadolint'] as const);
    expect(run(hadolint, ['--failure-threshold', 'info', dockerfilePath])).toBe('');
    // hadolint must find something in a bad Dockerfile, or the check above proves nothing.
    expect(() => run(hadolint, ['-'], { input: 'FROM node:latest\nRUN apt-get install curl\n' })).toThrow(/DL3007|DL3008/);
  });

  it('builds with the classic builder as with BuildKit: no syntax directive (a frontend image to pull), no BuildKit-only flags', () => {
    const text = readFileSync(dockerfilePath, 'utf8');
    expect(text).not.toMatch(/^#\s*syntax\s*=/im);
    // --mount, --chmod/--link on COPY and heredocs need BuildKit.
    expect(text).not.toMatch(/^\s*(RUN|COPY|ADD)\s+(.*\s)?--(mount|chmod|link|parents)\b/im);
    expect(text).not.toMatch(/<<-?\s*['"]?[A-Z]+['"]?\s*$/m);
    // skaffold marks its builds, so that pruning them never removes an image built by hand.
    expect(runtime.instructions.some((i) => i.keyword === 'ARG' && i.args.startsWith('BUILT_BY'))).toBe(true);
  });

  it('builds on Node 24 in stages, and the runtime stage takes only compiled JS and production dependencies', () => {
    for (const stage of dockerfile.stages) expect(stage.base, stage.name).toMatch(/^node:24[-.]/);
    const named: Record<string, Stage> = Object.fromEntries(dockerfile.stages.map((s) => [s.name ?? '', s]));
    expect(Object.keys(named)).toEqual(['build', 'prod-deps', 'runtime']);
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map(copyParts);
    expect(copies).toEqual([
      { from: 'prod-deps', sources: ['/app/node_modules/'], dest: 'node_modules/' },
      { from: 'build', sources: ['/app/dist/'], dest: 'dist/' },
      { from: undefined, sources: ['package.json'], dest: './' },
    ]);
    const prodInstall = named['prod-deps']!.instructions.find((i) => i.keyword === 'RUN')!.args;
    expect(prodInstall).toMatch(/^npm ci --omit=dev\b/);
  });

  it('runs as a numeric non-root user, with an init process, in exec form', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args;
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const entrypoint = execForm(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!);
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint.slice(2)).toEqual(['node', 'dist/services/main.js']);
  });

  it('sends only what the build needs: every COPY source exists and is not excluded by .dockerignore', () => {
    for (const stage of dockerfile.stages) {
      for (const ins of stage.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
        for (const source of copyParts(ins).sources) {
          expect(existsSync(join(repoRoot, source)), `${source} exists`).toBe(true);
          expect(dockerIgnored(ignore, source.replace(/\/$/, '')), `${source} is not ignored`).toBe(false);
        }
      }
    }
    for (const heavy of ['node_modules', 'services/node_modules', 'dist', '.git', '.tools', '.data', 'test', 'charts']) {
      expect(dockerIgnored(ignore, heavy), `${heavy} stays out of the context`).toBe(true);
    }
  });

  it('parses continuation lines and comments the way Docker does (the parser the tests rely on)', () => {
    const parsed = parseDockerfile('ARG B=node:24-slim\n# c\nFROM ${B} AS x\nRUN a \\\n  # inner\n  && b\nCOPY --from=x /a/ b/\n');
    expect(parsed.stages[0]).toMatchObject({ base: 'node:24-slim', name: 'x' });
    expect(parsed.stages[0]!.instructions.map((i) => [i.keyword, i.args])).toEqual([
      ['RUN', 'a && b'],
      ['COPY', '--from=x /a/ b/'],
    ]);
    expect(dockerIgnored(['**/node_modules', '*.md', '!README.md'], 'a/b/node_modules/x')).toBe(true);
    expect(dockerIgnored(['**/node_modules', '*.md', '!README.md'], 'README.md')).toBe(false);
    expect(dockerIgnored(['**/node_modules', '*.md'], 'docs/x.md')).toBe(false);
  });
});

describe('the runtime image, assembled without Docker', () => {
  let image: ImageRoot | undefined;
  let redis: TestRedis | undefined;
  afterAll(async () => {
    await redis?.stop();
    image?.remove();
  });

  it('holds compiled JS with its Lua scripts and production dependencies only, and the coordinator starts from it', async (ctx) => {
    needTools(ctx, ['redis-server'] as const);
    const started = Date.now();
    image = assembleRuntimeImage();
    ctx.annotate(`image assembled in ${Date.now() - started} ms`);
    const app = image.workdir;
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package.json']);
    const files = readdirSync(join(app, 'dist'), { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => f.endsWith('.ts')), 'no TypeScript sources').toEqual([]);
    const sourceLua = readdirSync(join(repoRoot, 'services'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.lua'));
    expect(sourceLua.length).toBeGreaterThan(0);
    for (const lua of sourceLua) expect(existsSync(join(app, 'dist', 'services', lua)), `dist/services/${lua}`).toBe(true);
    // The web page, built by the build stage beside the host module that serves it.
    const page = join(app, 'dist', 'services', 'host', 'web', 'build');
    expect(readFileSync(join(page, 'index.html'), 'utf8')).toMatch(/<script type="module"[^>]* src="\/assets\/index-[\w-]+\.js"/);
    expect(readdirSync(join(page, 'assets')).some((f) => /^index-[\w-]+\.css$/.test(f))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    // The lockfile marks what only development needs (a devDependency a production package also
    // needs, like @types/node for protobufjs, is not marked and rightly ships).
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path.startsWith('node_modules/') && p.dev).map(([path]) => path);
    const prod = Object.entries(lock.packages).filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.optional).map(([path]) => path);
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((path) => existsSync(join(app, path))), 'development-only packages in the image').toEqual([]);
    expect(prod.filter((path) => !existsSync(join(app, path))), 'production packages missing from the image').toEqual([]);
    expect(image.env.NODE_ENV).toBe('production');
    expect(image.aptPackages).toEqual(['tini']);

    redis = await startTestRedis();
    const port = await freePort();
    const command = localCommand(image, ['coordinator']);
    // A container's environment: the image's ENV and the pod's, nothing from this shell.
    const coordinator = new LocalProcess('coordinator', command, {
      cwd: app,
      env: { ...image.env, PATH: process.env.PATH ?? '', REDIS_URL: redis.url, PORT: String(port), LOG_FORMAT: 'json' },
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 20_000, `coordinator /readyz (${coordinator.output()})`);
      const info = (await (await fetch(`http://127.0.0.1:${port}/info`)).json()) as { role: string; version: string };
      expect(info).toMatchObject({ role: 'coordinator', version: pkg.version });
      expect(await coordinator.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await coordinator.stop('SIGKILL');
    }
    // Two npm installs and the build (tsc and the page's Vite build): about a minute on 2 quiet cores, more on a shared machine.
  }, 240_000);
});
