// Small hand-written SVG line charts: no chart library, readable on GitHub in light and dark mode
// (white background drawn in), deterministic output so a re-run only changes the numbers.

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  color?: string;
  /** Draw as a dashed horizontal reference line at this y instead of points. */
  level?: number;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 6): number[] {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e += 1) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

export const compact = (v: number): string =>
  Math.abs(v) >= 1e6 ? `${Number((v / 1e6).toPrecision(3))}M` : Math.abs(v) >= 1e3 ? `${Number((v / 1e3).toPrecision(3))}k` : `${Number(v.toPrecision(3))}`;

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 760;
  // The legend wraps onto more lines when the series names do not fit on one.
  const legend: { series: Series; index: number; x: number; row: number }[] = [];
  let cursor = 72;
  let row = 0;
  spec.series.forEach((series, index) => {
    const w = 40 + series.name.length * 6.6;
    if (cursor + w > width - 24 && cursor > 72) {
      cursor = 72;
      row += 1;
    }
    legend.push({ series, index, x: cursor, row });
    cursor += w;
  });
  const height = (spec.height ?? 420) + row * 18;
  const m = { left: 72, right: 24, top: spec.subtitle ? 62 : 44, bottom: 84 + row * 18 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = spec.series.flatMap((s) => s.points);
  const levels = spec.series.filter((s) => s.level !== undefined).map((s) => s.level!);
  let xMin = spec.xMin ?? Math.min(...all.map((p) => p.x));
  let xMax = Math.max(...all.map((p) => p.x));
  if (spec.xLog) xMin = Math.max(xMin, 0.1);
  if (!(xMax > xMin)) xMax = xMin + 1;
  const yMin = spec.yMin ?? Math.min(0, ...all.map((p) => p.y));
  let yMax = spec.yMax ?? Math.max(...all.map((p) => p.y), ...levels) * 1.08;
  if (!(yMax > yMin)) yMax = yMin + 1;
  const sx = (x: number) =>
    m.left + (spec.xLog ? (Math.log10(Math.max(x, xMin)) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) : (x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => m.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const fy = spec.yFormat ?? compact;
  const fx = spec.xFormat ?? compact;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="16" font-weight="600" fill="#111827">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${m.left}" y="44" fill="#4b5563">${esc(spec.subtitle)}</text>`);
  for (const v of ticks(yMin, yMax)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#374151">${esc(fy(v))}</text>`);
  }
  for (const v of spec.xLog ? logTicks(xMin, xMax) : ticks(xMin, xMax, 8)) {
    const x = sx(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + plotH}" stroke="#f3f4f6"/>`);
    out.push(`<text x="${x}" y="${m.top + plotH + 18}" text-anchor="middle" fill="#374151">${esc(fx(v))}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#9ca3af"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 40}" text-anchor="middle" fill="#111827">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#111827">${esc(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = s.color ?? palette[i % palette.length]!;
    if (s.level !== undefined) {
      const y = sy(s.level).toFixed(1);
      out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    } else if (s.points.length > 0) {
      const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`);
    }
  });
  for (const { series: s, index, x: lx, row: r } of legend) {
    const color = s.color ?? palette[index % palette.length]!;
    const ly = m.top + plotH + 66 + r * 18;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.level !== undefined ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle" fill="#111827">${esc(s.name)}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
