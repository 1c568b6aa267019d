import type { Redis } from 'ioredis';
import { type RedisClient, nodesOf } from './redis-client.ts';

/**
 * Drops a connection on which commands wait for a reply while no byte has come back for
 * `timeoutMs`: a peer that vanished without FIN or RST, a proxy or NAT that still takes bytes, a
 * Redis that hangs. TCP keep-alive notices none of these.
 *
 * ioredis 5 has this built in (`socketTimeout`), but its timer belongs to the client, not to the
 * socket it was armed for: when that socket closes with a command in flight, the timer survives the
 * reconnect and later destroys the new, healthy socket (ioredis#2147; fixed in 6.x by #2148, whose
 * parser costs this system ~14 % RSVP/s, docs/BENCHMARKS.md). This watchdog holds no timer per
 * command: each tick it looks at the client's current socket and its byte count, so it can only
 * ever drop the very socket it watched stay silent, and a new socket starts with a clean slate.
 * A cluster client is watched node connection by node connection.
 */
export class SocketWatchdog {
  private readonly client: RedisClient;
  private readonly timeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly watched = new WeakMap<Redis, SocketState>();

  constructor(client: RedisClient, timeoutMs: number) {
    this.client = client;
    this.timeoutMs = timeoutMs;
    // Fires between timeoutMs and timeoutMs + one tick after the silence began.
    this.timer = setInterval(() => this.check(), tickMs(timeoutMs));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at each connection. */
  private check(now = Date.now()): void {
    for (const node of nodesOf(this.client)) {
      let state = this.watched.get(node);
      if (!state) this.watched.set(node, (state = { socket: undefined, bytesRead: 0, silentSince: undefined }));
      this.checkNode(node, state, now);
    }
  }

  private checkNode(client: Redis, state: SocketState, now: number): void {
    const socket = client.stream as Redis['stream'] | undefined;
    // Handshake commands (CLIENT SETNAME, the INFO ready check) are in this queue too, so a
    // reconnect whose handshake never gets an answer is dropped as well.
    const waiting = socket !== undefined && !socket.destroyed && client.commandQueue.length > 0;
    if (!waiting) {
      state.silentSince = undefined;
      return;
    }
    if (socket !== state.socket || socket.bytesRead !== state.bytesRead || state.silentSince === undefined) {
      state.socket = socket;
      state.bytesRead = socket.bytesRead;
      state.silentSince = now;
      return;
    }
    if (now - state.silentSince >= this.timeoutMs) {
      state.silentSince = undefined;
      socket.destroy(new Error(`Socket timeout: no reply within ${this.timeoutMs} ms while commands were waiting`));
    }
  }
}

interface SocketState {
  socket: Redis['stream'] | undefined;
  bytesRead: number;
  /** Since when commands have waited on `socket` with no byte received; undefined while none wait. */
  silentSince: number | undefined;
}

function tickMs(timeoutMs: number): number {
  return Math.max(25, Math.min(1_000, Math.floor(timeoutMs / 4)));
}
