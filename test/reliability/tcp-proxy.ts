import { type Server, type Socket, connect, createServer } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'reset';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Cut by a blackhole: forwards nothing, ever again (a peer that vanished sends no FIN). */
  dead: boolean;
  /** What the client sent before the pair was connected upstream (held, or not decided yet). */
  waiting: Buffer[] | undefined;
}

/**
 * A TCP proxy in front of Redis that can cut the network the two ways it fails in practice:
 * - blackhole: every byte is dropped silently, no FIN, no RST (a partition, a dead NAT entry, a
 *   host that froze). Connections open during the cut stay dead for good; connections opened during
 *   it are accepted and never answered. Only the client's own timeouts can notice.
 * - reset: every connection is reset (RST) and new ones are reset at once (a restarted peer, a
 *   firewall rejecting). Clients notice immediately.
 * `heal()` lets new connections through again.
 *
 * `hold(match)` makes new connections whose first bytes match wait, unanswered, until `release()`;
 * the others pass. A Redis client names its connection in its first command (CLIENT SETNAME), so a
 * test can choose which of a process' connections comes back first after Redis restarts.
 */
export class TcpProxy {
  private readonly target: { host: string; port: number };
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private current: ProxyMode = 'pass';
  private holdMatch: ((hello: string) => boolean) | undefined;
  private readonly held = new Set<Pair>();
  port = 0;

  constructor(targetPort: number, targetHost = '127.0.0.1') {
    this.target = { host: targetHost, port: targetPort };
  }

  get mode(): ProxyMode {
    return this.current;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async listen(port = 0): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this;
  }

  blackhole(): void {
    this.current = 'blackhole';
    for (const pair of this.pairs) pair.dead = true;
  }

  reset(): void {
    this.current = 'reset';
    for (const pair of [...this.pairs]) this.resetPair(pair);
  }

  heal(): void {
    this.current = 'pass';
  }

  /** New connections whose first bytes (as text) match wait until `release()`. */
  hold(match: (hello: string) => boolean): void {
    this.holdMatch = match;
  }

  /** Connects the held connections upstream (in the order they came) and stops holding. */
  release(): void {
    this.holdMatch = undefined;
    for (const pair of [...this.held]) this.connectUpstream(pair);
    this.held.clear();
  }

  /** Connections waiting in `hold`. */
  get holding(): number {
    return this.held.size;
  }

  /** Connections currently open through the proxy (live and dead). */
  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined, dead: this.current === 'blackhole', waiting: [] };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
      this.held.delete(pair);
    });
    if (this.current === 'reset') {
      this.resetPair(pair);
      return;
    }
    if (pair.dead) {
      // Accepted by the kernel, never answered: the handshake of the client hangs.
      client.on('data', () => undefined);
      return;
    }
    client.on('data', (chunk) => {
      if (pair.dead) return;
      if (pair.upstream) {
        pair.upstream.write(chunk);
        return;
      }
      pair.waiting!.push(chunk);
      if (pair.waiting!.length > 1 || this.held.has(pair)) return;
      // The first bytes decide whether this connection is held.
      if (this.holdMatch?.(chunk.toString('latin1'))) this.held.add(pair);
      else this.connectUpstream(pair);
    });
    if (!this.holdMatch) this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    if (pair.upstream || pair.client.destroyed) return;
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => {
      if (!pair.dead) pair.client.destroy();
    });
    upstream.on('data', (chunk) => {
      if (!pair.dead) pair.client.write(chunk);
    });
    for (const chunk of pair.waiting!.splice(0)) upstream.write(chunk);
    pair.waiting = undefined;
  }

  private resetPair(pair: Pair): void {
    this.pairs.delete(pair);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  }
}
