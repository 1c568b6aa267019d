// Redis time of the counting script alone (INFO commandstats usec of EVALSHA), for 1000-guest
// events counted in calls of N replies: per reply for ordinary calls, and the call that decides
// the summary (finalize). Against any Redis you can flush:
//   node scripts/bench/lua-micro.ts redis://127.0.0.1:6399 [replies per call]
import { Redis } from 'ioredis';
import { EventStore } from '../../services/coordinator/event-store.ts';
import { commandStats } from './redis-info.ts';
import type { Invitation } from '../../services/shared/schema/invitation.ts';
import { defaultEventOptions } from '../../services/shared/schema/event-definition.ts';
const r = new Redis(process.argv[2]!);
const store = new EventStore(r, { retentionMs: 60000, summaryCap: 10000, rsvpDeadlineMs: 60000 });
const n = 1000, per = Number(process.argv[3] ?? 100);
const guests = Array.from({ length: n }, (_, i) => ({ id: `aisha-costa.${i}@bench-agent-1`, agentId: 'bench-agent-1', name: 'Aisha Costa', persona: 'instant', tags: ['instant'] }));
let totalRecord = 0, totalFinal = 0;
for (let e = 0; e < 5; e++) {
  const inv: Invitation = { ...defaultEventOptions, id: `ev-${e}-${Date.now()}`, eventName: 'x', eventDate: '', eventTime: '', location: '', description: '', hostName: 'h', hostId: 'h', timestamp: '', method: 'REQUEST', revision: 1, sequence: 0, legacy: false };
  await store.applyRevision(inv, { publishedAt: Date.now(), openingProblem: '', resolution: { guests, unknown: [] }, trace: {} });
  for (let i = 0; i < n; i += per) {
    const replies = guests.slice(i, i + per).map((g, k) => ({ kind: 'reply' as const, guestId: g.id, sequence: 0, id: `reply:${inv.id}:0:${g.id}`, arrival: Date.now() * 1000 + k, rejection: '', json: JSON.stringify({ id: `reply:${inv.id}:0:${g.id}`, invitation_id: inv.id, guest_name: g.name, guest_id: g.id, response: 'yes', message: 'Count me in!', timestamp: new Date().toISOString() }) }));
    const before = (await commandStats(r)).evalsha ?? { calls: 0, usec: 0 };
    const res = await store.recordReplies([{ eventId: inv.id, replies }]);
    const after = (await commandStats(r)).evalsha!;
    if (res[0]!.nextDue < 0) totalFinal += after.usec - before.usec; else totalRecord += after.usec - before.usec;
  }
}
console.log(`per reply (non-final calls): ${(totalRecord / (5 * (n - per))).toFixed(2)} us; final call: ${(totalFinal / 5).toFixed(0)} us`);
r.disconnect();
