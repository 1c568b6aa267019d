import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { type Dockerfile, copyParts, dockerIgnored, execForm, readDockerfile } from './dockerfile.ts';
import { repoRoot } from './tools.ts';

/** The runtime stage's filesystem as local folders, and how the image starts. */
export interface ImageRoot {
  /** Root of the runtime stage's filesystem. */
  root: string;
  /** WORKDIR, as a local path under root. */
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  user?: string;
  /** Packages installed with apt-get (not emulated: their binaries are the host's). */
  aptPackages: string[];
  remove(): void;
}

/**
 * How each RUN of the Dockerfile is done here without Docker. A RUN that matches none of these
 * fails the assembly, so a new step in the Dockerfile needs a thought here too.
 */
const runSteps: { pattern: RegExp; run: (cwd: string, match: RegExpMatchArray) => string[] | void }[] = [
  {
    // Build stage's full install: the dependencies `npm ci` already put in the checkout are the same.
    pattern: /^npm ci(?: --no-audit| --no-fund)*$/,
    run: (cwd) => symlinkSync(join(repoRoot, 'node_modules'), join(cwd, 'node_modules'), 'dir'),
  },
  {
    pattern: /^npm run build$/,
    run: (cwd) => void execFileSync(npmPath(), ['run', 'build'], { cwd, stdio: 'pipe' }),
  },
  {
    // The production install for real (from the npm cache when it can). `npm cache clean` only
    // makes the image smaller; here it would empty the developer's cache, so it is left out.
    pattern: /^npm ci --omit=dev((?: --no-audit| --no-fund)*) && npm cache clean --force$/,
    run: (cwd, m) => void execFileSync(npmPath(), ['ci', '--omit=dev', ...m[1]!.trim().split(/\s+/).filter(Boolean), '--prefer-offline'], { cwd, stdio: 'pipe' }),
  },
  {
    pattern: /^apt-get update && apt-get install -y --no-install-recommends ((?:[\w.+-]+=[\w.+~:-]+ ?)+) && rm -rf \/var\/lib\/apt\/lists\/\*$/,
    run: (_cwd, m) => m[1]!.trim().split(/\s+/).map((p) => p.split('=')[0]!),
  },
];

function npmPath(): string {
  // npm sits beside the node binary in every Node distribution.
  const beside = join(dirname(process.execPath), 'npm');
  return existsSync(beside) ? beside : 'npm';
}

function contextFiles(source: string, ignore: string[]): string[] {
  const abs = join(repoRoot, source);
  if (!existsSync(abs)) throw new Error(`COPY ${source}: not in the build context`);
  if (!statSync(abs).isDirectory()) return dockerIgnored(ignore, source) ? [] : [source];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .map((f) => posix.join(source.replace(/\/$/, ''), f))
    .filter((f) => statSync(join(repoRoot, f)).isFile() && !dockerIgnored(ignore, f));
}

/**
 * Assembles the Dockerfile's runtime (last) stage without Docker: each stage gets a folder as its
 * filesystem, COPY copies from the build context (honouring .dockerignore) or from an earlier
 * stage, and RUN steps are done by the local equivalents above.
 */
export function assembleRuntimeImage(dockerfile: Dockerfile = readDockerfile(join(repoRoot, 'Dockerfile'))): ImageRoot {
  const base = mkdtempSync(join(tmpdir(), 'ep-image-'));
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
  const roots = new Map<string, string>();
  let last: Omit<ImageRoot, 'remove'> | undefined;
  dockerfile.stages.forEach((stage, i) => {
    const root = join(base, `stage-${i}`);
    mkdirSync(root, { recursive: true });
    let workdir = '/';
    const state: Omit<ImageRoot, 'remove'> = { root, workdir: root, entrypoint: [], cmd: [], env: {}, aptPackages: [] };
    for (const ins of stage.instructions) {
      const cwd = join(root, workdir);
      switch (ins.keyword) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, ins.args);
          mkdirSync(join(root, workdir), { recursive: true });
          state.workdir = join(root, workdir);
          break;
        case 'COPY': {
          const { from, sources, dest } = copyParts(ins);
          const target = join(cwd, dest);
          if (from) {
            const fromRoot = roots.get(from);
            if (!fromRoot) throw new Error(`line ${ins.line}: COPY --from=${from}: no such earlier stage`);
            for (const source of sources) cpSync(join(fromRoot, source), target, { recursive: true });
          } else {
            const many = sources.length > 1 || dest.endsWith('/');
            for (const source of sources) {
              for (const file of contextFiles(source, ignore)) {
                const rel = statSync(join(repoRoot, source)).isDirectory() ? relative(source, file) : posix.basename(file);
                const to = many ? join(target, rel) : target;
                mkdirSync(dirname(to), { recursive: true });
                cpSync(join(repoRoot, file), to);
              }
            }
          }
          break;
        }
        case 'RUN': {
          const step = runSteps.map((s) => ({ s, m: ins.args.match(s.pattern) })).find((x) => x.m);
          if (!step) throw new Error(`line ${ins.line}: RUN ${ins.args}\n  has no local equivalent in test/k8s/image-root.ts; add one`);
          const packages = step.s.run(cwd, step.m!);
          if (packages) state.aptPackages.push(...packages);
          break;
        }
        case 'ENV': {
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) state.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
          break;
        }
        case 'USER':
          state.user = ins.args;
          break;
        case 'ENTRYPOINT':
          state.entrypoint = execForm(ins);
          break;
        case 'CMD':
          state.cmd = execForm(ins);
          break;
        default:
          break; // EXPOSE, LABEL, ARG: nothing to do for the filesystem
      }
    }
    roots.set(stage.name ?? String(i), root);
    last = state;
  });
  if (!last) throw new Error('the Dockerfile has no stage');
  return { ...last, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/**
 * The command line of a container started from the image with these args, runnable here: the
 * init wrapper (tini) is dropped, since the test harness itself delivers the signals, and `node`
 * is this Node binary.
 */
export function localCommand(image: ImageRoot, args: string[]): string[] {
  let command = [...image.entrypoint, ...(args.length > 0 ? args : image.cmd)];
  if (command[0]?.endsWith('/tini')) command = command.slice(command.indexOf('--') + 1);
  if (command[0] === 'node') command[0] = process.execPath;
  return command;
}
