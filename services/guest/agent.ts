import type { Logger } from '../shared/logging/logger.ts';
import type { GuestRegistry } from '../shared/registry/guest-registry.ts';
import { type Delivery, parseDelivery } from '../shared/schema/delivery.ts';
import { receiptFields, replyFields } from '../shared/schema/response.ts';
import { type EntryOutcome, type StreamEntry, ack, dead, retry } from '../shared/streams/entry.ts';
import { lanes } from '../shared/streams/keys.ts';
import type { StreamProducer } from '../shared/streams/producer.ts';
import type { Metrics } from '../shared/telemetry/metrics.ts';
import { seededRandom } from '../shared/util/random.ts';
import { AgentMetrics, type DropReason } from './agent-metrics.ts';
import type { GuestConfig } from './config.ts';
import type { SimulatedGuest } from './guests.ts';
import { pick } from './personas.ts';
import { type PlannedReply, planReminder, planRequest } from './reply-maker.ts';
import { Thinking, Timeline } from './thinking.ts';

const icons: Record<string, string> = { yes: '✅', maybe: '🤔', no: '❌' };

/** Names for a log line: all of a few, the first ones of many. */
function names(guests: readonly SimulatedGuest[]): string {
  const shown = guests.slice(0, 8).map((g) => g.name).join(', ');
  return guests.length > 8 ? `${shown} and ${guests.length - 8} more` : shown;
}

/** A reply's extras for the log: plus-ones and answers. */
function extras(p: PlannedReply): string {
  const parts: string[] = [];
  if (p.reply.plusOnes > 0) parts.push(`+${p.reply.plusOnes}`);
  for (const [q, a] of Object.entries(p.reply.answers)) parts.push(`${q}: ${Array.isArray(a) ? a.join('/') || '—' : String(a)}`);
  const text = parts.join('; ');
  return text === '' ? '' : ` (${text.length > 120 ? `${text.slice(0, 119)}…` : text})`;
}

/**
 * One guest agent: the guests it hosts handle every delivery in its inboxes (the normal one and the
 * priority lane). A request is answered after each guest's think time, perhaps changed later; a
 * reminder hurries guests still thinking and may get an answer from those who had none; a
 * cancellation stops guests still thinking; details, start reminders and promotions are noted. A
 * delivery is acknowledged only when every reply it asked for is on its lane of `guest_responses`;
 * after a crash it is handled again and the guests send the same replies with the same revs (the
 * coordinator counts each (guest, sequence, reply_rev) once). On shutdown, guests still thinking
 * answer at once.
 */
export class GuestAgent {
  readonly guests: Map<string, SimulatedGuest>;
  private readonly config: GuestConfig;
  private readonly producer: StreamProducer;
  private readonly log: Logger;
  private readonly metrics: AgentMetrics;
  private readonly thinking = new Thinking();
  private readonly verbose: boolean;
  /** STREAM_PARTITIONS: replies go to the event's partition of guest_responses. */
  private readonly partitions: number;

  constructor(deps: { guests: SimulatedGuest[]; config: GuestConfig; producer: StreamProducer; log: Logger; metrics: Metrics; partitions?: number }) {
    this.partitions = deps.partitions ?? 1;
    this.guests = new Map(deps.guests.map((g) => [g.id, g]));
    this.config = deps.config;
    this.producer = deps.producer;
    this.log = deps.log;
    this.verbose = deps.guests.length <= 20;
    this.metrics = new AgentMetrics(deps.metrics, deps.config.personaGroup);
  }

  /** Guests stop thinking and answer now (shutdown: no reply is lost to a slow persona). */
  hurryUp(): void {
    this.thinking.hurryAll();
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
    this.metrics.deliveryReceived(delivery.type, mine.length);
    try {
      switch (delivery.type) {
        case 'request':
          return await this.request(delivery, mine);
        case 'reminder':
          return await this.reminder(delivery, mine);
        case 'cancel':
          return this.cancel(delivery, mine);
        default:
          this.note(delivery, mine);
          return ack;
      }
    } catch (error) {
      return retry(error);
    }
  };

