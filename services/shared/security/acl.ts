import { createHash } from 'node:crypto';
import {
  attemptsKey,
  deadLetterStream,
  guestAgentIdPrefix,
  hostKeys,
  inboxKeysPattern,
  janitorLockKey,
  onceKey,
  registryKeys,
  streams,
  timersKey,
  writeProbeKey,
} from '../streams/keys.ts';

// The Redis ACL users of the system: one per role, except guest agents, which get one per persona
// group (each reaches only the inboxes and registrations of its own group's agents), one for the
// metrics exporter, one for people. This is the one definition. `npm start`'s private
// redis-server gets an aclfile rendered from it (services/launcher/local-stack.ts), and the chart's
// Redis the same rules from charts/event-planner/files/redis-acl.conf, which `npm run acl` writes
// from here (the guest line as a template the chart fills in per group) and
// test/security/acl-chart.test.ts compares with this module.
//
// Every user starts from nothing (`resetkeys resetchannels -@all`), then gets the commands it sends
// and the key patterns it touches, derived from keys.ts and the Lua scripts (a script's commands
// are checked against the caller's ACL like any other, so they count too). `%R~` grants reads only,
// `~` reads and writes. Consumer-group reads (XREADGROUP, XACK, XCLAIM) write the group's state, so
// a consumed stream is `~`. test/security/acl.test.ts runs each role's real flow under its user
// with nothing refused, and shows that each forbidden operation is.

/** The users, by the name a process sets in REDIS_USERNAME. */
export const aclRoles = ['host', 'coordinator', 'guest', 'metrics', 'admin'] as const;
export type AclRole = (typeof aclRoles)[number];

export interface AclUser {
  role: AclRole;
  /**
   * The user's password key: the role, or `guest-<group>` for a persona group's guest agents. The
   * chart's Secret holds `<key>-password`; renderAclFile takes passwords by this key.
   */
  key: string;
  /** Redis user name (the key, prefixed so it never collides with users of a shared Redis). */
  username: string;
  /** What the user is for, rendered as a comment above its line. */
  purpose: string;
  /** `+command`, `+command|subcommand` and `+@category` grants, after `-@all`. */
  commands: readonly string[];
  /** Key patterns the user may read and write. */
  keys: readonly string[];
  /** Key patterns the user may only read. */
  readKeys: readonly string[];
  /**
   * Streams the user may XADD to: a selector of its own `(+xadd ~stream ...)`, so that consuming a
   * stream (XACK, XCLAIM: writes) never implies appending to it.
   */
  appends: readonly string[];
}

/** `a:{*}b` -> a glob; Redis' glob treats `{` and `}` literally, so the patterns are the key names. */
const glob = (key: string) => key.replace(/<[^>]+>/g, '*');

/** What every application process sends: connection set-up (ioredis' ready check is INFO), health, scripts. */
const connection = ['+ping', '+echo', '+hello', '+auth', '+select', '+quit', '+client|setname', '+client|getname', '+client|id', '+info', '+time'];
const scripting = ['+evalsha', '+eval', '+script|load', '+script|exists'];
/** The write probe: SET with PX on its own key (write-probe.ts). */
const probe = ['+set', '+get', '+pexpire', '+del'];
/**
 * A consumer group member's stream commands (stream-reader.ts, settler.ts, reclaimer.ts, dead-letters.ts);
 * WAIT before an acknowledgement with STREAM_ACK_WAIT_REPLICAS (replica-wait.ts; it names no key).
 */
const consumer = ['+xreadgroup', '+xack', '+wait', '+xgroup|create', '+xgroup|createconsumer', '+xgroup|delconsumer', '+xclaim', '+xautoclaim', '+xpending', '+xinfo|groups', '+xinfo|consumers', '+xinfo|stream', '+xlen', '+xrange', '+multi', '+exec', '+discard'];
/** The per-entry attempts hash of a consumed stream (suspect-lane.ts). */
const attempts = ['+hincrby', '+hdel', '+hget', '+exists'];
/** A large add under a once-key: WATCH the marker, then MULTI SET + XADD EXEC (producer.ts, addWatched; MULTI and EXEC are the consumer's too). */
const watchedAdds = ['+watch', '+unwatch'];
/** What every application process needs whatever it does: connection, scripts, probe, consumer groups. */
const everyRole = [...connection, ...scripting, ...probe, ...consumer, ...attempts, ...watchedAdds];

