import { SigningKey, mintToken } from '../../services/host/auth/tokens.ts';
import { entryIdTime } from '../../services/shared/util/time.ts';
import { type BenchProcess, type LogLine, benchJwtSecret } from './stack.ts';

export interface SummarySeen {
  eventId: string;
  /** Time of the invitation entry (its stream id), ms. */
  publishedAt: number;
  /** When the host logged the summary as received, ms. */
  receivedAt: number;
  invited: number;
  answered: number;
  reason: string;
}

/**
 * Publishes invitations through the real host (POST /api/events) and learns about summaries from
 * the host's own "summary received" log lines, so latency is measured from the invitation entry
 * being added to the host having the summary, with no extra reader in between.
 */
export class EventDriver {
  private readonly host: BenchProcess;
  private readonly published = new Map<string, number>();
  private readonly received = new Map<string, { receivedAt: number; line: LogLine }>();
  private readonly waiters = new Map<string, (s: SummarySeen) => void>();
  private readonly listeners = new Set<(s: SummarySeen) => void>();
  /** Summaries that arrived before anyone asked for them. */
  private readonly done = new Map<string, SummarySeen>();
  private readonly detach: () => void;
  summaries = 0;

  private token: string | undefined;

  constructor(host: BenchProcess) {
    this.host = host;
    this.detach = host.onLog((line) => {
      if (typeof line.msg !== 'string' || !line.msg.startsWith('📊 summary received')) return;
      const eventId = String(line.eventId);
      this.received.set(eventId, { receivedAt: Date.parse(String(line.time)), line });
      this.summaries += 1;
      this.settle(eventId);
    });
  }

  /** Publishes one invitation; resolves with the invitation entry's time. */
  async publish(id: string, eventName = 'Benchmark event'): Promise<number> {
    const requestedAt = Date.now();
    this.token ??= await mintToken(new SigningKey(benchJwtSecret), { role: 'host', sub: 'bench', ttlSeconds: 24 * 3_600 });
    const res = await this.host.fetch('/api/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ id, event_name: eventName, event_date: '2030-01-01', event_time: '18:00', location: 'Bench hall', description: 'load' }),
    });
    if (res.status !== 202) throw new Error(`POST /api/events answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { entry_id: string | null };
    // The entry id comes back also when the host's outbox drainer published the revision before the
    // call's own publish step (a saturated machine); null would be a duplicate, which fresh ids are
    // not. The request's time stays as a fallback, which can only be earlier.
    const at = body.entry_id ? entryIdTime(body.entry_id) : requestedAt;
    this.published.set(id, at);
    this.settle(id);
    return at;
  }

  /** Resolves when the host has received the summary of `id`. */
  waitFor(id: string, timeoutMs: number): Promise<SummarySeen> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no summary for ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = this.done.get(id);
      if (done) {
        this.done.delete(id);
        clearTimeout(timer);
        resolve(done);
        return;
      }
      this.waiters.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  onSummary(listener: (s: SummarySeen) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.detach();
  }

  private settle(id: string): void {
    const publishedAt = this.published.get(id);
    const got = this.received.get(id);
    if (publishedAt === undefined || got === undefined) return;
    this.published.delete(id);
    this.received.delete(id);
    const l = got.line;
    const seen: SummarySeen = {
      eventId: id,
      publishedAt,
      receivedAt: got.receivedAt,
      invited: Number(l.invited),
      answered: Number(l.yes) + Number(l.no) + Number(l.maybe),
      reason: String(l.reason),
    };
    for (const listener of this.listeners) listener(seen);
    const waiter = this.waiters.get(id);
    if (waiter) {
      this.waiters.delete(id);
      waiter(seen);
    } else if (this.listeners.size === 0) {
      this.done.set(id, seen);
    }
  }
}
