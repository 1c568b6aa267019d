import { createHash } from 'node:crypto';
import {
  attemptsKey,
  deadLetterStream,
  hostKeys,
  inboxKeysPattern,
  janitorLockKey,
  onceKey,
  registryKeys,
  streams,
  timersKey,
  writeProbeKey,
} from '../streams/keys.ts';

// The Redis ACL users of the system: one per role, one for the metrics exporter, one for people.
// This is the one definition. `npm start`'s private redis-server gets an aclfile rendered from it
// (services/launcher/local-stack.ts), and the chart's Redis the same rules from
// charts/event-planner/files/redis-acl.conf, which `npm run acl` writes from here and
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
  /** Redis user name (the role's name, prefixed so it never collides with users of a shared Redis). */
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
/** A consumer group member's stream commands (stream-reader.ts, settler.ts, reclaimer.ts, dead-letters.ts). */
const consumer = ['+xreadgroup', '+xack', '+xgroup|create', '+xgroup|createconsumer', '+xgroup|delconsumer', '+xclaim', '+xautoclaim', '+xpending', '+xinfo|groups', '+xinfo|consumers', '+xinfo|stream', '+xlen', '+xrange', '+multi', '+exec', '+discard'];
/** The per-entry attempts hash of a consumed stream (suspect-lane.ts). */
const attempts = ['+hincrby', '+hdel', '+hget', '+exists'];
/** What every application process needs whatever it does: connection, scripts, probe, consumer groups. */
const everyRole = [...connection, ...scripting, ...probe, ...consumer, ...attempts];

/** A consumed stream with the keys kept beside it: dead letters, attempts, once-markers. */
const consumed = (stream: string) => [stream, deadLetterStream(stream), attemptsKey(stream), onceKey(stream, '*')];
/** A produced stream's once-markers (xadd-once.lua); the stream itself is in `appends`. */
const producedOnce = (stream: string) => [onceKey(stream, '*')];

const probeKey = glob(writeProbeKey('<consumer>'));

export const aclUsers: readonly AclUser[] = [
  {
    role: 'guest',
    username: 'event-planner-guest',
    purpose: 'guest agents: read their inbox, write replies and their registration; never invitations or summaries',
    commands: [...everyRole, '+zadd', '+zrem', '+hset', '+hgetall', '+hmget', '+expire', '+unlink'],
    keys: [
      glob(inboxKeysPattern),
      ...producedOnce(streams.responses),
      ...producedOnce(streams.responsesHigh),
      registryKeys.agents,
      glob(registryKeys.agentGuests('<agentId>')),
      glob(registryKeys.agentInfo('<agentId>')),
      registryKeys.epoch,
      probeKey,
    ].map(glob),
    readKeys: [],
    appends: [streams.responses, streams.responsesHigh, glob(deadLetterStream(streams.inbox('<agentId>'))), glob(deadLetterStream(streams.inboxHigh('<agentId>')))],
  },
  {
    role: 'coordinator',
    username: 'event-planner-coordinator',
    purpose: 'coordinators: consume invitations and replies, deliver to inboxes, keep event state, publish summaries and activity',
    commands: [
      ...everyRole,
      '+xtrim', '+xdel', '+xrevrange', '+xinfo|help',
      '+hset', '+hsetnx', '+hgetall', '+hmget', '+hkeys', '+hlen', '+hexists',
      '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zscore', '+zrank', '+zcard', '+zremrangebyscore',
      '+sadd', '+sismember',
      '+expire', '+unlink', '+scan', '+type', '+pttl', '+ttl',
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
    username: 'event-planner-host',
    purpose: 'hosts: publish invitations, keep their events, read summaries and activity; read-only statistics of every stream',
    commands: [
      ...everyRole,
      '+xread', '+xrevrange', '+xtrim',
      '+hset', '+hsetnx', '+hgetall', '+hmget', '+hkeys', '+hlen',
      '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zscore', '+zcard', '+zremrangebyscore',
      '+expire', '+unlink', '+scan', '+type',
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
    username: 'event-planner-metrics',
    purpose: 'redis_exporter and the Redis pod\'s probes: server statistics, no keys',
    commands: ['+ping', '+hello', '+auth', '+select', '+quit', '+client|setname', '+client|list', '+info', '+slowlog|get', '+slowlog|len', '+latency|latest', '+config|get', '+cluster|info', '+memory|stats'],
    keys: [],
    readKeys: [],
    appends: [],
  },
  {
    role: 'admin',
    username: 'event-planner-admin',
    purpose: 'operators (redis-cli --user event-planner-admin), never an application process',
    commands: ['+@all'],
    keys: ['*'],
    readKeys: [],
    appends: [],
  },
];

export function aclUser(role: AclRole): AclUser {
  return aclUsers.find((u) => u.role === role)!;
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
 * An aclfile for the given passwords: the default user off (nobody connects without a user), then
 * one line per role that has a password (a role without one is left out: it cannot log in).
 */
export function renderAclFile(passwords: Partial<Record<AclRole, string>>): string {
  const lines = ['user default off resetpass resetkeys resetchannels -@all'];
  for (const user of aclUsers) {
    const password = passwords[user.role];
    if (password === undefined) continue;
    lines.push(['user', user.username, 'on', 'resetpass', passwordHash(password), ...aclRules(user)].join(' '));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The chart's copy of the rules (charts/event-planner/files/redis-acl.conf): one `<role> <rules>`
 * line per user, with comments. The Redis pod's start script prefixes each with `user <name> on
 * #<sha256 of the role's password from the Secret>`.
 */
export function renderChartRules(): string {
  const lines = [
    '# Written by `npm run acl` from services/shared/security/acl.ts; do not edit (a test compares them).',
    '# <role> <username> <rules>: the Redis pod prefixes each with its password hash from the Secret.',
  ];
  for (const user of aclUsers) {
    lines.push(`# ${user.purpose}`);
    lines.push([user.role, user.username, ...aclRules(user)].join(' '));
  }
  return `${lines.join('\n')}\n`;
}
