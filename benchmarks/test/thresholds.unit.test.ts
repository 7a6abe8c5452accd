import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateThresholds, parseExpression, type Metric } from '../lib/thresholds.js';
import { newHistogram, recordUs } from '../lib/histogram.js';

test('parses k6 expressions', () => {
  assert.deepEqual(parseExpression('p(95)<1500'), { agg: 'p', percentile: 95, op: '<', value: 1500 });
  assert.deepEqual(parseExpression(' rate >= 0.999 '), { agg: 'rate', percentile: undefined, op: '>=', value: 0.999 });
  assert.deepEqual(parseExpression('count==0'), { agg: 'count', percentile: undefined, op: '==', value: 0 });
  assert.throws(() => parseExpression('p95 < 3'));
});

test('evaluates trends in ms, rates and counters; no data passes with a note', () => {
  const h = newHistogram();
  for (let i = 1; i <= 100; i++) recordUs(h, i * 1000); // 1..100 ms
  const metrics: Record<string, Metric> = {
    e2e: { type: 'trend', histogram: h },
    empty: { type: 'trend', histogram: newHistogram() },
    ok: { type: 'rate', passes: 999, total: 1000 },
    lost: { type: 'counter', count: 2 },
  };
  const r = evaluateThresholds({ e2e: ['p(95)<=96', 'p(99)<50'], empty: ['p(99)<1'], ok: ['rate>=0.999'], lost: ['count==0'], nope: ['count==0'] }, metrics);
  assert.deepEqual(r.map((x) => x.ok), [true, false, true, true, false, false]);
  assert.equal(r[2]?.note, 'no data');
  assert.equal(r[5]?.note, 'unknown metric');
  assert.ok(Math.abs((r[1]?.observed ?? 0) - 99) < 0.1); // HdrHistogram: 3 significant digits
});
