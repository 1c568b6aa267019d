import { parseActivity } from '../../services/shared/schema/activity.ts';
import { type RedisClient, nodesOf } from '../../services/shared/streams/redis-client.ts';
import { parseDelivery } from '../../services/shared/schema/delivery.ts';
import { parseReply } from '../../services/shared/schema/response.ts';
import { parseSummary } from '../../services/shared/schema/summary.ts';
import { toFields } from '../../services/shared/streams/entry.ts';
import { deadLetterPattern, eventKeys, inboxPattern, partitionStreams, registryKeys, streams } from '../../services/shared/streams/keys.ts';
import { infoObject } from '../../services/shared/streams/stream-ids.ts';

// The delivery guarantees as checks over what Redis holds after a run, shared by the fault tests
// and `npm run chaos`. Each check returns a row (name, ok, detail) so that a failure says what it
// saw, and chaos can print all of them as a table.

export interface InvariantRow {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProcessStatus {
  label: string;
  /** Still running, or ended by a signal the test sent on purpose. */
  expected: boolean;
  detail: string;
}

export interface InvariantInput {
  redis: RedisClient;
  /** Ids of the valid invitations added: each must end with exactly one summary. */
  events: string[];
  /** Every invited guest answers (no deadline closes): then each event counts every guest. */
  everyoneAnswers?: boolean;
  /** Entries added on purpose that must end in dead letters, once per group reading their stream. */
  badEntries?: { stream: string; id: string; groups?: number }[];
  /** How the role processes ended up; none may have died on its own. */
  processes?: ProcessStatus[];
  /** XADDs that were acknowledged before a Redis crash: each must still be there. */
  acknowledged?: { stream: string; id: string }[];
  /**
   * Invitations whose state a Redis restarted empty wiped (chaos): a reply to one of them can only
   * be dead-lettered as unknown_invitation, and such dead letters are expected, not failures.
   */
  wipedEvents?: Set<string>;
  /** STREAM_PARTITIONS of the run: invitations and replies are read from every partition. */
  partitions?: number;
}

interface Entry {
  id: string;
  fields: Record<string, string>;
}

/** Reads a whole stream in pages (chaos runs leave hundreds of thousands of entries). */
export async function readStream(redis: RedisClient, stream: string): Promise<Entry[]> {
  const out: Entry[] = [];
  let start = '-';
  for (;;) {
    const page = (await redis.xrange(stream, start, '+', 'COUNT', 5_000)) as [string, string[]][];
    for (const [id, flat] of page) out.push({ id, fields: toFields(flat) });
    if (page.length < 5_000) return out;
    start = `(${page[page.length - 1]![0]}`;
  }
}

/** Every key matching, on the one Redis or on each cluster master (SCAN sees one node). */
async function scanKeys(redis: RedisClient, match: string, type: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const node of nodesOf(redis, 'master')) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1_000, 'TYPE', type);
      cursor = next;
      for (const key of batch) keys.add(key);
    } while (cursor !== '0');
  }
  return [...keys];
}

