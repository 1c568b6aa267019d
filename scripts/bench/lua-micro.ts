// Redis time of the counting script alone (INFO commandstats usec of EVALSHA), for events of G
// guests counted in calls of N replies: per reply for first answers and for changed ones (each
// guest answers again with a higher reply_rev, so the script meets a previous reply), and the call
// that closes the version (finalize). Against any Redis you can flush:
//   node scripts/bench/lua-micro.ts redis://127.0.0.1:6399 [replies per call, 100] [guests, 1000] [events, 5]
import { Redis } from 'ioredis';
import * as eventStore from '../../services/coordinator/event-store.ts';
import { commandStats } from './redis-info.ts';
import { eventKeys } from '../../services/shared/streams/keys.ts';
import type { Invitation } from '../../services/shared/schema/invitation.ts';
import type { Reply } from '../../services/shared/schema/response.ts';
import { replyRecord } from '../../services/shared/schema/response.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';

const r = new Redis(process.argv[2]!);
const per = Number(process.argv[3] ?? 100);
const n = Number(process.argv[4] ?? 1000);
const events = Number(process.argv[5] ?? 5);
const store = new eventStore.EventStore(r, { retentionMs: 60000, summaryCap: 10000, rsvpDeadlineMs: 60000 });

/** The script's input as this version of the coordinator builds it (older ones took the JSON alone). */
function toRecord(reply: Reply, arrival: number): eventStore.ReplyToRecord {
  const build = (eventStore as { replyToRecord?: (reply: Reply, arrival: number, rejection: string) => eventStore.ReplyToRecord }).replyToRecord;
  if (build) return build(reply, arrival, '');
  const json = JSON.stringify({ ...replyRecord(reply), sequence: reply.sequence, reply_rev: reply.replyRev, plus_ones: reply.plusOnes, arrival });
  return { kind: 'reply', guestId: reply.guestId, sequence: reply.sequence, id: reply.id, arrival, rejection: '', json } as eventStore.ReplyToRecord;
}

async function timed(eventId: string, replies: eventStore.ReplyToRecord[]): Promise<number> {
  const before = (await commandStats(r)).evalsha ?? { calls: 0, usec: 0 };
  const [res] = await store.recordReplies([{ eventId, replies }]);
  if (res!.error) throw res!.error;
  const us = (await commandStats(r)).evalsha!.usec - before.usec;
  // Drained, as the coordinator does after each call: the script hands the outbox back whole.
  await r.del(eventKeys(eventId).outbox);
  return us;
}

const guests = Array.from({ length: n }, (_, i) => ({ id: `aisha-costa.${i}@bench-agent-1`, agentId: 'bench-agent-1', name: 'Aisha Costa', persona: 'instant', tags: ['instant'] }));
let first = 0, changed = 0, final = 0;
for (let e = 0; e < events; e++) {
  const inv: Invitation = { ...defaultEventOptions, id: `ev-${e}-${Date.now()}`, eventName: 'x', eventDate: '', eventTime: '', location: '', description: '', hostName: 'h', hostId: 'h', timestamp: '', method: 'REQUEST', revision: 1, sequence: 0, legacy: false };
  await store.applyRevision(inv, { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} });
  const reply = (g: (typeof guests)[number], rev: number): Reply => ({
    id: `reply:${inv.id}:0:${g.id}${rev > 0 ? `:${rev}` : ''}`, invitationId: inv.id, guestName: g.name, guestId: g.id, response: rev > 0 ? 'no' : 'yes',
    message: rev > 0 ? 'Sorry, something came up.' : 'Count me in!', timestamp: new Date().toISOString(), sequence: 0, replyRev: rev, plusOnes: 0, answers: {},
  });
  // Every guest but the last answers, then changes its answer; the last one's reply closes the version.
  for (const rev of [0, 1]) {
    for (let i = 0; i < n - 1; i += per) {
      const us = await timed(inv.id, guests.slice(i, Math.min(i + per, n - 1)).map((g, k) => toRecord(reply(g, rev), Date.now() * 1000 + k)));
      if (rev === 0) first += us;
      else changed += us;
    }
  }
  final += await timed(inv.id, [toRecord(reply(guests[n - 1]!, 0), Date.now() * 1000)]);
}
const replies = events * (n - 1);
console.log(`${n} guests, ${per} replies per call: first answers ${(first / replies).toFixed(2)} us per reply; changed answers ${(changed / replies).toFixed(2)} us per reply; closing call ${(final / events).toFixed(0)} us`);
r.disconnect();
