import { join } from 'node:path';
import { sleep } from '../util/time.ts';
import { type ConsumerScope, reportDeleted } from './consumer-scope.ts';
import { type StreamEntry, toFields } from './entry.ts';
import { loadLuaScript, runScript, sharedScriptDir } from './scripts.ts';

const claimPendingScript = loadLuaScript(join(sharedScriptDir, 'claim-pending.lua'));

/** Margin around the start mark: TIME inside a script and XPENDING's idle may differ by 1 ms. */
const startMarginMs = 5;

export interface ClaimedPage {
  /** Where the next call goes on; '0-0' once the end of the pending list was reached. */
  cursor: string;
  entries: StreamEntry[];
}

/**
 * Claims pending entries for one consumer with their delivery counts, in one script call per
 * page (lua/claim-pending.lua): this consumer's own entries (after a restart or a reconnect), or
 * anyone's entries idle past the claim timeout (abandoned work). Only a delivery to a process that
 * is gone counts: for that it knows when this process started, in Redis' clock.
 */
export class PendingClaims {
  private readonly scope: ConsumerScope;
  /** Entries last delivered before this (ms, Redis' clock) were delivered to an earlier process. */
  private startedAt = 0;

  constructor(scope: ConsumerScope) {
    this.scope = scope;
  }

  /**
   * Marks this process' start in Redis' clock. Called once, before the consumer reads or claims
   * anything; the short pause puts every delivery to this process clearly after the mark.
   */
  async markStart(): Promise<void> {
    const [seconds, micros] = (await this.scope.connections.command.time()) as [string | number, string | number];
    this.startedAt = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + startMarginMs;
    await sleep(2 * startMarginMs);
  }

  /** This consumer's own pending entries after `cursor`, at most `take` of them. */
  own(cursor: string, take: number): Promise<ClaimedPage> {
    return this.claim('own', cursor, take, take, 0);
  }

  /** Anyone's entries idle for `minIdleMs` or more after `cursor`, looking at `scan` at most. */
  idle(cursor: string, scan: number, take: number, minIdleMs: number): Promise<ClaimedPage> {
    return this.claim('idle', cursor, scan, take, minIdleMs);
  }

  private async claim(mode: 'own' | 'idle', cursor: string, scan: number, take: number, minIdleMs: number): Promise<ClaimedPage> {
    const { connections, stream, group, consumer } = this.scope;
    const [next, raw, deleted] = await runScript<[string, [string, string[], number][], string[]]>(
      connections.command,
      claimPendingScript,
      [stream],
      [group, consumer, mode, cursor, scan, take, minIdleMs, this.startedAt],
    );
    if (deleted.length > 0) reportDeleted(this.scope, deleted);
    return { cursor: next, entries: raw.map(([id, flat, deliveries]) => ({ id, fields: toFields(flat), deliveries: Number(deliveries) })) };
  }
}
