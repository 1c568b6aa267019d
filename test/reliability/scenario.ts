import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';
import type { RoleProcess } from '../helpers/processes.ts';
import { flat, originalInvitation } from '../helpers/streams.ts';
import { eventually } from '../helpers/wait.ts';
import type { ProcessStatus } from './invariants.ts';
import { readStream } from './invariants.ts';

/** Adds an invitation the way the original host does (plain XADD); returns its id. */
export async function invite(redis: Redis, overrides: Record<string, string> = {}): Promise<string> {
  const id = overrides.id ?? randomUUID();
  await redis.xadd(streams.invitations, '*', ...flat(originalInvitation({ ...overrides, id })));
  return id;
}

/** Waits until every one of `events` has a summary on event_summaries. */
export async function waitForSummaries(redis: Redis, events: string[], timeoutMs: number): Promise<void> {
  const want = new Set(events);
  await eventually(
    async () => {
      const seen = new Set((await readStream(redis, streams.summaries)).map((s) => s.fields.invitation_id));
      const missing = [...want].filter((id) => !seen.has(id));
      if (missing.length > 0) throw new Error(`${missing.length} without a summary, e.g. ${missing[0]}`);
      return true;
    },
    timeoutMs,
    `summaries of ${events.length} events`,
  );
}

/** Waits until no group (coordinators, hosts, agents) of the main streams and the inboxes has anything pending. */
export async function waitForNothingPending(redis: Redis, agentIds: string[], timeoutMs: number): Promise<void> {
  const targets = [streams.invitations, streams.responses, streams.summaries, ...agentIds.map((a) => streams.inbox(a))];
  await eventually(
    async () => {
      for (const stream of targets) {
        const info = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(infoObject);
        const busy = info.find((g) => Number(g.pending) > 0);
        if (busy) throw new Error(`${stream}/${String(busy.name)}: ${String(busy.pending)} pending`);
      }
      return true;
    },
    timeoutMs,
    'nothing pending',
  );
}

/**
 * How each process ended up. `killed` holds the processes the test killed on purpose; a process
 * that SIGKILLed itself at a STREAM_TEST_CRASH point says so on stderr and counts as on purpose too.
 */
export function processStatuses(all: RoleProcess[], killed: Set<RoleProcess>): ProcessStatus[] {
  return all.map((p, i) => {
    const label = `${p.role}#${i} (pid ${p.pid})`;
    if (p.running) return { label, expected: true, detail: 'running' };
    const hook = p.stderr.some((line) => line.startsWith('STREAM_TEST_CRASH: SIGKILL'));
    const { exitCode, signalCode } = p.child;
    const expected = killed.has(p) || (hook && signalCode === 'SIGKILL');
    return { label, expected, detail: `exited (code ${exitCode}, signal ${signalCode}); last stderr: ${p.stderr.slice(-3).join(' | ')}` };
  });
}

/** Lines logged at error level or above (pino: 50 error, 60 fatal). */
export function errorLines(p: RoleProcess): string[] {
  return p.logs.filter((l) => l.level >= 50).map((l) => l.msg);
}
