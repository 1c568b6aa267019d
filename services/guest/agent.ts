import type { Logger } from '../shared/logging/logger.ts';
import type { GuestRegistry } from '../shared/registry/guest-registry.ts';
import { parseDelivery } from '../shared/schema/delivery.ts';
import { replyFields, replyValues } from '../shared/schema/response.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { streams } from '../shared/streams/keys.ts';
import type { StreamProducer } from '../shared/streams/producer.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';
import { sleep } from '../shared/util/time.ts';
import { Counter } from 'prom-client';
import type { GuestConfig } from './config.ts';
import type { SimulatedGuest } from './guests.ts';
import { type PlannedReply, planReply } from './reply-maker.ts';

const icons: Record<string, string> = { yes: '✅', maybe: '🤔', no: '❌' };

/**
 * One guest agent: the guests it hosts answer the deliveries in its inbox, each after its persona's
 * delay. A delivery is acknowledged only when every reply it asked for has been added to
 * `guest_responses`; after a crash it is handled again and the guests give the same answers (the
 * coordinator counts each guest once). On shutdown, guests still thinking answer at once.
 */
export class GuestAgent {
  readonly guests: Map<string, SimulatedGuest>;
  private readonly config: GuestConfig;
  private readonly producer: StreamProducer;
  private readonly log: Logger;
  private readonly hurry = new AbortController();
  private readonly replies: Counter<'reply' | 'persona_group'>;
  private readonly verbose: boolean;

  constructor(deps: { guests: SimulatedGuest[]; config: GuestConfig; producer: StreamProducer; log: Logger; metrics: Metrics }) {
    this.guests = new Map(deps.guests.map((g) => [g.id, g]));
    this.config = deps.config;
    this.producer = deps.producer;
    this.log = deps.log;
    this.verbose = deps.guests.length <= 20;
    // The persona group makes the RSVP mix per group one query; the zeros make the first reply of
    // each value an increase Prometheus sees.
    this.replies = new Counter({
      name: 'event_planner_guest_replies_sent_total',
      help: 'Replies sent by this agent’s guests, by value and persona group.',
      labelNames: ['reply', 'persona_group'],
      registers: [deps.metrics.registry],
    });
    for (const reply of replyValues) this.replies.inc({ reply, persona_group: this.config.personaGroup }, 0);
  }

  /** Guests stop thinking and answer now (shutdown: no reply is lost to a slow persona). */
  hurryUp(): void {
    this.hurry.abort();
  }

  handleEntry = async (entry: StreamEntry): Promise<EntryOutcome> => {
    const parsed = parseDelivery(entry.fields);
    if (!parsed.ok) return dead(parsed.reason);
    const delivery = parsed.value;
    const mine = delivery.guestIds.map((id) => this.guests.get(id)).filter((g): g is SimulatedGuest => g !== undefined);
    if (mine.length === 0) return dead(`unknown_guest: none of ${delivery.guestIds.length} guests is hosted by agent ${this.config.agentId}`);
    if (mine.length < delivery.guestIds.length) {
      this.log.warn({ eventId: delivery.invitationId, unknown: delivery.guestIds.length - mine.length }, 'delivery names guests this agent does not host');
    }
    if (this.verbose) {
      this.log.info({ eventId: delivery.invitationId, guests: mine.length }, `📨 invitation "${delivery.eventName}" received by ${mine.map((g) => g.name).join(', ')}`);
    }

    const plans = mine.map((g) => planReply(g, delivery, this.config.seed, this.config.replyDelayScale));
    const started = Date.now();
    // Replies due at the same moment go out in one pipeline.
    const byDelay = new Map<number, PlannedReply[]>();
    for (const plan of plans) {
      if (plan.reply === null) {
        if (this.verbose) this.log.info({ eventId: delivery.invitationId, guestId: plan.guest.id }, `🙊 ${plan.guest.name} will not answer`);
        continue;
      }
      const list = byDelay.get(plan.delayMs) ?? [];
      list.push(plan);
      byDelay.set(plan.delayMs, list);
    }
    try {
      for (const delay of [...byDelay.keys()].sort((a, b) => a - b)) {
        // A reply due now goes out now: even a 0 ms timer waits for the next timers phase (≥ 1 ms),
        // which was a tenth of a 100-guest event's invitation -> summary time.
        const wait = started + delay - Date.now();
        if (wait > 0) await sleep(wait, this.hurry.signal);
        await this.send(byDelay.get(delay)!);
      }
    } catch (error) {
      return retry(error);
    }
    return ack;
  };

  private async send(plans: PlannedReply[]): Promise<void> {
    const now = new Date().toISOString();
    await this.producer.addMany(plans.map((p) => ({ stream: streams.responses, fields: replyFields({ ...p.reply!, timestamp: now }) })));
    // One counter update per reply value, not per reply (label hashing is per call).
    const counts = { yes: 0, no: 0, maybe: 0 };
    for (const { reply } of plans) counts[reply!.response] += 1;
    for (const [reply, n] of Object.entries(counts)) if (n > 0) this.replies.inc({ reply, persona_group: this.config.personaGroup }, n);
    if (!this.verbose) return;
    for (const { reply, guest } of plans) {
      this.log.info(
        { eventId: reply!.invitationId, guestId: guest.id, reply: reply!.response },
        `${icons[reply!.response]} ${guest.name} replied ${reply!.response.toUpperCase()}: "${reply!.message}"`,
      );
    }
  }
}

/** Keeps the agent's registration alive; re-registers when Redis lost it. */
export async function heartbeat(registry: GuestRegistry, register: () => Promise<void>, agentId: string): Promise<void> {
  const alive = await registry.heartbeat(agentId);
  if (!alive) await register();
}
