// A dependency-free line chart as inline SVG (the HTML report carries no external assets).
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Keeps at most `max` points, taking the largest y of each bin so that spikes stay visible. */
function downsample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const bin = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += bin) {
    const chunk = points.slice(i, i + bin);
    out.push(chunk.reduce((a, b) => (b[1] > a[1] ? b : a)));
  }
  return out;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function lineChart(o: { title: string; yLabel: string; series: Series[]; bands?: { from: number; to: number; label: string }[]; width?: number; height?: number }): string {
  const W = o.width ?? 900;
  const H = o.height ?? 260;
  const L = 60, R = 150, T = 28, B = 34;
  const all = o.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = niceMax(Math.max(0, ...all.map((p) => p[1])));
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`];
  parts.push(`<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(o.title)}</text>`);
  for (const [i, b] of (o.bands ?? []).entries()) {
    parts.push(`<rect x="${x(b.from)}" y="${T}" width="${Math.max(0, x(b.to) - x(b.from))}" height="${H - T - B}" fill="${i % 2 ? '#f4f4f4' : '#fafafa'}"/>`);
    parts.push(`<text x="${x(b.from) + 3}" y="${T + 11}" fill="#999">${esc(b.label)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 5}" y="${y(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = Math.round((xMax * i) / 5);
    parts.push(`<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${v}s</text>`);
  }
  parts.push(`<text transform="translate(14 ${(H - B + T) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const [i, s] of o.series.entries()) {
    const pts = downsample(s.points, 900);
    if (pts.length) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<rect x="${W - R + 12}" y="${T + i * 16}" width="10" height="10" fill="${s.color}"/><text x="${W - R + 26}" y="${T + i * 16 + 9}">${esc(s.name)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
