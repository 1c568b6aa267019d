import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../services/launcher/redis-server.ts';
import { type ConfigMap, type Container, type Probe, type Rendered, type Secret, type Service, type Workload, resolvePort, secretValue } from './chart-render.ts';
import { type ImageRoot, localCommand } from './image-root.ts';
import { LocalProcess } from './local-process.ts';
import { containerEnv, expand } from './pod-env.ts';
import { findTool } from './tools.ts';

/** Third-party sidecar images and the tool (tools.ts) that runs here in their place. */
const sidecarTools: Record<string, string> = { 'oliver006/redis_exporter': 'redis_exporter' };

/** A second container of a pod (e.g. redis_exporter beside Redis), sharing the pod's ports. */
export interface LocalSidecar {
  container: Container;
  env: Record<string, string>;
  process: LocalProcess;
}

/** A pod of the rendered chart running as a local process. */
export interface LocalPod {
  name: string;
  workload: Workload;
  container: Container;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** containerPort -> the loopback port it is reached on here. */
  ports: Map<number, number>;
  /** The environment the process got (after Service names were mapped to loopback ports). */
  env: Record<string, string>;
  process: LocalProcess;
  sidecars: LocalSidecar[];
  /** How the main container was started, so that it can be restarted in place. */
  start: { command: string[]; cwd: string; env: Record<string, string> };
}

/**
 * Runs the rendered chart's workloads as processes on this machine, the way a node would:
 * - every pod gets its own loopback port per container port (its own network namespace);
 * - Service names (`<svc>`, `<svc>.<ns>.svc.cluster.local`) in the environment become
 *   127.0.0.1 and the port of a pod the Service selects;
 * - ConfigMap volumes are written to files, claimed and emptyDir volumes are folders, and paths
 *   under a mount in command and args point at them;
 * - env comes from the rendered ConfigMaps, Secrets and downward API (see pod-env.ts);
 * - app containers run the image's entrypoint with their args from the assembled image root.
 * Third-party containers (Redis) run the same-named binary installed here, sidecars (redis_exporter)
 * the tool tools.ts finds for their image; containers of a pod reach each other on 127.0.0.1.
 */
export class LocalCluster {
  readonly rendered: Rendered;
  readonly image: ImageRoot;
  readonly dir: string;
  readonly pods: LocalPod[] = [];

  constructor(rendered: Rendered, image: ImageRoot, dir: string) {
    this.rendered = rendered;
    this.image = image;
    this.dir = dir;
  }

  podsOf(workloadName: string): LocalPod[] {
    return this.pods.filter((p) => p.workload.metadata.name === workloadName && p.process.running);
  }

  /** The StatefulSet's pod 0: its command, args, config file and volume, on a loopback port. */
  async startStatefulSet(name: string): Promise<LocalPod> {
    const workload = this.rendered.get<Workload>('StatefulSet', name);
    const podName = `${name}-0`;
    const container = workload.spec.template.spec.containers[0]!;
    const ports = await this.allocatePorts(container);
    // Init containers run first, in order, each to completion (the Redis pod's writes its aclfile).
    for (const init of workload.spec.template.spec.initContainers ?? []) this.runInitContainer(workload, podName, init, ports);
    const mounts = this.materializeVolumes(workload, podName, container);
    // Paths under a mount (the probes' password file) point at the folders standing in for them.
    const env = pointAtMounts(containerEnv(this.rendered, container, { name: podName, namespace: this.rendered.namespace }), mounts);
    const command = [...(container.command ?? []), ...(container.args ?? [])].map((arg) => rewriteMounted(arg, env, mounts));
    if (command[0] !== 'redis-server') throw new Error(`${name}: only a redis-server container is emulated, got ${command[0]}`);
    const port = ports.get(container.ports![0]!.containerPort)!;
    // What the pod's own network namespace gives it: its port on its own address (the config file
    // says port 6379, bind *).
    command.push('--port', String(port), '--bind', '127.0.0.1');
    const pod = this.addPod(podName, workload, container, env, ports, command, { PATH: process.env.PATH ?? '' });
    await this.waitForProbe(pod, container.readinessProbe!, 'readiness');
    for (const sidecar of workload.spec.template.spec.containers.slice(1)) {
      await this.startSidecar(pod, sidecar);
    }
    return pod;
  }

