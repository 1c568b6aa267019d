import { sleep } from '../shared/util/time.ts';
import type { PlannedReply } from './reply-maker.ts';

interface Step {
  plan: PlannedReply;
  /** Clock time (ms) it is due. */
  dueAt: number;
  /** Sent, or dropped (the guest stopped thinking, or a later reply replaced it). */
  settled: boolean;
}

/**
 * The replies one delivery asked for, each sent when due. Replies due at the same moment go out in
 * one pipeline, in plan order (a guest's first answer before its change of mind). Guests can be
 * stopped (a cancellation, a new version: their pending replies are dropped) or hurried (a reminder:
 * the first answer goes out now) while the timeline waits.
 */
export class Timeline {
  readonly eventId: string;
  readonly sequence: number;
  private readonly queue: Step[];
  private readonly byGuest = new Map<string, Step[]>();
  private readonly urgent: Step[] = [];
  private cursor = 0;
  private hurried = false;
  private wake = new AbortController();

  constructor(eventId: string, sequence: number, plans: PlannedReply[], now = Date.now()) {
    this.eventId = eventId;
    this.sequence = sequence;
    // A stable sort keeps plan order among replies due at the same moment.
    this.queue = plans.map((plan) => ({ plan, dueAt: now + plan.delayMs, settled: false })).sort((a, b) => a.dueAt - b.dueAt);
    for (const step of this.queue) {
      const list = this.byGuest.get(step.plan.guest.id) ?? [];
      list.push(step);
      this.byGuest.set(step.plan.guest.id, list);
    }
  }

  /** Guests with replies still to send. */
  get guestIds(): string[] {
    return [...this.byGuest.keys()];
  }

  has(guestId: string): boolean {
    return this.byGuest.has(guestId);
  }

  /** Drops the guest's pending replies (all, or those of one kind); returns how many were dropped. */
  drop(guestId: string, kind?: PlannedReply['kind']): number {
    const steps = this.byGuest.get(guestId);
    if (!steps) return 0;
    let dropped = 0;
    for (const step of steps) {
      if (step.settled || (kind !== undefined && step.plan.kind !== kind)) continue;
      step.settled = true;
      dropped += 1;
    }
    if (steps.every((s) => s.settled)) this.byGuest.delete(guestId);
    if (dropped > 0) this.wake.abort();
    return dropped;
  }

  /** The guest's first answer goes out now, if it is still to come. */
  hurry(guestId: string): boolean {
    const first = this.byGuest.get(guestId)?.find((s) => s.plan.kind === 'first' && !s.settled);
    if (!first || first.dueAt <= Date.now()) return false;
    this.urgent.push(first);
    this.wake.abort();
    return true;
  }

  /** Everything still to come goes out now (shutdown). */
  hurryAll(): void {
    this.hurried = true;
    this.wake.abort();
  }

  /** Sends every reply when it is due; resolves when none is left. A failed send rejects (the delivery is retried whole). */
  async run(send: (plans: PlannedReply[]) => Promise<void>): Promise<void> {
    for (;;) {
      const due = this.takeDue(Date.now());
      if (due.length > 0) {
        await send(due.map((s) => s.plan));
        for (const step of due) this.settled(step);
        continue;
      }
      const next = this.nextDueAt();
      if (next === undefined) return;
      if (this.wake.signal.aborted) this.wake = new AbortController();
      // A reply due now goes out now: even a 0 ms timer waits for the next timers phase (≥ 1 ms),
      // which was a tenth of a 100-guest event's invitation -> summary time.
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait, this.wake.signal);
    }
  }

  private takeDue(now: number): Step[] {
    const due: Step[] = [];
    const taken = new Set<Step>();
    const take = (step: Step) => {
      if (step.settled || taken.has(step)) return;
      taken.add(step);
      due.push(step);
    };
    // A hurried first answer, and any reply of its guest due before it was hurried, in plan order.
    for (const step of this.urgent.splice(0)) take(step);
    while (this.cursor < this.queue.length && (this.hurried || this.queue[this.cursor]!.dueAt <= now)) take(this.queue[this.cursor++]!);
    return due;
  }

  private nextDueAt(): number | undefined {
    while (this.cursor < this.queue.length && this.queue[this.cursor]!.settled) this.cursor += 1;
    return this.queue[this.cursor]?.dueAt;
  }

  private settled(step: Step): void {
    step.settled = true;
    const steps = this.byGuest.get(step.plan.guest.id);
    if (steps?.every((s) => s.settled)) this.byGuest.delete(step.plan.guest.id);
  }
}

/**
 * Who is thinking about what, across every delivery this agent is handling (both inboxes): the
 * timelines per event. Memory only: after a crash, redelivered deliveries rebuild it, and every reply
 * a guest would send is the same (reply-maker.ts).
 */
export class Thinking {
  private readonly byEvent = new Map<string, Set<Timeline>>();
  private hurried = false;

  /** Runs a timeline, registered while it has replies to send. */
  async run(timeline: Timeline, send: (plans: PlannedReply[]) => Promise<void>): Promise<void> {
    if (this.hurried) timeline.hurryAll();
    const set = this.byEvent.get(timeline.eventId) ?? new Set();
    set.add(timeline);
    this.byEvent.set(timeline.eventId, set);
    try {
      await timeline.run(send);
    } finally {
      set.delete(timeline);
      if (set.size === 0 && this.byEvent.get(timeline.eventId) === set) this.byEvent.delete(timeline.eventId);
    }
  }

  private timelines(eventId: string, which: (t: Timeline) => boolean = () => true): Timeline[] {
    return [...(this.byEvent.get(eventId) ?? [])].filter(which);
  }

  /**
   * The guests stop thinking about the event (all of its guests here when `guestIds` is undefined):
   * their pending replies are dropped. Returns the guests that had replies pending.
   */
  stop(eventId: string, guestIds?: readonly string[], which?: (t: Timeline) => boolean): Set<string> {
    const stopped = new Set<string>();
    for (const timeline of this.timelines(eventId, which)) {
      for (const id of guestIds ?? timeline.guestIds) if (timeline.drop(id) > 0) stopped.add(id);
    }
    return stopped;
  }

  /** A new version asks again: thoughts about earlier sequences of the event stop. */
  supersede(eventId: string, sequence: number, guestIds: readonly string[]): Set<string> {
    return this.stop(eventId, guestIds, (t) => t.sequence < sequence);
  }

  /** Whether the guest has a reply to this sequence still to send. */
  isThinking(eventId: string, sequence: number, guestId: string): boolean {
    return this.timelines(eventId, (t) => t.sequence === sequence).some((t) => t.has(guestId));
  }

  /** A reminder: a guest still thinking about its first answer gives it now. */
  hurry(eventId: string, sequence: number, guestId: string): boolean {
    let hurried = false;
    for (const t of this.timelines(eventId, (t) => t.sequence === sequence)) hurried = t.hurry(guestId) || hurried;
    return hurried;
  }

  /** A later reply replaces the change of mind the guest still had planned for this sequence. */
  dropChanges(eventId: string, sequence: number, guestId: string): void {
    for (const t of this.timelines(eventId, (t) => t.sequence === sequence)) t.drop(guestId, 'changed');
  }

  /** Shutdown: everything still to come goes out now, also from timelines started from now on. */
  hurryAll(): void {
    this.hurried = true;
    for (const set of this.byEvent.values()) for (const t of set) t.hurryAll();
  }
}
