import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenLoop } from '../generator/open-loop.js';
import { nowUs } from '../lib/clock.js';

test('interleaved slots produce one evenly spaced schedule, stamped with intended times', async () => {
  const start = nowUs() + 20_000;
  const fired: number[][] = [[], []];
  const loops = [0, 1].map((slot) => new OpenLoop(start, start + 200_000, 100, slot, 2, (t) => fired[slot]!.push(t)).start());
  await new Promise((r) => setTimeout(r, 300));
  loops.forEach((l) => l.stop());
  const all = [...fired[0]!, ...fired[1]!].sort((a, b) => a - b);
  assert.equal(all.length, 20);
  all.forEach((t, i) => assert.ok(Math.abs(t - (start + i * 10_000)) < 1e-6));
});
