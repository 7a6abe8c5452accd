// The load harness' smoke profile in CI (issue "Load-test harness"): a private Chorus started by the
// harness (its own port and data dir), 200 websocket clients, open-loop sends for 30 s. It fails on
// loss, duplicates, reordering or 5xx only — never on latency, which this shared machine's noise
// makes unfit for CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSmoke } from '../../benchmarks/smoke.js';

test('smoke: every accepted message reaches every participant exactly once, in order, with no 5xx', { timeout: 240_000 }, async () => {
  const lines: string[] = [];
  const outcome = await runSmoke({ say: (l) => lines.push(l) });
  const failed = outcome.report.thresholds.filter((t) => !t.ok);
  assert.ok(outcome.ok, `smoke thresholds breached: ${JSON.stringify(failed)}\n${lines.slice(-20).join('\n')}`);
  assert.ok(outcome.report.thresholds.length > 0, 'thresholds were evaluated');
});