function row(name: string, problems: string[], ok: string): InvariantRow {
  const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; … ${problems.length - 5} more` : '');
  return { name, ok: problems.length === 0, detail: problems.length === 0 ? ok : shown };
}

export async function checkInvariants(input: InvariantInput): Promise<InvariantRow[]> {
  const { redis } = input;
  const rows: InvariantRow[] = [];

  // What the coordinator recorded per event.
  // The per-version keys hold the last version that opened (`opened_sequence`); earlier versions
  // are checked through their summaries (checkEventInvariants).
  const events = new Map<string, { invited: Map<string, string>; replies: Record<string, string>; late: Record<string, string>; rejected: Record<string, string>; never: Set<string>; state: Record<string, string>; opened?: number }>();
  for (const id of input.events) {
    const k = eventKeys(id);
    const [invited, replies, late, rejected, never, state] = await Promise.all([redis.hgetall(k.invited), redis.hgetall(k.replies), redis.hgetall(k.late), redis.hgetall(k.rejected), redis.hkeys(k.never), redis.hgetall(k.event)]);
    const opened = state.opened_sequence === undefined ? undefined : Number(state.opened_sequence);
    events.set(id, { invited: new Map(Object.entries(invited).map(([g, v]) => [g, v.slice(0, v.indexOf('\t'))])), replies, late, rejected, never: new Set(never), state, ...(opened !== undefined ? { opened } : {}) });
  }

  const bad = new Set((input.badEntries ?? []).map((b) => `${b.stream} ${b.id}`));

  // 1. Every invited guest received the invitation: exactly one delivery entry names it.
  {
    const problems: string[] = [];
    const inboxes = new Map<string, Entry[]>();
    for (const [eventId, ev] of events) {
      if (Object.keys(ev.state).length === 0) {
        problems.push(`event ${eventId} was never created`);
        continue;
      }
      const received = new Map<string, number>();
      for (const agentId of new Set(ev.invited.values())) {
        if (!inboxes.has(agentId)) inboxes.set(agentId, await readStream(redis, streams.inbox(agentId)));
        for (const entry of inboxes.get(agentId)!) {
          if (entry.fields.invitation_id !== eventId || bad.has(`${streams.inbox(agentId)} ${entry.id}`)) continue;
          const parsed = parseDelivery(entry.fields);
          if (!parsed.ok) {
            problems.push(`${eventId}: delivery ${entry.id} is malformed (${parsed.reason})`);
            continue;
          }
          // The invitation of the last version that opened; reminders, details, promotions come on top.
          if (parsed.value.type !== 'request' || parsed.value.sequence !== (ev.opened ?? Number(ev.state.sequence ?? 0))) continue;
          for (const guest of parsed.value.guestIds) received.set(guest, (received.get(guest) ?? 0) + 1);
        }
      }
      for (const guest of ev.invited.keys()) {
        const n = received.get(guest) ?? 0;
        // A guest never asked (the delivery expired) got it at most once: read too late, or not made at all.
        if (ev.never.has(guest) ? n > 1 : n !== 1) problems.push(`${eventId}: guest ${guest} got ${n} deliveries`);
      }
      for (const guest of received.keys()) if (!ev.invited.has(guest)) problems.push(`${eventId}: ${guest} got a delivery but is not invited`);
    }
    const invitedTotal = [...events.values()].reduce((n, e) => n + e.invited.size, 0);
    const neverTotal = [...events.values()].reduce((n, e) => n + e.never.size, 0);
    rows.push(row('every invited guest received the invitation once', problems, `${invitedTotal} invitations of ${events.size} events' last versions, one delivery each (${neverTotal} never asked: expired)`));
  }

  // 2. The reply record holds exactly one entry per guest that replied, and the counts agree.
  const responseStreams = partitionStreams(streams.responses, input.partitions ?? 1);
  const responses = (await Promise.all(responseStreams.map(async (stream) => (await readStream(redis, stream)).map((entry) => ({ ...entry, stream }))))).flat();
  {
    const problems: string[] = [];
    const replying = new Map<string, Set<string>>();
    let copies = 0;
    for (const entry of responses) {
      if (bad.has(`${entry.stream} ${entry.id}`)) continue;
      const parsed = parseReply(entry.fields);
      if (!parsed.ok || entry.fields.kind === 'receipt' || !events.has(parsed.value.invitationId)) continue;
      const ev = events.get(parsed.value.invitationId)!;
      // Replies to the last version that opened (earlier ones: the summaries' rows below).
      if (!ev.invited.has(parsed.value.guestId) || parsed.value.sequence !== (ev.opened ?? 0)) continue;
      // A rejected reply is recorded with its reason, not counted.
      if (ev.rejected[parsed.value.id] !== undefined) continue;
      const set = replying.get(parsed.value.invitationId) ?? new Set<string>();
      if (set.has(parsed.value.guestId)) copies += 1;
      set.add(parsed.value.guestId);
      replying.set(parsed.value.invitationId, set);
    }
    let recorded = 0;
    for (const [eventId, ev] of events) {
      const want = replying.get(eventId) ?? new Set<string>();
      const inReplies = Object.keys(ev.replies);
      // The late hash is keyed by reply id (a guest may change its answer after the version closed).
      const lateIds = Object.keys(ev.late);
      const inLate = Object.values(ev.late).map((json) => (JSON.parse(json) as { guest_id: string }).guest_id);
      recorded += inReplies.length + lateIds.length + Object.keys(ev.rejected).length;
      const both = inReplies.filter((g) => lateIds.includes((JSON.parse(ev.replies[g]!) as { id: string }).id));
      if (both.length > 0) problems.push(`${eventId}: ${both.length} replies recorded as counted and late`);
      const got = new Set([...inReplies, ...inLate]);
      const missing = [...want].filter((g) => !got.has(g));
      const extra = [...got].filter((g) => !want.has(g));
      if (missing.length > 0) problems.push(`${eventId}: ${missing.length} replies not recorded (${missing[0]})`);
      if (extra.length > 0) problems.push(`${eventId}: ${extra.length} recorded replies nobody sent (${extra[0]})`);
      const counts: Record<string, number> = { yes: 0, no: 0, maybe: 0 };
      for (const json of Object.values(ev.replies)) {
        const { response } = JSON.parse(json) as { response: string };
        counts[response] = (counts[response] ?? 0) + 1;
      }
      for (const r of ['yes', 'no', 'maybe']) {
        if (Number(ev.state[`${r}_count`] ?? 0) !== counts[r]) problems.push(`${eventId}: ${r}_count ${ev.state[`${r}_count`]} but ${counts[r]} ${r} replies recorded`);
      }
      if (input.everyoneAnswers && inReplies.length !== ev.invited.size) problems.push(`${eventId}: ${inReplies.length} of ${ev.invited.size} invited guests counted`);
    }
    rows.push(row('the reply record has one entry per replying guest (last version)', problems, `${recorded} replies recorded once each (${responses.length} reply entries, ${copies} of them repeats)`));
  }

  // 3. Every event has its summaries, one per version (checkEventInvariants), the last agreeing with the record.
  {
    const problems: string[] = [];
    const summaries = await readStream(redis, streams.summaries);
    const byEvent = new Map<string, Entry[]>();
    for (const s of summaries) {
      const id = s.fields.invitation_id;
      if (id === undefined || !events.has(id)) continue;
      byEvent.set(id, [...(byEvent.get(id) ?? []), s]);
    }
    const reasons = new Map<string, number>();
    let versions = 0;
    for (const [eventId, ev] of events) {
      const list = (byEvent.get(eventId) ?? []).filter((e) => parseSummary(e.fields).ok);
      if (list.length === 0) {
        problems.push(`${eventId}: no summary`);
        continue;
      }
      versions += list.length;
      // The last version's summary: the one of the highest sequence (a cancellation of a closed
      // version has one of its own, with nobody invited; the record was cleared with it).
      const f = list.reduce((a, b) => (Number(b.fields.sequence ?? 0) > Number(a.fields.sequence ?? 0) ? b : a)).fields;
      if (ev.state.status === 'cancelled' && !list.some((e) => e.fields.reason === 'cancelled')) problems.push(`${eventId}: cancelled without a summary saying so`);
      reasons.set(f.reason ?? '?', (reasons.get(f.reason ?? '?') ?? 0) + 1);
      if (Number(f.total_invited) !== ev.invited.size) problems.push(`${eventId}: summary invites ${f.total_invited}, event ${ev.invited.size}`);
      if (Number(f.total_responses) !== Object.keys(ev.replies).length) problems.push(`${eventId}: summary counts ${f.total_responses} responses, record ${Object.keys(ev.replies).length}`);
      for (const r of ['yes', 'no', 'maybe']) {
        if (f[`${r}_count`] !== (ev.state[`${r}_count`] ?? '0')) problems.push(`${eventId}: summary ${r}_count ${f[`${r}_count`]}, event ${ev.state[`${r}_count`]}`);
      }
      if (input.everyoneAnswers && f.reason !== 'all_replied' && ev.invited.size > 0) problems.push(`${eventId}: closed by ${f.reason}`);
    }
    const detail = `${events.size} events, ${versions} summaries; the last version of each: ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}`;
    rows.push(row('every event summarized, the last summary agreeing with the record', problems, detail));
  }

  // The event model's rules (one summary per version, capacity, reminders, delivery windows).
  rows.push(...(await checkEventInvariants(redis, (await scanKeys(redis, inboxPattern, 'stream')).map((k) => k.slice(k.indexOf('{') + 1, k.indexOf('}'))), new Set(input.events))));

  // 4. Nothing left pending in any group of any stream.
  {
    const problems: string[] = [];
    const agents = await redis.zrange(registryKeys.agents, '0', '-1');
    const inboxKeys = await scanKeys(redis, inboxPattern, 'stream');
    const all = new Set([...partitionStreams(streams.invitations, input.partitions ?? 1), ...responseStreams, streams.summaries, ...agents.map((a) => streams.inbox(a)), ...inboxKeys]);
    let groups = 0;
    for (const stream of all) {
      let info: Record<string, unknown>[];
      try {
        info = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(infoObject);
      } catch {
        continue;
      }
      for (const g of info) {
        groups += 1;
        if (Number(g.pending) > 0) problems.push(`${stream}/${String(g.name)}: ${String(g.pending)} pending`);
      }
    }
    rows.push(row('no pending entries after the reclaim timeout', problems, `${groups} groups on ${all.size} streams, none pending`));
  }

  // 5. Dead letters hold exactly the bad entries, each with a reason.
  {
    const problems: string[] = [];
    const expected = new Map<string, number>();
    for (const b of input.badEntries ?? []) expected.set(`${b.stream} ${b.id}`, b.groups ?? 1);
    const found = new Map<string, number>();
    const reasons = new Map<string, string>();
    let letters = 0;
    let wipedReplies = 0;
    let expiredDeliveries = 0;
    for (const key of await scanKeys(redis, deadLetterPattern, 'stream')) {
      for (const letter of await readStream(redis, key)) {
        letters += 1;
        const f = letter.fields;
        const ref = `${f.dead_letter_stream} ${f.dead_letter_entry_id}`;
        if (!expected.has(ref) && responseStreams.includes(f.dead_letter_stream ?? '') && input.wipedEvents?.has(f.invitation_id ?? '') && f.dead_letter_reason?.startsWith('unknown_invitation:')) {
          wipedReplies += 1;
          continue;
        }
        // A delivery an agent read after its event's expires_at is dead-lettered as expired (docs/EVENTS.md, "Expiry").
        if (!expected.has(ref) && f.dead_letter_reason?.startsWith('expired:') && f.dead_letter_stream?.startsWith('guest_inbox:') && f.invitation_id !== undefined) {
          const [expiresAt] = await redis.hmget(eventKeys(f.invitation_id).event, 'expires_at');
          const readAt = Number(letter.id.split('-')[0]);
          if (Number(expiresAt ?? 0) > 0 && readAt > Number(expiresAt)) {
            expiredDeliveries += 1;
            continue;
          }
        }
        found.set(ref, (found.get(ref) ?? 0) + 1);
        reasons.set(ref, f.dead_letter_reason ?? '');
        if (!/^[a-z_]{1,40}: ./.test(f.dead_letter_reason ?? '')) problems.push(`${ref}: no reason (${JSON.stringify(f.dead_letter_reason)})`);
      }
    }
    for (const [ref, n] of found) {
      const want = expected.get(ref);
      if (want === undefined) problems.push(`${ref} was dead-lettered but is not a bad entry (${reasons.get(ref)!.slice(0, 120)})`);
      else if (want !== n) problems.push(`${ref} dead-lettered ${n} times, expected ${want}`);
    }
    for (const ref of expected.keys()) if (!found.has(ref)) problems.push(`${ref} is a bad entry without a dead letter`);
    const wipedNote = input.wipedEvents ? `; ${wipedReplies} replies to invitations an empty restart wiped (unknown_invitation)` : '';
    rows.push(row('dead letters hold exactly the bad entries, each with a reason', problems, `${letters - wipedReplies - expiredDeliveries} dead letters for ${expected.size} bad entries${wipedNote}; ${expiredDeliveries} deliveries read after their expires_at (expired)`));
  }

  // 6. No process died on its own.
  if (input.processes) {
    const problems = input.processes.filter((p) => !p.expected).map((p) => `${p.label}: ${p.detail}`);
    rows.push(row('no process crashed', problems, `${input.processes.length} processes, all running or stopped on purpose`));
  }

  // 7. Acknowledged writes survived a Redis crash.
  if (input.acknowledged) {
    const problems: string[] = [];
    const pipeline = redis.pipeline();
    for (const { stream, id } of input.acknowledged) pipeline.xrange(stream, id, id);
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, value], i) => {
      const { stream, id } = input.acknowledged![i]!;
      if (error || !Array.isArray(value) || value.length !== 1) problems.push(`${stream} ${id} is gone`);
    });
    rows.push(row('every acknowledged XADD is still there (Redis crashes included)', problems, `${input.acknowledged.length} acknowledged entries all present`));
  }
  return rows;
}

