// The gateway's recent-events cache: contiguous, bounded, and exact about what it covers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentEvents } from '../../gateway/ws/recent-events.js';
import type { StreamEvent } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';

const ev = (ms: number, n = 0): StreamEvent => ({ seq: `${ms}-${n}` as Seq, type: 'message.created', v: 1, data: '{}' });

test('covers only positions at or after its start, and ranges are (after, until]', () => {
  const r = new RecentEvents('100-0' as Seq, 10);
  for (let i = 1; i <= 5; i++) r.push(ev(100 + i));
  assert.equal(r.covers('99-0' as Seq), false);
  assert.equal(r.covers('100-0' as Seq), true);
  assert.deepEqual(r.range('100-0' as Seq, '105-0' as Seq).map((e) => e.seq), ['101-0', '102-0', '103-0', '104-0', '105-0']);
  assert.deepEqual(r.range('102-0' as Seq, '104-0' as Seq).map((e) => e.seq), ['103-0', '104-0']);
  assert.deepEqual(r.range('105-0' as Seq, '105-0' as Seq), []);
  assert.equal(r.newest, '105-0');
});

test('stays bounded and moves its start forward when trimming', () => {
  const r = new RecentEvents('0-0' as Seq, 4);
  for (let i = 1; i <= 20; i++) r.push(ev(i));
  assert.equal(r.covers('0-0' as Seq), false, 'old positions are no longer covered');
  assert.equal(r.covers('19-0' as Seq), true);
  // Whatever it still covers, it holds completely.
  const start = ['14-0', '15-0', '16-0', '17-0'].find((s) => r.covers(s as Seq)) as Seq;
  const n = Number(start.split('-')[0]);
  assert.ok(n <= 16, 'at least the capacity is kept');
  assert.deepEqual(r.range(start, '20-0' as Seq).map((e) => e.seq), Array.from({ length: 20 - n }, (_, i) => `${n + 1 + i}-0`));
  assert.ok(r.range('0-0' as Seq, '20-0' as Seq).length <= 5);
});

test('compares positions numerically, not as strings', () => {
  const r = new RecentEvents('9-0' as Seq, 10);
  r.push(ev(9, 1));
  r.push(ev(10, 0));
  r.push(ev(10, 2));
  assert.deepEqual(r.range('9-1' as Seq, '10-1' as Seq).map((e) => e.seq), ['10-0']);
});

test('capacity 0 keeps nothing but follows the position', () => {
  const r = new RecentEvents('1-0' as Seq, 0);
  r.push(ev(2));
  assert.equal(r.covers('1-0' as Seq), false);
  assert.equal(r.covers('2-0' as Seq), true);
  assert.deepEqual(r.range('2-0' as Seq, '2-0' as Seq), []);
});
