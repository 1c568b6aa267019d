import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { SigningKey, mintToken } from '../../services/host/auth/tokens.ts';
import { Rendered, type Secret, type Workload, appComponents, componentOf, secretValue } from './chart-render.ts';
import { type ImageRoot, assembleRuntimeImage } from './image-root.ts';
import { LocalCluster } from './local-cluster.ts';
import { LocalPrometheus } from './local-prometheus.ts';
import { findTool } from './tools.ts';

/** The tools a whole local stack needs (tests pass them to needTools). */
export const localStackTools = ['helm', 'redis-server', 'redis-cli', 'redis_exporter', 'prometheus'] as const;

/** The rendered chart running here: Redis with its exporter, every app Deployment, and Prometheus scraping them. */
export interface LocalStack {
  rendered: Rendered;
  cluster: LocalCluster;
  prometheus: LocalPrometheus;
  /** A client of the chart's Redis, with its password. */
  redis: Redis;
  /** `http://<release>-host:<port>` as reachable here. */
  hostUrl: string;
  /** An admin token's Authorization header, signed with the key of the chart's Secret (the host's API needs one). */
  apiAuth: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Renders the chart with `valuesFiles` (test/k8s/values/), assembles the runtime image, and runs the
 * Redis StatefulSet, every host, coordinator and guest Deployment at its replicas, and the chart's
 * Prometheus as local processes (see LocalCluster, LocalPrometheus).
 */
export async function startLocalStack(valuesFiles: string[], release = 'event-planner'): Promise<LocalStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-cluster-'));
  const rendered = Rendered.render(findTool('helm')!, { release, valuesFiles });
  const image: ImageRoot = assembleRuntimeImage();
  const cluster = new LocalCluster(rendered, image, dir);
  let prometheus: LocalPrometheus | undefined;
  let redis: Redis | undefined;
  const stop = async () => {
    redis?.disconnect();
    await prometheus?.stop();
    await cluster.stopAll();
    image.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const redisPod = await cluster.startStatefulSet(`${release}-redis`);
    const url = cluster.resolveUrl(redisPod.env.REDIS_URL ?? `redis://${release}-redis:6379/0`);
    // The tests look at Redis as an operator would: the admin ACL user, with its password from the chart's Secret.
    const admin = secretValue(rendered.get<Secret>('Secret', `${release}-redis`), 'admin-password');
    redis = new Redis(url, { username: 'event-planner-admin', password: admin, lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on('error', () => undefined); // reported by the commands that fail
    await redis.connect();
    for (const w of rendered.ofKind<Workload>('Deployment').filter((d) => appComponents.includes(componentOf(d)))) {
      await cluster.scale(w.metadata.name, w.spec.replicas ?? 1);
    }
    prometheus = await LocalPrometheus.start(findTool('prometheus')!, rendered, cluster, join(dir, 'prometheus'));
    const key = cluster.podsOf(`${release}-host`)[0]?.env.API_JWT_SECRET;
    const apiAuth: Record<string, string> = key ? { authorization: `Bearer ${await mintToken(new SigningKey(key), { role: 'admin', sub: 'local-cluster-test', ttlSeconds: 6 * 3_600 })}` } : {};
    return { rendered, cluster, prometheus, redis, hostUrl: cluster.resolveUrl(`http://${release}-host:8080`), apiAuth, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
