// Queue lag from the processors' /metrics: bucket deltas over the run, every group summed, and the
// queue_lag threshold the steady profiles judge (seed 6.2: sustained queue lag < 60 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheus, queueLagBuckets, serverView } from '../lib/server-metrics.js';
import { loadProfile } from '../lib/profile.js';

const text = (n: Record<string, [number, number, number]>) => Object.entries(n).map(([queue, [a, b, inf]]) => [
  `chorus_processor_event_age_seconds_bucket{le="0.1",queue="${queue}"} ${a}`,
  `chorus_processor_event_age_seconds_bucket{le="60",queue="${queue}"} ${b}`,
  `chorus_processor_event_age_seconds_bucket{le="+Inf",queue="${queue}"} ${inf}`,
].join('\n')).join('\n');

test('queue lag buckets: the run\'s delta per bucket, summed over groups, non-cumulative', () => {
  const before = parsePrometheus(text({ persist: [10, 10, 10], counters: [5, 5, 5] }));
  const after = parsePrometheus(text({ persist: [110, 115, 116], counters: [55, 57, 57] }));
  assert.deepEqual(queueLagBuckets(before, after), [[0.1, 150], [60, 7], [Infinity, 1]]);
  assert.equal(queueLagBuckets(before, null), null);
});

test('serverView: queue lag only when the processors answered', () => {
  const s = parsePrometheus(text({ persist: [1, 1, 1] }));
  assert.equal(serverView(null, null).queueLag, null);
  assert.deepEqual(serverView(null, null, { before: null, after: s }).queueLag, [[0.1, 1], [60, 0], [Infinity, 0]]);
});

test('the steady profiles judge queue lag against the seed\'s 60 s', () => {
  for (const name of ['steady', 'steady-10x', 'burst', 'hot-tenant', 'reconnect-storm']) {
    assert.deepEqual(loadProfile(name).thresholds['queue_lag'], ['p(99)<60000'], name);
  }
});
