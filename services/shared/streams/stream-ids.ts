/** Stream entry ids ("<ms>-<seq>") compared numerically. */
export function compareIds(a: string, b: string): number {
  const [am, as] = split(a);
  const [bm, bs] = split(b);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

function split(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** The smallest id after `id` (XTRIM MINID keeps `id` itself; this boundary lets it go too). */
export function nextId(id: string): string {
  const [ms, seq] = split(id);
  return seq === 18446744073709551615n ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

export function minId(a: string, b: string): string {
  return compareIds(a, b) <= 0 ? a : b;
}

/** XINFO replies are flat [name, value, ...] lists; this reads them as objects. */
export function infoObject(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
