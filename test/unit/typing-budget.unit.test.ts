// The per-tenant typing budget (gateway/ws/typing-budget.ts): one tenant over it is suspended, the
// others are not; the window restarts every second; the suspension ends on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypingBudget } from '../../gateway/ws/typing-budget.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

test('a tenant over its budget is suspended; its neighbours are not', () => {
  const c = clock();
  const b = new TypingBudget(3, 30_000, c.now);
  assert.equal(b.spend('noisy', 3), false);
  assert.ok(b.allows('noisy'));
  assert.equal(b.spend('noisy'), true, 'the fourth fanout within the second crosses the budget');
  assert.equal(b.allows('noisy'), false);
  assert.ok(b.allows('quiet'));
  assert.equal(b.spend('quiet', 3), false);
  assert.ok(b.allows('quiet'));
});

test('the window restarts every second', () => {
  const c = clock();
  const b = new TypingBudget(3, 30_000, c.now);
  b.spend('t', 3);
  c.advance(1000);
  assert.equal(b.spend('t', 3), false);
  assert.ok(b.allows('t'));
});

test('a suspension ends after suspendMs and survives forget (reconnecting does not lift it)', () => {
  const c = clock();
  const b = new TypingBudget(1, 30_000, c.now);
  b.spend('t', 2);
  b.forget('t');
  assert.equal(b.allows('t'), false);
  c.advance(29_999);
  assert.equal(b.allows('t'), false);
  c.advance(1);
  assert.ok(b.allows('t'));
  b.forget('t');
  assert.equal(b.spend('t'), false, 'a forgotten tenant starts a fresh window');
});
