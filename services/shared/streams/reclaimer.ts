import type { ConsumerScope } from './consumer-scope.ts';
import type { StreamEntry } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import type { PendingClaims } from './pending-claims.ts';

/** Pending entries one reclaim call looks at per entry it may take (XAUTOCLAIM looks at 10). */
const scanPerEntry = 10;

/**
 * Takes over entries left idle past the claim timeout (a dead replica's work, or work of this
 * process that nobody kept alive), with their delivery counts, in one script call per run
 * (pending-claims.ts): a reply lost with the connection leaves no entry claimed without its count.
 */
export class Reclaimer {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly claims: PendingClaims;
  private readonly dispatch: (entries: StreamEntry[]) => void;
  /** Entries the blocking read in progress may still return: reclaim leaves room for them. */
  private readonly reading: () => number;
  private cursor = '0-0';

  constructor(deps: { scope: ConsumerScope; inFlight: InFlight; claims: PendingClaims; dispatch: (entries: StreamEntry[]) => void; reading: () => number }) {
    this.scope = deps.scope;
    this.inFlight = deps.inFlight;
    this.claims = deps.claims;
    this.dispatch = deps.dispatch;
    this.reading = deps.reading;
  }

  async run(): Promise<void> {
    const { connections, settings, metrics, labels, log } = this.scope;
    if (!connections.isReady()) return;
    const room = this.inFlight.room - this.reading();
    if (room <= 0) return;
    const take = Math.min(room, settings.batchSize);
    const page = await this.claims.idle(this.cursor, Math.min(1_000, take * scanPerEntry), take, settings.claimIdleMs);
    this.cursor = page.cursor;
    // Entries this process is handling whose lease lapsed (the keep-alive could not reach Redis,
    // or another consumer took them and died too) are claimed back, which renews their lease.
    const entries: StreamEntry[] = [];
    const now = Date.now();
    for (const entry of page.entries) {
      const held = this.inFlight.get(entry.id);
      if (held) Object.assign(held, { touched: now, lost: false });
      else entries.push(entry);
    }
    if (entries.length === 0) return;
    metrics?.reclaimed.inc(labels, entries.length);
    log.info({ count: entries.length }, 'reclaimed entries abandoned by another consumer');
    this.dispatch(entries);
  }
}
