import { join } from 'node:path';
import { type ConsumerScope, reportDeleted } from './consumer-scope.ts';
import type { InFlight } from './in-flight.ts';
import { loadLuaScript, runScript, sharedScriptDir } from './scripts.ts';

const keepAliveScript = loadLuaScript(join(sharedScriptDir, 'keep-alive.lua'));

/** Entries per keep-alive script call: keeps each call short. */
const idsPerCall = 1_000;

/**
 * The lease on entries still being handled (a slow handler, a guest thinking, a retry waiting for
 * its backoff): their idle time is reset well before `claimIdleMs`, so no other consumer reclaims
 * work that is still going on. Kept apart from the reader, as BullMQ keeps its lock manager apart
 * from its worker: a read that blocks, or a handler that hogs the loop between awaits, must not
 * delay the lease.
 */
export class KeepAlive {
  private readonly scope: ConsumerScope;
  private readonly inFlight: InFlight;

  constructor(scope: ConsumerScope, inFlight: InFlight) {
    this.scope = scope;
    this.inFlight = inFlight;
  }

  /** How often to run: a third of the claim timeout leaves two chances before it runs out. */
  get intervalMs(): number {
    return Math.max(50, Math.floor(this.scope.settings.claimIdleMs / 3));
  }

  async run(): Promise<void> {
    const { connections, stream, group, consumer, settings } = this.scope;
    if (this.inFlight.size === 0 || !connections.isReady()) return;
    const now = Date.now();
    const threshold = settings.claimIdleMs / 3;
    const ids: string[] = [];
    for (const [id, item] of this.inFlight) {
      if (!item.lost && now - item.touched >= threshold) ids.push(id);
    }
    for (let i = 0; i < ids.length; i += idsPerCall) {
      const slice = ids.slice(i, i + idsPerCall);
      // XCLAIM JUSTID, for entries still ours: resets the idle time without counting a delivery.
      const [deleted, lost] = await runScript<[string[], string[]]>(connections.command, keepAliveScript, [stream], [group, consumer, ...slice]);
      for (const id of slice) {
        const item = this.inFlight.get(id);
        if (item) item.touched = now;
      }
      for (const id of lost) {
        const item = this.inFlight.get(id);
        if (item) item.lost = true;
      }
      if (deleted.length > 0) reportDeleted(this.scope, deleted);
    }
  }
}
