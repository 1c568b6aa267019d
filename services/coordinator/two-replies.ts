/** The replies of a pipeline of two commands; throws the first error (or a missing reply). */
export function twoReplies(read: [Error | null, unknown][] | null, what: string): [(string | null)[], (string | null)[]] {
  const first = read?.[0]?.[1] as (string | null)[] | undefined;
  const second = read?.[1]?.[1] as (string | null)[] | undefined;
  if (!first || !second) throw read?.[0]?.[0] ?? read?.[1]?.[0] ?? new Error(`${what}: no reply from Redis`);
  return [first, second];
}
