// The priority lane scenario (issue 9, item 6): a backlog of normal invitations waits in
// `event_invitations`, then one `priority: high` invitation is published. The high lane has
// consumers of its own at every hop (coordinator input, agents' inboxes, replies), so the urgent
// event should be summarized in about the time of an event on an idle system, while the backlog
// takes as long as it takes. Time to summary = summary entry id - invitation entry id (both the
// Redis clock), for the urgent event and for every event of the backlog.
import type { Redis } from 'ioredis';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
import { type Invitation, invitationFields } from '../../services/shared/schema/invitation.ts';
import { lanes, streams } from '../../services/shared/streams/keys.ts';
import { entryIdTime } from '../../services/shared/util/time.ts';
import { type SlowEntry, resetSlowlog, slowlog } from './redis-info.ts';
import { type RunContext, fmt, round, startStack } from './scenarios.ts';

export interface PriorityResult {
  backlog: number;
  guestsPerEvent: number;
  /** The urgent event: invitation entry -> summary entry, ms. */
  urgentToSummaryMs: number;
  /** Normal events summarized before the urgent one. */
  backlogDoneBeforeUrgent: number;
  /** The backlog's time to summary (from each invitation entry), ms. */
  backlogToSummaryMs: { p50: number; p99: number; max: number };
  /** Every summary present once (correctness of the run). */
  summaries: number;
  /** The urgent event's path: ms after its invitation entry at which each step happened. */
  urgentPath: Record<string, number>;
  /** Commands over 10 ms during the scenario. */
  slowlog: SlowEntry[];
}

function invitation(id: string, priority: 'normal' | 'high'): Invitation {
  return {
    ...defaultEventOptions,
    id,
    eventName: priority === 'high' ? 'Urgent' : 'Backlog',
    eventDate: '2030-01-01',
    eventTime: '18:00',
    location: 'Bench hall',
    description: 'priority lane',
    hostName: 'bench',
    hostId: 'bench-host',
    timestamp: new Date().toISOString(),
    method: 'REQUEST',
    revision: 1,
    sequence: 0,
    legacy: false,
    rsvpDeadline: Date.now() + 3_600_000,
    priority,
  };
}

export async function priorityScenario(ctx: RunContext): Promise<PriorityResult> {
  const backlog = ctx.opts.priorityBacklog;
  const guests = 10;
  ctx.progress.begin(`priority lane: ${fmt(backlog)} normal invitations of ${guests} guests, then one high-priority`, backlog / 400 + 10);
  // Registrations live for the whole run: on a saturated machine a late heartbeat made the agent
  // count as gone, and events of the backlog were summarized with nobody invited.
  const { stack, driver } = await startStack(ctx, { agents: 1, eventGuests: guests, coordinators: 1, coordinatorEnv: { GUEST_TTL_MS: '600000' } }, 'priority');
  const prefix = `${ctx.runId}-prio`;
  try {
    const client = stack.client;
    await resetSlowlog(client, 10_000);
    // Publication times from the XADD replies: reading the backlog back would itself hold Redis.
    const published = new Map<string, number>();
    for (let start = 0; start < backlog; start += 1_000) {
      const p = client.pipeline();
      const ids: string[] = [];
      for (let i = start; i < Math.min(backlog, start + 1_000); i += 1) {
        ids.push(`${prefix}-${i}`);
        p.xadd(lanes.invitations('normal'), '*', ...invitationFields(invitation(`${prefix}-${i}`, 'normal')));
      }
      ((await p.exec()) ?? []).forEach(([, entryId], k) => published.set(ids[k]!, entryIdTime(String(entryId))));
    }
    const urgentId = `${prefix}-urgent`;
    const urgentEntry = String(await client.xadd(lanes.invitations('high'), '*', ...invitationFields(invitation(urgentId, 'high'))));
    published.set(urgentId, entryIdTime(urgentEntry));

    const summarized = new Map<string, number>();
    let last = '-';
    const deadline = Date.now() + 600_000;
    while (summarized.size < backlog + 1) {
      if (Date.now() > deadline) throw new Error(`priority: ${summarized.size} of ${backlog + 1} summaries after 600 s`);
      const part = (await client.xrange(streams.summaries, last === '-' ? '-' : `(${last}`, '+', 'COUNT', 500)) as [string, string[]][];
      for (const [entryId, fields] of part) {
        last = entryId;
        const id = fields[fields.indexOf('invitation_id') + 1]!;
        if (!published.has(id)) continue;
        if (summarized.has(id)) throw new Error(`priority: two summaries for ${id}`);
        const answered = Number(fields[fields.indexOf('total_responses') + 1]);
        if (answered !== guests) throw new Error(`priority: ${id} summarized with ${answered} of ${guests} answers`);
        summarized.set(id, entryIdTime(entryId));
      }
      ctx.progress.update(`${fmt(summarized.size)} of ${fmt(backlog + 1)} summarized`);
      if (part.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    await stack.recordStalls();
    const slow = await slowlog(client);
    const urgentAt = summarized.get(urgentId)!;
    const times = [...summarized].filter(([id]) => id !== urgentId).map(([id, at]) => at - published.get(id)!).sort((a, b) => a - b);
    const urgentPath = await pathOf(client, urgentId, published.get(urgentId)!, urgentAt);
    const result: PriorityResult = {
      backlog,
      guestsPerEvent: guests,
      urgentToSummaryMs: urgentAt - published.get(urgentId)!,
      backlogDoneBeforeUrgent: [...summarized].filter(([id, at]) => id !== urgentId && at < urgentAt).length,
      backlogToSummaryMs: { p50: times[Math.floor(times.length / 2)] ?? 0, p99: times[Math.floor(times.length * 0.99)] ?? 0, max: times[times.length - 1] ?? 0 },
      summaries: summarized.size,
      urgentPath,
      slowlog: slow,
    };
    ctx.progress.note(
      `priority: urgent summarized after ${result.urgentToSummaryMs} ms (${result.backlogDoneBeforeUrgent} of the backlog before it); backlog p50 ${round(result.backlogToSummaryMs.p50 / 1000, 2)} s, max ${round(result.backlogToSummaryMs.max / 1000, 2)} s`,
    );
    return result;
  } finally {
    driver.close();
    await stack.stop();
  }
}

/** When (ms after its invitation) the urgent event was applied, delivered, answered and summarized. */
async function pathOf(client: Redis, id: string, publishedAt: number, summaryAt: number): Promise<Record<string, number>> {
  const at = (t: number) => t - publishedAt;
  const applied = Number(await client.hget(`event:{${id}}`, 'invited_at'));
  const times = async (stream: string) =>
    ((await client.xrange(stream, '-', '+')) as [string, string[]][]).filter(([, f]) => f[f.indexOf('invitation_id') + 1] === id).map(([e]) => entryIdTime(e));
  const deliveries = await times(lanes.inbox('bench-agent-1', 'high'));
  const replies = await times(lanes.responses('high'));
  return {
    applied: at(applied),
    delivered: deliveries.length ? at(Math.max(...deliveries)) : -1,
    firstReply: replies.length ? at(Math.min(...replies)) : -1,
    lastReply: replies.length ? at(Math.max(...replies)) : -1,
    summary: at(summaryAt),
  };
}
