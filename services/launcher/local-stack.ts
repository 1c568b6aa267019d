import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type AclSetup, aclUser, aclUserKeys, guestAclUser, renderAclFile } from '../shared/security/acl.ts';
import { guestAgentIdPrefix } from '../shared/streams/keys.ts';
import { type LauncherConfig, readLauncherConfig } from './launcher-config.ts';
import { type Member, ProcessGroup } from './process-group.ts';
import { RedisServerProcess, redisInstallHint, redisServerAvailable } from './redis-server.ts';

export interface LocalStack {
  config: LauncherConfig;
  group: ProcessGroup;
  redisUrl: string;
  redis?: RedisServerProcess;
  /** What a role's process needs to reach Redis: the URL and, with the private redis-server, its ACL user. */
  roleEnv(role: 'host' | 'coordinator' | 'guest'): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * What `npm start` and `npm run demo` share: check the settings, use the configured Redis
 * (REDIS_URL or REDIS_HOST) or start a private redis-server with AOF persistence in .data/redis,
 * whose default user is off and where each role logs in as its own ACL user (acl.ts) with a
 * password made for this run, then the coordinator and one guest agent hosting the original's five guests. The host is started
 * by the caller.
 */
export async function startLocalStack(opts: { title: string; guestEnv?: Record<string, string> }): Promise<LocalStack> {
  const config = readLauncherConfig();
  const group = new ProcessGroup();
  let redis: RedisServerProcess | undefined;
  let redisUrl = config.redisUrl;
  let passwords: Record<string, string> | undefined;
  // The one guest agent's persona group: its Redis user reaches only this group's inboxes.
  const guestGroup = 'original';
  const aclSetup: AclSetup = { guestGroups: [guestGroup] };
  group.say('launcher', opts.title);
  if (!redisUrl) {
    if (!redisServerAvailable()) {
      process.stderr.write(`${redisInstallHint}\n`);
      process.exit(1);
    }
    const dir = join(config.dataDir, 'redis');
    // New passwords at every start: the aclfile is written again each time, and only the processes
    // started here learn them. Operators use `redis-cli --user event-planner-admin` with the
    // password the launcher prints nowhere; restart to reset.
    passwords = Object.fromEntries(aclUserKeys(aclSetup).map((key) => [key, randomBytes(24).toString('base64url')]));
    redis = await new RedisServerProcess({
      dir,
      appendfsync: config.appendfsync,
      aclFile: renderAclFile(passwords, aclSetup),
      username: aclUser('admin').username,
      password: passwords.admin,
    }).start();
    redisUrl = `redis://127.0.0.1:${redis.port}`;
    group.say('redis', `private redis-server on port ${redis.port} (AOF, appendfsync ${config.appendfsync}, data in ${dir}; one ACL user per role)`);
  } else {
    group.say('redis', `using ${redisUrl.replace(/\/\/.*@/, '//***@')}`);
  }
  const url = redisUrl;
  const roleEnv = (role: 'host' | 'coordinator' | 'guest'): Record<string, string> => {
    if (passwords === undefined) return { REDIS_URL: url };
    const user = role === 'guest' ? guestAclUser(guestGroup, guestAgentIdPrefix(guestGroup)) : aclUser(role);
    return { REDIS_URL: url, REDIS_USERNAME: user.username, REDIS_PASSWORD: passwords[user.key]!, REDIS_PASSWORD_FILE: '' };
  };
  group.startRole('coordinator', 'coordinator', { ...roleEnv('coordinator'), PORT: String(config.ports.coordinator) });
  // PERSONA_GROUP set, not derived: the agent's default id (guest-<group>-...) must match its user's.
  group.startRole('guests', 'guest', { GUESTS_PER_AGENT: '5', PERSONAS: 'original', ...roleEnv('guest'), PERSONA_GROUP: guestGroup, PORT: String(config.ports.guest), ...opts.guestEnv });
  return {
    config,
    group,
    redisUrl,
    redis,
    roleEnv,
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