  /** Answer a request; a request read after the invitation expired is not answered but receipted. */
  private async request(delivery: Delivery, mine: SimulatedGuest[]): Promise<EntryOutcome> {
    if (delivery.expiresAt !== undefined && Date.now() > delivery.expiresAt) return this.expire(delivery, mine);
    const { invitationId: eventId, sequence, eventName } = delivery;
    // A new version asks again: what the guests were still going to say about an earlier one is moot.
    const superseded = this.thinking.supersede(eventId, sequence, delivery.guestIds);
    this.dropped('new_version', superseded, mine);
    if (this.verbose) {
      const what = sequence === 0 ? `📨 invitation "${eventName}" received by` : `🔄 "${eventName}" changed (sequence ${sequence}): asked again:`;
      this.log.info({ eventId, sequence, guests: mine.length }, `${what} ${names(mine)}`);
    }
    const now = Date.now();
    const plans: PlannedReply[] = [];
    for (const guest of mine) {
      const planned = planRequest(guest, delivery, this.config.seed, this.config.replyDelayScale);
      if (planned.length === 0 && this.verbose) this.log.info({ eventId, guestId: guest.id }, `🙊 ${guest.name} will not answer`);
      // A change of mind after the RSVP deadline would only be late: the guest keeps its answer.
      plans.push(...planned.filter((p) => p.kind !== 'changed' || now + p.delayMs < delivery.rsvpDeadline));
    }
    await this.thinking.run(new Timeline(eventId, sequence, plans, now), (due) => this.send(delivery, due));
    return ack;
  }

  /**
   * Guests still thinking answer now; a guest who has not answered may answer now, a tentative one
   * may firm up (their personas' rates). Those replies replace any change of mind still planned.
   */
  private async reminder(delivery: Delivery, mine: SimulatedGuest[]): Promise<EntryOutcome> {
    const { invitationId: eventId, sequence, eventName } = delivery;
    if (this.verbose) {
      const when = delivery.reminder === undefined ? '' : ` (${delivery.reminder} min before the RSVP deadline)`;
      this.log.info({ eventId, sequence, guests: mine.length }, `⏰ reminder about "${eventName}"${when} for ${names(mine)}`);
    }
    const plans: PlannedReply[] = [];
    for (const guest of mine) {
      if (this.thinking.hurry(eventId, sequence, guest.id) && this.verbose) this.log.info({ eventId, guestId: guest.id }, `⏩ ${guest.name} answers at once`);
      const plan = planReminder(guest, delivery, this.config.seed, this.config.replyDelayScale);
      if (plan === null) continue;
      this.thinking.dropChanges(eventId, sequence, guest.id);
      plans.push(plan);
    }
    await this.thinking.run(new Timeline(eventId, sequence, plans), (due) => this.send(delivery, due));
    return ack;
  }

  /** The event is cancelled (scope event), or these guests were removed from it (scope guest): guests still thinking stop. */
  private cancel(delivery: Delivery, mine: SimulatedGuest[]): EntryOutcome {
    const { invitationId: eventId, eventName } = delivery;
    const whole = delivery.scope !== 'guest';
    const stopped = this.thinking.stop(eventId, whole ? undefined : mine.map((g) => g.id));
    this.dropped(whole ? 'cancelled' : 'removed', stopped, [...this.guests.values()]);
    if (!this.verbose) return ack;
    for (const guest of mine) {
      const reaction = pick(guest.behaviour.cancellation.messages, seededRandom('cancel', this.config.seed, eventId, guest.id, delivery.sequence));
      const say = reaction ? `: "${reaction}"` : '';
      const stop = stopped.has(guest.id) ? ' (stops thinking, sends nothing)' : '';
      const line = whole ? `🚫 "${eventName}" is cancelled; ${guest.name}${stop}${say}` : `🚪 ${guest.name} is no longer invited to "${eventName}"${stop}${say}`;
      this.log.info({ eventId, guestId: guest.id, scope: delivery.scope ?? 'event' }, line);
    }
    return ack;
  }

  /** Deliveries that need no answer: new details, the start is near, a seat off the waitlist. */
  private note(delivery: Delivery, mine: SimulatedGuest[]): void {
    if (!this.verbose) return;
    const { invitationId: eventId, eventName, type } = delivery;
    const fields = { eventId, type, guests: mine.length };
    if (type === 'details') this.log.info(fields, `📝 new details of "${eventName}" noted by ${names(mine)}`);
    else if (type === 'start_reminder') {
      const when = delivery.reminder === undefined ? 'soon' : `in ${delivery.reminder} min`;
      this.log.info(fields, `🔔 "${eventName}" starts ${when}: ${names(mine)} ${mine.length === 1 ? 'is' : 'are'} on the way`);
    } else if (type === 'promoted') this.log.info(fields, `🎟️ off the waitlist: ${names(mine)} now ${mine.length === 1 ? 'has a seat' : 'have seats'} at "${eventName}"`);
  }

