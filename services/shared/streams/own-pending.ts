import { backoffMs, sleep } from '../util/time.ts';
import { type ConsumerScope, errorText } from './consumer-scope.ts';
import type { StreamEntry } from './entry.ts';
import type { InFlight } from './in-flight.ts';
import type { PendingClaims } from './pending-claims.ts';

/**
 * Takes up the entries pending under this consumer's name that it is not handling: at start (what
 * the process had when it died) and after every reconnect (what Redis delivered into a reply that
 * was lost, what could not be acknowledged). It reads them with XPENDING and claims them in one
 * script on the command connection, without XREADGROUP … 0, which counts a delivery for every
 * entry it returns, also for the ones still in flight here, and again on every retry: after a
 * Redis restart that made healthy work look like a crash loop (suspects, dead letters). Now only
 * a delivery to an earlier process counts (pending-claims.ts).
 */
export class OwnPending {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;
  private readonly claims: PendingClaims;
  private readonly dispatch: (entries: StreamEntry[]) => void;
  private requested = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(scope: ConsumerScope, inFlight: InFlight, claims: PendingClaims, dispatch: (entries: StreamEntry[]) => void) {
    this.scope = scope;
    this.inFlight = inFlight;
    this.claims = claims;
    this.dispatch = dispatch;
  }

  /** Asks for a pass over the own pending list; passes run one at a time, one more if asked meanwhile. */
  request(): void {
    this.requested = true;
    this.wake?.();
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once no pass runs (after close, passes stop at the next step). */
  async settled(): Promise<void> {
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { stopped, log } = this.scope;
    let failures = 0;
    while (this.requested && !stopped.aborted) {
      this.requested = false;
      try {
        await this.pass();
        failures = 0;
      } catch (error) {
        // Redis not reachable (yet): try again soon, at once when a reconnect asks again.
        this.requested = true;
        failures += 1;
        log.debug({ err: errorText(error) }, 'could not read own pending entries; trying again');
        await Promise.race([sleep(backoffMs(failures, 100, 1_000), stopped), new Promise<void>((resolve) => (this.wake = resolve))]);
        this.wake = undefined;
      }
    }
  }

  private async pass(): Promise<void> {
    const { connections, settings, stopped, log } = this.scope;
    let cursor = '0-0';
    let resumed = 0;
    do {
      await this.inFlight.waitForRoom(stopped);
      if (stopped.aborted) return;
      if (!connections.isReady()) throw new Error('command connection not ready');
      const page = await this.claims.own(cursor, Math.max(1, Math.min(settings.batchSize, this.inFlight.room)));
      cursor = page.cursor;
      const fresh = page.entries.filter((entry) => !this.inFlight.has(entry.id));
      resumed += fresh.length;
      this.dispatch(fresh);
    } while (cursor !== '0-0');
    if (resumed > 0) log.info({ count: resumed }, 'resuming own pending entries');
  }
}
