// Wall-clock times in an IANA zone <-> instants, with the platform's Intl (no date library in the
// page): a deadline typed as 18:00 means 18:00 where the event happens, not where the browser is.

function wallClockMs(instantMs: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instantMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** "2026-05-01T18:00" in `zone` → "2026-05-01T16:00:00.000Z"; undefined when either cannot be read. */
export function zonedToIso(local: string, zone: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!m || !validZone(zone)) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  if (Number.isNaN(wall)) return undefined;
  // The zone's offset at the guess, then again at the result (a DST change between the two).
  let instant = wall - (wallClockMs(wall, zone) - wall);
  instant = wall - (wallClockMs(instant, zone) - instant);
  return new Date(instant).toISOString();
}

/** An instant as a datetime-local value ("YYYY-MM-DDTHH:MM") on the wall clock of `zone`. */
export function isoToZoned(iso: string, zone: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const wall = new Date(wallClockMs(ms, validZone(zone) ? zone : 'UTC'));
  return wall.toISOString().slice(0, 16);
}

/** "2 d 03:04:05", "04:05", or "passed": what is left until `targetMs`. */
export function countdown(targetMs: number, nowMs: number): string {
  const left = Math.floor((targetMs - nowMs) / 1000);
  if (left <= 0) return 'passed';
  const d = Math.floor(left / 86_400);
  const h = Math.floor((left % 86_400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  const clock = h > 0 || d > 0 ? `${two(h)}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
  return d > 0 ? `${d} d ${clock}` : clock;
}