  /**
   * A request read after the invitation expired: the guests were never asked. Each gets an
   * `expired` receipt (same id on a redelivery; the coordinator records a guest once), then the
   * delivery is dead-lettered with reason `expired`.
   */
  private async expire(delivery: Delivery, mine: SimulatedGuest[]): Promise<EntryOutcome> {
    const { invitationId: eventId, sequence, eventName } = delivery;
    const timestamp = new Date().toISOString();
    const stream = lanes.responses(delivery.priority, delivery.invitationId, this.partitions);
    await this.producer.addMany(
      mine.map((g) => ({
        stream,
        fields: receiptFields({ id: `receipt:${eventId}:${sequence}:${g.id}`, invitationId: eventId, guestId: g.id, guestName: g.name, sequence, receipt: 'expired', timestamp }),
      })),
    );
    this.metrics.deliveryExpired();
    const expiredAt = new Date(delivery.expiresAt!).toISOString();
    if (this.verbose) this.log.info({ eventId, sequence, guests: mine.length }, `⌛ invitation "${eventName}" expired at ${expiredAt} before ${names(mine)} read it: never asked`);
    return dead(`expired: invitation ${eventId} (sequence ${sequence}) expired at ${expiredAt}, before agent ${this.config.agentId} read it; receipts sent for ${mine.length} guests`);
  }

  private dropped(reason: DropReason, stopped: Set<string>, among: SimulatedGuest[]): void {
    this.metrics.repliesDropped(reason, stopped.size);
    if (!this.verbose || stopped.size === 0) return;
    const who = among.filter((g) => stopped.has(g.id));
    if (reason === 'new_version') this.log.info({ guests: stopped.size, reason }, `🔄 ${names(who)} stop thinking about the previous version`);
  }

  /** Sends replies due now in one pipeline, on the lane of the delivery's priority. */
  private async send(delivery: Delivery, plans: PlannedReply[]): Promise<void> {
    const timestamp = new Date().toISOString();
    const stream = lanes.responses(delivery.priority, delivery.invitationId, this.partitions);
    await this.producer.addMany(plans.map((p) => ({ stream, fields: replyFields({ ...p.reply, timestamp }) })));
    // One counter update per value, not per reply (label hashing is per call).
    const counts = { yes: 0, no: 0, maybe: 0 };
    for (const { reply } of plans) counts[reply.response] += 1;
    this.metrics.repliesSent(counts);
    this.metrics.changedMind('own', plans.filter((p) => p.kind === 'changed').length);
    this.metrics.changedMind('reminder', plans.filter((p) => p.kind === 'firmed').length);
    if (!this.verbose) return;
    for (const p of plans) this.logReply(p);
  }

  private logReply(p: PlannedReply): void {
    const { reply, guest, kind } = p;
    const value = reply.response.toUpperCase();
    const fields = { eventId: reply.invitationId, guestId: guest.id, reply: reply.response, sequence: reply.sequence, replyRev: reply.replyRev };
    const said = `${extras(p)}: "${reply.message}"`;
    if (kind === 'first') this.log.info(fields, `${icons[reply.response]} ${guest.name} replied ${value}${said}`);
    else if (kind === 'changed') this.log.info(fields, `🔁 ${guest.name} changed their mind: ${p.previous!.toUpperCase()} → ${value}${said}`);
    else if (kind === 'reminded') this.log.info(fields, `⏰ ${guest.name} answered the reminder: ${icons[reply.response]} ${value}${said}`);
    else this.log.info(fields, `💪 ${guest.name} firmed up when reminded: MAYBE → ${icons[reply.response]} ${value}${said}`);
  }
}

/** Keeps the agent's registration alive; re-registers when Redis lost it. */
export async function heartbeat(registry: GuestRegistry, register: () => Promise<void>, agentId: string): Promise<void> {
  const alive = await registry.heartbeat(agentId);
  if (!alive) await register();
}
