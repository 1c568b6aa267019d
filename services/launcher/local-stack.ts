import { join } from 'node:path';
import { type LauncherConfig, readLauncherConfig } from './launcher-config.ts';
import { type Member, ProcessGroup } from './process-group.ts';
import { RedisServerProcess, redisInstallHint, redisServerAvailable } from './redis-server.ts';

export interface LocalStack {
  config: LauncherConfig;
  group: ProcessGroup;
  redisUrl: string;
  redis?: RedisServerProcess;
  stop(): Promise<void>;
}

/**
 * What `npm start` and `npm run demo` share: check the settings, use the configured Redis
 * (REDIS_URL or REDIS_HOST) or start a private redis-server with AOF persistence in .data/redis,
 * then the coordinator and one guest agent hosting the original's five guests. The host is started
 * by the caller.
 */
export async function startLocalStack(opts: { title: string; guestEnv?: Record<string, string> }): Promise<LocalStack> {
  const config = readLauncherConfig();
  const group = new ProcessGroup();
  let redis: RedisServerProcess | undefined;
  let redisUrl = config.redisUrl;
  group.say('launcher', opts.title);
  if (!redisUrl) {
    if (!redisServerAvailable()) {
      process.stderr.write(`${redisInstallHint}\n`);
      process.exit(1);
    }
    const dir = join(config.dataDir, 'redis');
    redis = await new RedisServerProcess({ dir, appendfsync: config.appendfsync }).start();
    redisUrl = redis.url;
    group.say('redis', `private redis-server on port ${redis.port} (AOF, appendfsync ${config.appendfsync}, data in ${dir})`);
  } else {
    group.say('redis', `using ${redisUrl.replace(/\/\/.*@/, '//***@')}`);
  }
  const env = { REDIS_URL: redisUrl };
  group.startRole('coordinator', 'coordinator', { ...env, PORT: String(config.ports.coordinator) });
  group.startRole('guests', 'guest', { GUESTS_PER_AGENT: '5', PERSONAS: 'original', ...env, PORT: String(config.ports.guest), ...opts.guestEnv });
  return {
    config,
    group,
    redisUrl,
    redis,
    stop: async () => {
      await group.stopAll();
      await redis?.stop();
    },
  };
}

/** A role that ended while the others were starting: its exit code (2: a setting is wrong). */
export class MemberExited extends Error {
  readonly code: number;
  constructor(label: string, code: number) {
    super(`${label} exited with code ${code} while starting${code === 2 ? ' (a setting is wrong: see its message above)' : ''}`);
    this.code = code;
  }
}

/** Resolves once each member answers /readyz on its port; rejects when one of them exits first. */
export async function waitUntilReady(members: { member: Member; port: number }[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const { member, port } of members) {
    for (;;) {
      if (member.child.exitCode !== null || member.child.signalCode !== null) throw new MemberExited(member.label, await member.exited);
      try {
        // Bounded: whatever else holds the port may accept and never answer.
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${member.label} on port ${port} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