/** A consumed stream with the keys kept beside it: dead letters, attempts, once-markers. */
const consumed = (stream: string) => [stream, deadLetterStream(stream), attemptsKey(stream), onceKey(stream, '*')];
/** A produced stream's once-markers (xadd-once.lua); the stream itself is in `appends`. */
const producedOnce = (stream: string) => [onceKey(stream, '*')];

const probeKey = glob(writeProbeKey('<consumer>'));

/**
 * The deployment's persona groups and how its agent ids are formed: an agent of group G has an id
 * starting with `<agentIdScope>guest-<G>-` (keys.ts' guestAgentIdPrefix). In Kubernetes the id is
 * the pod name, `<release fullname>-guest-<G>-<hash>-<hash>`, so the scope is `<fullname>-`;
 * `npm start`'s agent gets `guest-<G>-<host>-<pid>` and the scope is empty.
 */
export interface AclSetup {
  guestGroups: readonly string[];
  agentIdScope?: string;
}

/** PERSONA_GROUP's own rule (services/guest/config.ts): these characters are safe in a key glob. */
const groupPattern = /^[A-Za-z0-9_-]{1,40}$/;
/** Characters of an agent id prefix that a Redis glob takes literally. */
const scopePattern = /^[A-Za-z0-9._:@-]*$/;

/**
 * The agent id prefix of a group's guest user, checked: the prefix ends the glob's literal part, so
 * a group whose prefix begins another's (`a` and `a-b`: `guest-a-` is a prefix of `guest-a-b-`)
 * would reach that group's inboxes, and is refused.
 */
export function guestScopes(setup: AclSetup): { group: string; agentIdPrefix: string }[] {
  const scope = setup.agentIdScope ?? '';
  if (!scopePattern.test(scope)) throw new Error(`agent id scope ${JSON.stringify(scope)}: only letters, digits and . _ : @ -`);
  const scopes = [...new Set(setup.guestGroups)].map((group) => {
    if (!groupPattern.test(group)) throw new Error(`persona group ${JSON.stringify(group)}: 1-40 letters, digits, _ or -`);
    return { group, agentIdPrefix: guestAgentIdPrefix(group, scope) };
  });
  for (const a of scopes) {
    const b = scopes.find((other) => other !== a && other.agentIdPrefix.startsWith(a.agentIdPrefix));
    if (b) throw new Error(`persona groups ${a.group} and ${b.group}: the agent ids of ${b.group} start with ${a.agentIdPrefix}, so ${a.group}'s user would reach them; rename one`);
  }
  return scopes;
}

/**
 * A persona group's guest agents: their own inboxes (and their dead letters, once-markers,
 * attempts), their own registration hashes, replies. `agentIdPrefix` is literal text in the globs.
 */
export function guestAclUser(group: string, agentIdPrefix: string): AclUser {
  const agent = `${agentIdPrefix}<agentId>`;
  return {
    role: 'guest',
    key: `guest-${group}`,
    username: `event-planner-guest-${group}`,
    purpose: `guest agents of the persona group ${group}: read their own inboxes, write replies and their registration; never invitations, summaries or another group's inboxes`,
    // hlen, rename: registry-swap.lua checks a staged registration and renames it onto the agent's guests.
    commands: [...everyRole, '+zadd', '+zrem', '+hset', '+hgetall', '+hmget', '+hlen', '+expire', '+unlink', '+rename'],
    keys: [
      // guest_inbox:{<prefix>*}* : the inbox, its priority lane, their dead letters, once-markers and attempts.
      `${streams.inbox(agent)}<rest>`,
      ...producedOnce(streams.responses),
      ...producedOnce(streams.responsesHigh),
      // The index of agents is one sorted set for every group; see docs/SECURITY.md.
      registryKeys.agents,
      registryKeys.agentGuests(agent),
      registryKeys.agentGuestsStage(agent, '<token>'),
      registryKeys.agentInfo(agent),
      registryKeys.epoch,
      probeKey,
    ].map(glob),
    readKeys: [],
    appends: [streams.responses, streams.responsesHigh, deadLetterStream(streams.inbox(agent)), deadLetterStream(streams.inboxHigh(agent))].map(glob),
  };
}