/** The rows as a Markdown table (chaos prints it; RELIABILITY.md quotes it). */
export function formatTable(rows: InvariantRow[]): string {
  const lines = ['| invariant | result | detail |', '| --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.ok ? 'PASS' : 'FAIL'} | ${r.detail.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

/** The failing rows, rendered; empty when everything holds (tests expect it to equal ''). */
export function failures(rows: InvariantRow[]): string {
  const failing = rows.filter((r) => !r.ok);
  return failing.length === 0 ? '' : formatTable(failing);
}

/**
 * The event model's rules (docs/EVENTS.md) as checks over what Redis holds after a run: one
 * summary per (event, sequence), seats never above the capacity (in the summaries and in every
 * event_activity entry), no guest reminded twice for one (event, sequence, reminder), and no
 * request delivered before its event's publish_at or after its expires_at.
 */
export async function checkEventInvariants(redis: RedisClient, agentIds: string[], events?: Set<string>): Promise<InvariantRow[]> {
  const rows: InvariantRow[] = [];
  // Only well-formed summaries: hostile runs write junk to event_summaries on purpose, and the
  // host dead-letters it (checked by the dead-letter rows), so it is no summary of any version.
  const summaries = (await readStream(redis, streams.summaries)).filter((s) => parseSummary(s.fields).ok);
  const activities = (await readStream(redis, streams.activity)).flatMap((entry) => {
    const parsed = parseActivity(entry.fields);
    return parsed.ok ? [{ id: entry.id, activity: parsed.value }] : [];
  });
  {
    const problems: string[] = [];
    const seen = new Map<string, number>();
    for (const s of summaries) {
      const key = `${s.fields.invitation_id} sequence ${s.fields.sequence ?? '0'}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    for (const [key, n] of seen) if (n !== 1) problems.push(`${key}: ${n} summaries`);
    // Every version that opened (its `version` or `never_asked` activity) has its summary. Only
    // the run's events when known: a coordinator may add what it decided before Redis restarted
    // empty (chaos) to the new, empty Redis, about an event that no longer exists.
    const opened = new Set<string>();
    for (const { activity } of activities) {
      if (activity.type !== 'version' && activity.type !== 'never_asked') continue;
      // A version published with a future publish_at is reported as scheduled: it opens later, or never (updated or cancelled first).
      for (const e of activity.events) if (e.status !== 'scheduled' && (!events || events.has(e.invitation_id))) opened.add(`${e.invitation_id} sequence ${e.sequence}`);
    }
    for (const key of opened) if (!seen.has(key)) problems.push(`${key} opened and has no summary`);
    const perEvent = new Map<string, number>();
    for (const key of seen.keys()) perEvent.set(key.slice(0, key.lastIndexOf(' sequence ')), (perEvent.get(key.slice(0, key.lastIndexOf(' sequence '))) ?? 0) + 1);
    const multi = [...perEvent.values()].filter((n) => n > 1).length;
    rows.push(row('exactly one summary per event version', problems, `${seen.size} versions of ${perEvent.size} events (${multi} with several), one summary each; ${opened.size} opened, each summarized`));
  }
  const replyEntries = await replyEntriesByVersion(redis);
  {
    // Every reply counted once: a version's summary lists each replying guest once, with the
    // reply the guest last gave, and its counts are the tally of what it lists.
    const problems: string[] = [];
    let counted = 0;
    for (const s of summaries) {
      const parsed = parseSummary(s.fields);
      if (!parsed.ok) continue;
      const sum = parsed.value;
      const byGuest = new Map<string, number>();
      for (const r of sum.responses) byGuest.set(r.guest_id, (byGuest.get(r.guest_id) ?? 0) + 1);
      for (const [g, n] of byGuest) if (n > 1) problems.push(`${sum.id}: ${g} counted ${n} times`);
      counted += sum.responses.length;
      if (!sum.truncated) {
        const tally: Record<string, number> = { yes: 0, no: 0, maybe: 0 };
        for (const r of sum.responses) tally[r.response] = (tally[r.response] ?? 0) + 1;
        if (tally.yes !== sum.yes || tally.no !== sum.no || tally.maybe !== sum.maybe || sum.responses.length !== sum.totalResponses) {
          problems.push(`${sum.id}: counts yes ${sum.yes} no ${sum.no} maybe ${sum.maybe} of ${sum.totalResponses}, but lists ${JSON.stringify(tally)}`);
        }
      }
      if (sum.capacity > 0 && sum.confirmed + sum.waitlisted !== sum.yes) problems.push(`${sum.id}: ${sum.yes} acceptances but ${sum.confirmed} confirmed + ${sum.waitlisted} waitlisted`);
      // The reply listed for a guest is one the guest sent to this version, and none it sent later (by reply_rev) was counted instead.
      const sent = replyEntries.get(`${sum.invitationId} ${sum.sequence}`);
      for (const r of sum.responses) {
        const mine = sent?.get(r.guest_id);
        if (!mine) continue;
        if (!mine.some((m) => m.replyId === r.id)) problems.push(`${sum.id}: ${r.guest_id} counted with ${r.id}, a reply it never sent to this version`);
      }
    }
    rows.push(row('every reply counted once', problems, `${counted} replies counted in ${summaries.length} summaries, each guest once per version`));
  }
  {
    // The waitlist keeps arrival order: a version's waitlist is ordered by when each guest's
    // acceptance reached Redis (a guest who accepts again with the same plus-ones keeps its place).
    const problems: string[] = [];
    let lists = 0;
    let waiting = 0;
    for (const s of summaries) {
      const parsed = parseSummary(s.fields);
      if (!parsed.ok || parsed.value.waitlist.length < 2) continue;
      const sum = parsed.value;
      const sent = replyEntries.get(`${sum.invitationId} ${sum.sequence}`);
      const countedId = new Map(sum.responses.map((r) => [r.guest_id, r.id]));
      const arrival = (guest: string): string | undefined => {
        const mine = (sent?.get(guest) ?? []).slice().sort((a, b) => a.rev - b.rev || compareIds(a.entryId, b.entryId));
        let k = mine.findIndex((m) => m.replyId === countedId.get(guest));
        if (k < 0) return undefined;
        const last = mine[k]!;
        let first = last.entryId;
        while (k > 0 && mine[k - 1]!.response === 'yes' && mine[k - 1]!.plusOnes === last.plusOnes) {
          k -= 1;
          if (compareIds(mine[k]!.entryId, first) < 0) first = mine[k]!.entryId;
        }
        return first;
      };
      const ids = sum.waitlist.map((g) => ({ g, at: arrival(g) }));
      if (ids.some((x) => x.at === undefined)) continue;
      lists += 1;
      waiting += ids.length;
      for (let i = 1; i < ids.length; i += 1) {
        if (compareIds(ids[i - 1]!.at!, ids[i]!.at!) > 0) problems.push(`${sum.id}: ${ids[i]!.g} (arrived ${ids[i]!.at}) waits behind ${ids[i - 1]!.g} (arrived ${ids[i - 1]!.at})`);
      }
    }
    const promotions = activities.filter(({ activity }) => activity.type === 'promoted').reduce((n, { activity }) => n + activity.events.reduce((m, e) => m + (e.guests?.length ?? 0), 0), 0);
    rows.push(row('waitlist order kept', problems, `${lists} waitlists of ${waiting} guests in arrival order; ${promotions} promotions`));
  }
  {
    const problems: string[] = [];
    let checked = 0;
    for (const s of summaries) {
      const capacity = Number(s.fields.capacity ?? 0);
      if (capacity > 0 && Number(s.fields.headcount ?? 0) > capacity) problems.push(`${s.fields.id}: headcount ${s.fields.headcount} above capacity ${capacity}`);
    }
    const capacities = new Map<string, number>();
    for (const s of summaries) capacities.set(s.fields.invitation_id!, Number(s.fields.capacity ?? 0));
    for (const { id: entryId, activity } of activities) {
      for (const e of activity.events) {
        const capacity = capacities.get(e.invitation_id) ?? Number((await redis.hget(eventKeys(e.invitation_id).event, 'capacity')) ?? 0);
        checked += 1;
        if (capacity > 0 && e.counts && e.counts.headcount > capacity) problems.push(`${e.invitation_id}: activity ${entryId} shows headcount ${e.counts.headcount} above ${capacity}`);
      }
    }
    rows.push(row('never more than the capacity', problems, `${summaries.length} summaries and ${checked} activity changes within capacity`));
  }
  {
    const problems: string[] = [];
    const reminded = new Map<string, number>();
    let early = 0;
    let expired = 0;
    const times = new Map<string, { publishAt: number; expiresAt: number }>();
    for (const agentId of agentIds) {
      for (const stream of [streams.inbox(agentId), streams.inboxHigh(agentId)]) {
        for (const entry of await readStream(redis, stream)) {
          const parsed = parseDelivery(entry.fields);
          if (!parsed.ok) continue;
          const d = parsed.value;
          if (d.type === 'reminder' || d.type === 'start_reminder') {
            for (const g of d.guestIds) {
              const key = `${d.invitationId} s${d.sequence} ${d.type} ${d.reminder} ${g}`;
              reminded.set(key, (reminded.get(key) ?? 0) + 1);
            }
          }
          if (d.type !== 'request') continue;
          if (!times.has(d.invitationId)) {
            const [publishAt, expiresAt] = await redis.hmget(eventKeys(d.invitationId).event, 'publish_at', 'expires_at');
            times.set(d.invitationId, { publishAt: Number(publishAt ?? 0), expiresAt: Number(expiresAt ?? 0) });
          }
          const t = times.get(d.invitationId)!;
          const at = Number(entry.id.split('-')[0]);
          if (t.publishAt > 0 && at < t.publishAt) {
            early += 1;
            problems.push(`${d.invitationId}: request ${entry.id} delivered before publish_at`);
          }
          if (t.expiresAt > 0 && at > t.expiresAt) {
            expired += 1;
            problems.push(`${d.invitationId}: request ${entry.id} delivered after expires_at`);
          }
        }
      }
    }
    for (const [key, n] of reminded) if (n > 1) problems.push(`${key}: reminded ${n} times`);
    rows.push(row('no reminder twice; nothing delivered before publish_at or after expires_at', problems, `${reminded.size} reminders once each; ${early + expired} requests out of their window`));
  }
  return rows;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am! - bm! || as! - bs!;
}

interface SentReply {
  replyId: string;
  entryId: string;
  rev: number;
  response: string;
  plusOnes: number;
}

/** Valid replies on both lanes by "<event> <sequence>", then guest: each reply id once, at its first entry. */
async function replyEntriesByVersion(redis: RedisClient): Promise<Map<string, Map<string, SentReply[]>>> {
  const out = new Map<string, Map<string, SentReply[]>>();
  const seen = new Set<string>();
  // Every partition of guest_responses there is (STREAM_PARTITIONS), then the priority lane.
  const partitions = (await scanKeys(redis, `${streams.responses}*`, 'stream')).filter((k) => k !== streams.responsesHigh && !k.includes('dead_letters')).sort();
  for (const stream of [...partitions, streams.responsesHigh]) {
    for (const entry of await readStream(redis, stream)) {
      const parsed = parseReply(entry.fields);
      if (!parsed.ok || entry.fields.kind === 'receipt' || seen.has(parsed.value.id)) continue;
      const r = parsed.value;
      seen.add(r.id);
      const version = `${r.invitationId} ${r.sequence}`;
      const byGuest = out.get(version) ?? new Map<string, SentReply[]>();
      out.set(version, byGuest);
      byGuest.set(r.guestId, [...(byGuest.get(r.guestId) ?? []), { replyId: r.id, entryId: entry.id, rev: r.replyRev, response: r.response, plusOnes: r.plusOnes }]);
    }
  }
  return out;
}
