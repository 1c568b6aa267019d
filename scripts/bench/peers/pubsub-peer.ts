// Plain Redis Pub/Sub, the lower bound (issue 17, item 3): the coordinator-like process hears an
// invitation, publishes one delivery per agent, counts the replies the agents publish in memory
// and publishes the summary when every guest answered. Nothing is stored: a message published
// while a process is down or slow is lost, nothing is retried, nothing is acknowledged, and a
// crash loses every event in flight. It is what the same work costs with no guarantee at all.
//
//   node scripts/bench/peers/pubsub-peer.ts coordinator <redis-url>
//   node scripts/bench/peers/pubsub-peer.ts agent <redis-url> <agent-id>
import { Redis } from 'ioredis';
import { type Answer, type PeerEvent, type PeerSummary, answerOf } from './common.ts';

export const channels = {
  invitations: 'peer:invitations',
  deliveries: (agent: string): string => `peer:deliveries:${agent}`,
  replies: 'peer:replies',
  summaries: 'peer:summaries',
};

if (import.meta.main) {
  const [role, url, agent] = process.argv.slice(2);
  if (!role || !url || (role === 'agent' && !agent)) {
    process.stderr.write('usage: pubsub-peer.ts coordinator <redis-url> | agent <redis-url> <agent-id>\n');
    process.exit(2);
  }
  const sub = new Redis(url);
  // Auto-pipelined, as our command connection is: messages published in one tick go out in one write.
  const pub = new Redis(url, { enableAutoPipelining: true });
  if (role === 'coordinator') {
    const open = new Map<string, PeerSummary & { answered: number }>();
    await sub.subscribe(channels.invitations, channels.replies);
    sub.on('message', (channel: string, text: string) => {
      if (channel === channels.invitations) {
        const event = JSON.parse(text) as PeerEvent;
        const invited = Object.values(event.guests).reduce((n, g) => n + g.length, 0);
        open.set(event.eventId, { eventId: event.eventId, invited, yes: 0, no: 0, maybe: 0, answered: 0 });
        for (const [a, guests] of Object.entries(event.guests)) void pub.publish(channels.deliveries(a), JSON.stringify({ eventId: event.eventId, guests }));
        return;
      }
      const [eventId, answer] = text.split('|') as [string, Answer];
      const state = open.get(eventId);
      if (!state) return;
      state[answer] += 1;
      state.answered += 1;
      if (state.answered === state.invited) {
        open.delete(eventId);
        const { answered: _answered, ...summary } = state;
        void pub.publish(channels.summaries, JSON.stringify(summary));
      }
    });
  } else {
    await sub.subscribe(channels.deliveries(agent!));
    sub.on('message', (_channel: string, text: string) => {
      const { eventId, guests } = JSON.parse(text) as { eventId: string; guests: string[] };
      for (const guestId of guests) void pub.publish(channels.replies, `${eventId}|${answerOf(eventId, guestId)}|${guestId}`);
    });
  }
  process.stdout.write('ready\n');
  const stop = () => {
    sub.disconnect();
    pub.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
