// k6-style thresholds: `{"metric": ["p(95)<1500", "rate<0.005", "count==0"]}` evaluated against the
// run's metrics. Trends are in milliseconds; a metric without samples is reported as "no data" and
// does not fail (k6 does the same), so a profile can name metrics a server does not emit yet.
import type { Histogram } from './histogram.js';
import { percentileMs } from './histogram.js';

export type Metric =
  | { type: 'trend'; histogram: Histogram }
  | { type: 'rate'; passes: number; total: number }
  | { type: 'counter'; count: number };

export interface ThresholdResult {
  metric: string;
  expression: string;
  /** Observed value of the aggregation, null when the metric has no data. */
  observed: number | null;
  ok: boolean;
  note?: string;
}

const EXPR = /^\s*(p\(\s*(\d+(?:\.\d+)?)\s*\)|avg|min|max|med|count|rate)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

export function parseExpression(expr: string): { agg: string; percentile?: number; op: string; value: number } {
  const m = EXPR.exec(expr);
  if (!m) throw new Error(`threshold "${expr}": expected <p(N)|avg|min|max|med|count|rate> <op> <number>`);
  return { agg: m[2] ? 'p' : (m[1] as string), percentile: m[2] ? Number(m[2]) : undefined, op: m[3] as string, value: Number(m[4]) };
}

function compare(a: number, op: string, b: number): boolean {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '==': return a === b;
    default: return a !== b;
  }
}

function aggregate(m: Metric, agg: string, percentile?: number): number | null {
  if (m.type === 'trend') {
    const h = m.histogram;
    if (h.totalCount === 0) return null;
    switch (agg) {
      case 'p': return percentileMs(h, percentile as number);
      case 'med': return percentileMs(h, 50);
      case 'avg': return Math.round(h.mean) / 1000;
      case 'min': return Math.round(h.minNonZeroValue) / 1000;
      case 'max': return Math.round(h.maxValue) / 1000;
      case 'count': return h.totalCount;
    }
  } else if (m.type === 'rate') {
    if (agg === 'count') return m.total;
    if (agg === 'rate') return m.total ? m.passes / m.total : null;
  } else if (agg === 'count') return m.count;
  throw new Error(`aggregation ${agg} does not apply to a ${m.type} metric`);
}

export function evaluateThresholds(spec: Record<string, string[]>, metrics: Record<string, Metric>): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  for (const [name, exprs] of Object.entries(spec)) {
    for (const expression of exprs) {
      const e = parseExpression(expression);
      const m = metrics[name];
      if (!m) {
        out.push({ metric: name, expression, observed: null, ok: false, note: 'unknown metric' });
        continue;
      }
      const observed = aggregate(m, e.agg, e.percentile);
      if (observed === null) out.push({ metric: name, expression, observed, ok: true, note: 'no data' });
      else out.push({ metric: name, expression, observed, ok: compare(observed, e.op, e.value) });
    }
  }
  return out;
}