  /**
   * Runs an init container's command here (a shell script from the pod's ConfigMap), with paths
   * under its mounts and addresses of the pod's other containers (127.0.0.1:<containerPort>) mapped.
   */
  private runInitContainer(workload: Workload, podName: string, container: Container, ports: Map<number, number>): void {
    const mounts = this.materializeVolumes(workload, podName, container);
    const env = pointAtMounts(this.mapPodLocal(containerEnv(this.rendered, container, { name: podName, namespace: this.rendered.namespace }), ports), mounts);
    const command = [...(container.command ?? []), ...(container.args ?? [])].map((arg) => rewriteMounted(arg, env, mounts));
    const result = spawnSync(command[0]!, command.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
    if (result.status !== 0) throw new Error(`${podName}: init container ${container.name} failed (exit ${result.status}): ${result.stdout}${result.stderr}`);
  }

  /** A second container of `pod`, run as the local tool for its image, with pod-local addresses mapped. */
  private async startSidecar(pod: LocalPod, container: Container): Promise<LocalSidecar> {
    const image = container.image.replace(/:[^:/]+$/, '');
    const tool = sidecarTools[image];
    const binary = tool === undefined ? undefined : findTool(tool);
    if (!binary) throw new Error(`${pod.name}/${container.name}: no local program for ${container.image} (${tool ?? 'not emulated'})`);
    for (const p of container.ports ?? []) pod.ports.set(p.containerPort, await freePort());
    // Its volumes are the pod's (an emptyDir the init container wrote is the same folder here).
    const mounts = this.materializeVolumes(pod.workload, pod.name, container);
    const env = pointAtMounts(this.mapPodLocal(containerEnv(this.rendered, container, { name: pod.name, namespace: this.rendered.namespace }), pod.ports), mounts);
    const sidecar: LocalSidecar = {
      container,
      env,
      process: new LocalProcess(`${pod.name}/${container.name}`, [binary, ...(container.args ?? [])], { cwd: join(this.dir, pod.name), env: { PATH: process.env.PATH ?? '', ...env } }),
    };
    pod.sidecars.push(sidecar);
    await this.waitForProbe(pod, container.readinessProbe!, `${container.name} readiness`, 30_000, container, sidecar.process);
    return sidecar;
  }

  /**
   * Inside a pod, 127.0.0.1:<containerPort> (or localhost) is another container of the same pod,
   * and ":<containerPort>" a listen address on every interface; here both are the pod's loopback port.
   */
  private mapPodLocal(env: Record<string, string>, ports: Map<number, number>): Record<string, string> {
    const local = (port: string) => ports.get(Number(port));
    return Object.fromEntries(
      Object.entries(env).map(([name, value]) => {
        const listen = /^:(\d+)$/.exec(value);
        if (listen && local(listen[1]!)) return [name, `127.0.0.1:${local(listen[1]!)}`];
        return [name, value.replace(/\b(127\.0\.0\.1|localhost):(\d+)\b/g, (m, _host: string, port: string) => (local(port) ? `127.0.0.1:${local(port)}` : m))];
      }),
    );
  }

  /**
   * The kubelet restarting a pod's main container in place (after it crashed, or was killed with
   * `signal`): same pod name, ports and environment, a new process.
   */
  async restart(pod: LocalPod, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await pod.process.stop(signal);
    pod.process = new LocalProcess(pod.name, pod.start.command, { cwd: pod.start.cwd, env: pod.start.env });
    await this.waitForProbe(pod, pod.container.readinessProbe!, 'readiness after restart');
  }

  /** Starts or stops pods of a Deployment until `replicas` run; stopping sends SIGTERM to the newest. */
  async scale(deploymentName: string, replicas: number): Promise<{ started: LocalPod[]; stopped: LocalPod[] }> {
    const workload = this.rendered.get<Workload>('Deployment', deploymentName);
    const running = this.podsOf(deploymentName);
    const started: LocalPod[] = [];
    const stopped: LocalPod[] = [];
    for (let i = running.length; i < replicas; i += 1) started.push(await this.startAppPod(workload));
    for (const pod of running.slice(replicas).reverse()) stopped.push(pod);
    await Promise.all(started.map((pod) => this.waitForProbe(pod, pod.container.readinessProbe!, 'readiness')));
    return { started, stopped };
  }

  private async startAppPod(workload: Workload): Promise<LocalPod> {
    const template = workload.spec.template;
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
    const podName = `${workload.metadata.name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const container = template.spec.containers[0]!;
    const ports = await this.allocatePorts(container);
    const mounts = this.materializeVolumes(workload, podName, container);
    // Services to loopback ports, and paths under a mount (REDIS_PASSWORD_FILE) to the folders standing in for them.
    const env = pointAtMounts(this.mapServices(containerEnv(this.rendered, container, { name: podName, namespace: this.rendered.namespace })), mounts);
    const http = resolvePort(container, 'http');
    if (http === undefined || Number(env.PORT) !== http) throw new Error(`${podName}: PORT=${env.PORT} is not the http containerPort ${http}`);
    // The app listens on PORT: in the pod that is its containerPort, here the pod's loopback port.
    env.PORT = String(ports.get(http));
    return this.addPod(podName, workload, container, env, ports, localCommand(this.image, container.args ?? []), {
      ...this.image.env,
      PATH: process.env.PATH ?? '',
    });
  }

  private addPod(
    name: string,
    workload: Workload,
    container: Container,
    env: Record<string, string>,
    ports: Map<number, number>,
    command: string[],
    imageEnv: Record<string, string>,
  ): LocalPod {
    const start = { command, cwd: workload.kind === 'StatefulSet' ? join(this.dir, name) : this.image.workdir, env: { ...imageEnv, ...env } };
    const proc = new LocalProcess(name, command, { cwd: start.cwd, env: start.env });
    const pod: LocalPod = {
      name,
      workload,
      container,
      labels: workload.spec.template.metadata.labels,
      annotations: workload.spec.template.metadata.annotations ?? {},
      ports,
      env,
      process: proc,
      sidecars: [],
      start,
    };
    this.pods.push(pod);
    return pod;
  }

  private async allocatePorts(container: Container): Promise<Map<number, number>> {
    const ports = new Map<number, number>();
    for (const p of container.ports ?? []) ports.set(p.containerPort, await freePort());
    return ports;
  }

  /** Writes ConfigMap volumes as files and makes folders for claims (templates or PVCs) and emptyDirs; mountPath -> local path. */
  private materializeVolumes(workload: Workload, podName: string, container: Container): Map<string, string> {
    const mounts = new Map<string, string>();
    const podDir = join(this.dir, podName);
    for (const mount of container.volumeMounts ?? []) {
      const local = join(podDir, 'volumes', mount.name);
      mkdirSync(local, { recursive: true });
      const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount.name);
      const claim = workload.spec.volumeClaimTemplates?.find((t) => t.metadata.name === mount.name);
      if (volume?.configMap) {
        const data = this.rendered.get<ConfigMap>('ConfigMap', volume.configMap.name).data ?? {};
        for (const [file, content] of Object.entries(data)) writeFileSync(join(local, file), content);
      } else if (volume?.secret) {
        const secret = this.rendered.get<Secret>('Secret', volume.secret.secretName);
        const items = volume.secret.items ?? Object.keys({ ...secret.data, ...secret.stringData }).map((key) => ({ key, path: key }));
        for (const { key, path } of items) writeFileSync(join(local, path), secretValue(secret, key) ?? '', { mode: 0o600 });
      } else if (!volume?.emptyDir && !volume?.persistentVolumeClaim && !claim) {
        throw new Error(`${podName}: volume ${mount.name} is neither a ConfigMap, an emptyDir nor a claim`);
      }
      mounts.set(mount.mountPath, local);
    }
    // Inside the pod, files name the mount paths (redis.conf says `dir /data`); here they name
    // the folders that stand in for them.
    for (const mount of container.volumeMounts ?? []) {
      const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount.name);
      if (!volume?.configMap) continue;
      const local = mounts.get(mount.mountPath)!;
      for (const file of Object.keys(this.rendered.get<ConfigMap>('ConfigMap', volume.configMap.name).data ?? {})) {
        let text = readFileSync(join(local, file), 'utf8');
        for (const [path, target] of mounts) text = text.replace(new RegExp(`(?<=\\s)${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\\s/]|$)`, 'gm'), target);
        writeFileSync(join(local, file), text);
      }
    }
    return mounts;
  }

  /** Replaces Service names in URLs with 127.0.0.1 and the port of a pod the Service selects. */
  mapServices(env: Record<string, string>): Record<string, string> {
    const mapped: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) mapped[name] = this.resolveUrl(value);
    return mapped;
  }

  /** `http://<service>:<port>/path` as reachable here; other text is returned as it is. */
  resolveUrl(value: string): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return value;
    }
    const host = url.hostname;
    const ns = this.rendered.namespace;
    const service = this.rendered
      .ofKind<Service>('Service')
      .find((s) => [s.metadata.name, `${s.metadata.name}.${ns}`, `${s.metadata.name}.${ns}.svc`, `${s.metadata.name}.${ns}.svc.cluster.local`].includes(host));
    if (!service) return value;
    const servicePort = service.spec.ports.find((p) => p.port === Number(url.port || defaultPort(url.protocol)));
    if (!servicePort) throw new Error(`Service ${service.metadata.name} has no port ${url.port}`);
    const pod = this.pods.find((p) => p.process.running && Object.entries(service.spec.selector ?? {}).every(([k, v]) => p.labels[k] === v));
    if (!pod) throw new Error(`Service ${service.metadata.name} selects no running pod`);
    const containerPort = resolvePort(pod.container, servicePort.targetPort ?? servicePort.port);
    const local = containerPort === undefined ? undefined : pod.ports.get(containerPort);
    if (local === undefined) throw new Error(`Service ${service.metadata.name} targets ${servicePort.targetPort}, which ${pod.name} does not declare`);
    url.hostname = '127.0.0.1';
    url.port = String(local);
    return url.toString().replace(/\/$/, value.endsWith('/') ? '/' : '');
  }

  /** Runs a probe as the kubelet would (HTTP GET on the pod's port, or the exec command in the pod's env). */
  async probe(pod: LocalPod, probe: Probe, container: Container = pod.container): Promise<{ ok: boolean; detail: string }> {
    if (probe.httpGet) {
      const port = resolvePort(container, probe.httpGet.port);
      const local = port === undefined ? undefined : pod.ports.get(port);
      if (local === undefined) return { ok: false, detail: `probe port ${probe.httpGet.port} is not declared` };
      try {
        const res = await fetch(`http://127.0.0.1:${local}${probe.httpGet.path}`, { signal: AbortSignal.timeout(3_000) });
        return { ok: res.status >= 200 && res.status < 400, detail: `${res.status} ${await res.text()}` };
      } catch (error) {
        return { ok: false, detail: String(error) };
      }
    }
    if (probe.exec) {
      // The exec probe runs inside the container: its env, with the port it reads (REDIS_PORT) being the pod's.
      const containerPort = pod.container.ports?.[0]?.containerPort;
      const env = { ...pod.env, PATH: process.env.PATH ?? '', REDIS_PORT: String(containerPort === undefined ? '' : pod.ports.get(containerPort)) };
      const result = spawnSync(probe.exec.command[0]!, probe.exec.command.slice(1), { env, encoding: 'utf8', timeout: 10_000 });
      return { ok: result.status === 0, detail: `exit ${result.status}: ${result.stdout}${result.stderr}`.trim() };
    }
    throw new Error(`${pod.name}: probe kind not emulated`);
  }

  async waitForProbe(pod: LocalPod, probe: Probe, what: string, timeoutMs = 30_000, container = pod.container, proc = pod.process): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!proc.running) throw new Error(`${pod.name} exited before its ${what} probe passed: ${proc.output()}`);
      const result = await this.probe(pod, probe, container);
      if (result.ok) return;
      if (Date.now() > deadline) throw new Error(`${pod.name} ${what} probe still failing after ${timeoutMs} ms: ${result.detail}\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM (as the kubelet sends on scale-down), then SIGKILL after terminationGracePeriodSeconds. */
  async terminate(pod: LocalPod): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const grace = (pod.workload.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const timer = setTimeout(() => pod.process.child.kill('SIGKILL'), grace);
    const exit = await pod.process.stop('SIGTERM');
    clearTimeout(timer);
    await Promise.all(pod.sidecars.map((s) => s.process.stop('SIGTERM')));
    return exit;
  }

  async stopAll(): Promise<void> {
    const apps = this.pods.filter((p) => p.workload.kind === 'Deployment');
    await Promise.all(apps.map((p) => this.terminate(p)));
    await Promise.all(this.pods.map((p) => this.terminate(p)));
  }
}

/** A command argument with $(VAR) expanded and a path under a mount pointed at the folder standing in for it. */
function rewriteMounted(arg: string, env: Record<string, string>, mounts: Map<string, string>): string {
  const expanded = expand(arg, env);
  const mount = [...mounts.keys()].find((m) => expanded === m || expanded.startsWith(`${m}/`));
  return mount ? mounts.get(mount)! + expanded.slice(mount.length) : expanded;
}

/** An environment with every value that is a path under a mount pointed at the folder standing in for it. */
function pointAtMounts(env: Record<string, string>, mounts: Map<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, rewriteMounted(value, {}, mounts)]));
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : protocol === 'redis:' ? 6379 : 80;
}
