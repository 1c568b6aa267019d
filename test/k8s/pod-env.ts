import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConfigMap, type Container, type PodSpec, type Rendered, type Secret, secretValue } from './chart-render.ts';

export interface PodIdentity {
  name: string;
  namespace: string;
  /** status.podIP: the loopback address when pods run as local processes. */
  ip?: string;
}

/**
 * The environment the kubelet would give a container: envFrom first, then env (which wins), with
 * ConfigMap and Secret references looked up among the rendered objects (or `external` Secrets, for
 * an existingSecret the chart does not create), downward-API fields from the pod's identity, and
 * $(VAR) references expanded. Anything unresolvable is an error: the pod would not start either.
 */
export function containerEnv(
  rendered: Rendered,
  container: Container,
  pod: PodIdentity,
  external: Record<string, Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  const configMap = (name: string) => {
    const cm = rendered.find<ConfigMap>('ConfigMap', name);
    if (!cm) throw new Error(`${container.name}: ConfigMap ${name} is not rendered`);
    return cm.data ?? {};
  };
  const secret = (name: string, key: string) => {
    const rendered_ = rendered.find<Secret>('Secret', name);
    const value = rendered_ ? secretValue(rendered_, key) : external[name]?.[key];
    if (value === undefined) throw new Error(`${container.name}: Secret ${name} has no key ${key}${rendered_ ? '' : ' (not rendered, not given)'}`);
    return value;
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, configMap(source.configMapRef.name));
    if (source.secretRef) {
      const s = rendered.find<Secret>('Secret', source.secretRef.name);
      if (!s) throw new Error(`${container.name}: Secret ${source.secretRef.name} is not rendered`);
      for (const key of Object.keys({ ...s.data, ...s.stringData })) env[key] = secretValue(s, key)!;
    }
  }
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = expand(String(v.value), env);
    else if (v.valueFrom?.secretKeyRef) env[v.name] = secret(v.valueFrom.secretKeyRef.name, v.valueFrom.secretKeyRef.key);
    else if (v.valueFrom?.configMapKeyRef) {
      const value = configMap(v.valueFrom.configMapKeyRef.name)[v.valueFrom.configMapKeyRef.key];
      if (value === undefined) throw new Error(`${container.name}: ConfigMap ${v.valueFrom.configMapKeyRef.name} has no key ${v.valueFrom.configMapKeyRef.key}`);
      env[v.name] = value;
    } else if (v.valueFrom?.fieldRef) env[v.name] = field(v.valueFrom.fieldRef.fieldPath, pod);
    else env[v.name] = '';
  }
  return env;
}

function field(path: string, pod: PodIdentity): string {
  if (path === 'metadata.name') return pod.name;
  if (path === 'metadata.namespace') return pod.namespace;
  if (path === 'status.podIP') return pod.ip ?? '127.0.0.1';
  throw new Error(`downward API field ${path} is not emulated`);
}

/** Kubernetes' $(VAR) expansion in env values, command and args ($$ escapes; unknown names stay). */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? match;
  });
}

/**
 * What the kubelet mounts into `container` from Secrets and ConfigMaps, written under `dir` (one
 * folder per volume), and `env` with every value that names a path under such a mount pointing at
 * the written file instead (REDIS_PASSWORD_FILE=/run/secrets/redis/password, say).
 */
export function withMountedFiles(
  rendered: Rendered,
  spec: PodSpec,
  container: Container,
  env: Record<string, string>,
  dir: string,
  external: Record<string, Record<string, string>> = {},
): Record<string, string> {
  const mounts = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    if (!volume?.secret && !volume?.configMap) continue;
    const local = join(dir, mount.name);
    mkdirSync(local, { recursive: true });
    let data: Record<string, string>;
    if (volume.secret) {
      const secret = rendered.find<Secret>('Secret', volume.secret.secretName);
      data = secret ? Object.fromEntries(Object.keys({ ...secret.data, ...secret.stringData }).map((k) => [k, secretValue(secret, k)!])) : (external[volume.secret.secretName] ?? {});
      if (!secret && !external[volume.secret.secretName]) throw new Error(`${container.name}: Secret ${volume.secret.secretName} is not rendered, not given`);
      for (const { key, path } of volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
        if (data[key] === undefined) throw new Error(`${container.name}: Secret ${volume.secret.secretName} has no key ${key}`);
        writeFileSync(join(local, path), data[key]);
      }
    } else {
      for (const [file, text] of Object.entries(rendered.get<ConfigMap>('ConfigMap', volume.configMap!.name).data ?? {})) writeFileSync(join(local, file), text);
    }
    mounts.set(mount.mountPath, local);
  }
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => {
      const mount = [...mounts.keys()].find((m) => value.startsWith(`${m}/`));
      return [name, mount ? mounts.get(mount)! + value.slice(mount.length) : value];
    }),
  );
}