/** The placeholders of the guest line in the chart's rules file, which the chart fills in per group. */
export const chartPlaceholders = { group: '@GROUP@', agentIdPrefix: '@AGENT_ID_PREFIX@' } as const;

const fixedUsers: readonly AclUser[] = [
  {
    role: 'coordinator',
    key: 'coordinator',
    username: 'event-planner-coordinator',
    purpose: 'coordinators: consume invitations and replies, deliver to inboxes, keep event state, publish summaries and activity',
    commands: [
      ...everyRole,
      '+xtrim', '+xdel', '+xrevrange', '+xinfo|help',
      '+hset', '+hsetnx', '+hgetall', '+hmget', '+hkeys', '+hlen', '+hexists', '+hscan',
      '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zscore', '+zmscore', '+zrank', '+zcard', '+zremrangebyscore',
      '+sadd', '+sismember',
      // rename: a large version's staged guests become `invited` (apply-revision.lua, fan-out.ts).
      '+expire', '+unlink', '+rename', '+scan', '+type', '+pttl', '+ttl',
    ],
    keys: [
      ...consumed(streams.invitations),
      ...consumed(streams.invitationsHigh),
      ...consumed(streams.responses),
      ...consumed(streams.responsesHigh),
      ...producedOnce(streams.summaries),
      ...producedOnce(streams.activity),
      // The janitor trims every stream, these two dead-letter streams (written by hosts) included.
      deadLetterStream(streams.summaries),
      deadLetterStream(streams.activity),
      glob(inboxKeysPattern),
      glob('event:{<eventId>}*'),
      timersKey,
      janitorLockKey,
      registryKeys.agents,
      registryKeys.epoch,
      // Targeting reads who each agent hosts; the janitor deletes the registration of an agent silent for AGENT_GC_MS.
      glob(registryKeys.agentGuests('<agentId>')),
      glob(registryKeys.agentInfo('<agentId>')),
      probeKey,
    ].map(glob),
    readKeys: [],
    appends: [
      streams.summaries,
      streams.activity,
      glob(streams.inbox('<agentId>')),
      glob(streams.inboxHigh('<agentId>')),
      ...[streams.invitations, streams.invitationsHigh, streams.responses, streams.responsesHigh].map(deadLetterStream),
    ],
  },
  {
    role: 'host',
    key: 'host',
    username: 'event-planner-host',
    purpose: 'hosts: publish invitations, keep their events, read summaries and activity; read-only statistics of every stream',
    commands: [
      ...everyRole,
      '+xread', '+xrevrange', '+xtrim',
      '+hset', '+hsetnx', '+hgetall', '+hmget', '+hkeys', '+hlen', '+hscan',
      '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zscore', '+zcard', '+zremrangebyscore',
      // pttl: the read model refreshes its keys' expiry only when it has run down (apply-changes.lua).
      '+expire', '+unlink', '+scan', '+type', '+pttl',
    ],
    keys: [
      ...producedOnce(streams.invitations),
      ...producedOnce(streams.invitationsHigh),
      ...consumed(streams.summaries),
      ...consumed(streams.activity),
      glob(hostKeys.event('<eventId>').definition) + '*',
      glob(hostKeys.events('<hostId>')),
      glob(hostKeys.outboxIndex('<hostId>')),
      'host:{*}:seen:*',
      probeKey,
    ].map(glob),
    // The API's stream statistics and guest list read every stream and the registry.
    readKeys: [streams.responses, streams.responsesHigh, glob(inboxKeysPattern), '*dead_letters*', 'registry:*'],
    appends: [streams.invitations, streams.invitationsHigh, glob(hostKeys.event('<eventId>').feed), deadLetterStream(streams.summaries), deadLetterStream(streams.activity)],
  },
  {
    role: 'metrics',
    key: 'metrics',
    username: 'event-planner-metrics',
    purpose: 'redis_exporter and the Redis pod\'s probes: server statistics, no keys',
    commands: ['+ping', '+hello', '+auth', '+select', '+quit', '+client|setname', '+client|list', '+info', '+slowlog|get', '+slowlog|len', '+latency|latest', '+config|get', '+cluster|info', '+memory|stats'],
    keys: [],
    readKeys: [],
    appends: [],
  },
  {
    role: 'admin',
    key: 'admin',
    username: 'event-planner-admin',
    purpose: 'operators (redis-cli --user event-planner-admin), never an application process',
    commands: ['+@all'],
    keys: ['*'],
    readKeys: [],
    appends: [],
  },
];

