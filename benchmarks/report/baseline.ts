// --baseline FILE: headline figures of this run next to those of an earlier report.
import fs from 'node:fs';
import type { Report } from './model.js';

export interface FigureDelta {
  figure: string;
  baseline: number | null;
  current: number | null;
  delta: number | null;
  deltaPct: number | null;
}

export function compareFigures(current: Record<string, number>, baseline: Record<string, number>): FigureDelta[] {
  const keys = [...new Set([...Object.keys(baseline), ...Object.keys(current)])];
  return keys.map((figure) => {
    const b = baseline[figure] ?? null;
    const c = current[figure] ?? null;
    const delta = b !== null && c !== null ? Math.round((c - b) * 1000) / 1000 : null;
    const deltaPct = delta !== null && b ? Math.round((delta / Math.abs(b)) * 1000) / 10 : null;
    return { figure, baseline: b, current: c, delta, deltaPct };
  });
}

export function loadBaseline(file: string): Report {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  if (!r.figures) throw new Error(`${file} is not a benchmark report (no figures)`);
  return r;
}

export function renderDeltas(deltas: FigureDelta[], baselineName: string): string {
  const f = (v: number | null) => (v === null ? '–' : String(v));
  const rows = deltas.map((d) => `| ${d.figure} | ${f(d.baseline)} | ${f(d.current)} | ${d.delta === null ? '–' : (d.delta > 0 ? '+' : '') + d.delta} | ${d.deltaPct === null ? '–' : (d.deltaPct > 0 ? '+' : '') + d.deltaPct + '%'} |`);
  return [`## Against baseline ${baselineName}`, '', '| figure | baseline | current | Δ | Δ% |', '|---|---|---|---|---|', ...rows, ''].join('\n');
}