/** Every user of a deployment: one guest user per persona group, then the fixed ones. */
export function aclUsers(setup: AclSetup): AclUser[] {
  return [...guestScopes(setup).map((s) => guestAclUser(s.group, s.agentIdPrefix)), ...fixedUsers];
}

/** A user that does not depend on the persona groups. */
export function aclUser(role: Exclude<AclRole, 'guest'>): AclUser {
  return fixedUsers.find((u) => u.role === role)!;
}

/** The password keys of a deployment's users (AclUser.key), guest groups first. */
export function aclUserKeys(setup: AclSetup): string[] {
  return aclUsers(setup).map((u) => u.key);
}

/** The rules of a user after its name and password, as ACL SETUSER and an aclfile take them. */
export function aclRules(user: AclUser): string[] {
  return [
    'resetkeys',
    'resetchannels',
    '-@all',
    ...user.commands,
    // The appended streams are among the root's keys too: EVALSHA checks its declared keys against
    // the root (which may run scripts), and a script's own XADD against the selector below.
    ...[...new Set([...user.keys, ...user.appends])].map((k) => `~${k}`),
    ...[...new Set(user.readKeys)].map((k) => `%R~${k}`),
    ...(user.appends.length > 0 ? [`(+xadd ${[...new Set(user.appends)].map((k) => `~${k}`).join(' ')})`] : []),
    // Pub/Sub is used by no role; only people may use it (e.g. MONITOR-like debugging).
    ...(user.role === 'admin' ? ['allchannels'] : []),
  ];
}

/** A password as an aclfile stores it: `#<sha256>`, so the file never holds the password itself. */
export function passwordHash(password: string): string {
  return `#${createHash('sha256').update(password).digest('hex')}`;
}

/**
 * The default user: off and without a password, so nobody connects as it (a connection without a
 * user gets NOAUTH), yet allowed every command and key. Why allowed: Redis replays its AOF at start
 * as the default user and, before 8.x, re-checks that user's ACL at every EXEC (redis/redis#14541,
 * fixed by redis/redis#14545); refused, every transaction and every script's effects in the AOF
 * were dropped, silently: a restart lost the events' state (found on the kind cluster). A user that
 * is off cannot be authenticated as, so these permissions serve only that replay.
 */
export const defaultUserLine = 'user default off resetpass resetkeys resetchannels allkeys allchannels +@all';

/**
 * An aclfile for the given passwords: the default user (above), then one line per role that has a
 * password (a role without one is left out: it cannot log in).
 */
export function renderAclFile(passwords: Readonly<Record<string, string>>, setup: AclSetup): string {
  const lines = [defaultUserLine];
  for (const user of aclUsers(setup)) {
    const password = passwords[user.key];
    if (password === undefined) continue;
    lines.push(['user', user.username, 'on', 'resetpass', passwordHash(password), ...aclRules(user)].join(' '));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The chart's copy of the rules: one `<key> <username> <rules>` line per user, with comments. The
 * Redis pod's start script prefixes each with `user <name> on #<sha256 of <key>-password from the
 * Secret>`. Without a setup, the file `npm run acl` writes (charts/event-planner/files/redis-acl.conf):
 * one guest line with the placeholders of chartPlaceholders, which the chart's ConfigMap repeats
 * for each persona group of its values. With a setup, what that ConfigMap renders for it.
 */
export function renderChartRules(setup?: AclSetup): string {
  const lines = [
    '# Written by `npm run acl` from services/shared/security/acl.ts; do not edit (a test compares them).',
    '# <key> <username> <rules>: the Redis pod prefixes each with its password hash from the Secret (<key>-password).',
  ];
  const users = setup ? aclUsers(setup) : [guestAclUser(chartPlaceholders.group, chartPlaceholders.agentIdPrefix), ...fixedUsers];
  for (const user of users) {
    lines.push(`# ${user.purpose}`);
    lines.push([user.key, user.username, ...aclRules(user)].join(' '));
  }
  return `${lines.join('\n')}\n`;
}
