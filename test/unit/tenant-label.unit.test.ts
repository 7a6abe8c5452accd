// The bounded tenant label of metrics (core/tenant-label.ts) and the log sampler
// (core/log-sample.ts), issue 16 items 2 and 7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OTHER_TENANT, TenantChildren, TenantLabels } from '../../core/tenant-label.js';
import { LogSampler } from '../../core/log-sample.js';

test('the first N tenants keep their id at once; the others are `other`', () => {
  const l = new TenantLabels(2);
  assert.equal(l.label('a'), 'a');
  assert.equal(l.label('b'), 'b');
  assert.equal(l.label('c'), OTHER_TENANT);
  assert.equal(l.label('a'), 'a');
  assert.equal(l.peek('c'), OTHER_TENANT);
});

test('ranking keeps the top N by traffic over two half windows and evicts the rest', () => {
  const l = new TenantLabels(2);
  const evicted: string[][] = [];
  l.onEvict((t) => evicted.push(t));
  l.label('quiet');
  l.label('busy', 100);
  l.label('newcomer', 50); // `other` for now: no free place
  assert.equal(l.peek('newcomer'), OTHER_TENANT);
  const before = l.generation;
  l.rank();
  assert.equal(l.peek('busy'), 'busy');
  assert.equal(l.peek('newcomer'), 'newcomer');
  assert.equal(l.peek('quiet'), OTHER_TENANT);
  assert.deepEqual(evicted, [['quiet']]);
  assert.ok(l.generation > before, 'cached children are invalidated');
  // The last half window still counts; two halves later an idle tenant is gone.
  l.label('busy');
  l.rank();
  assert.equal(l.peek('newcomer'), 'newcomer');
  l.label('busy');
  l.label('other-busy', 10);
  l.rank();
  assert.equal(l.peek('newcomer'), OTHER_TENANT);
  assert.equal(l.peek('other-busy'), 'other-busy');
});

test('a tenant named `other` never takes a place; N = 0 labels everyone `other`', () => {
  const l = new TenantLabels(1);
  assert.equal(l.label(OTHER_TENANT), OTHER_TENANT);
  assert.equal(l.label('a'), 'a');
  const none = new TenantLabels(0);
  assert.equal(none.label('a'), OTHER_TENANT);
});

test('TenantChildren builds one child per label and rebuilds after a ranking change', () => {
  const l = new TenantLabels(1);
  const made: string[] = [];
  const children = new TenantChildren((label) => {
    made.push(label);
    return { label };
  }, l);
  assert.equal(children.get('a').label, 'a');
  assert.equal(children.get('a').label, 'a');
  assert.equal(children.get('b', 10).label, OTHER_TENANT);
  assert.equal(children.get('b').label, OTHER_TENANT);
  assert.deepEqual(made, ['a', OTHER_TENANT]);
  l.rank(); // b had more traffic
  assert.equal(children.get('b').label, 'b');
  assert.equal(children.get('a').label, OTHER_TENANT);
});

test('the log sampler writes the first line of a kind, then one in N, per kind', () => {
  const s = new LogSampler(3);
  const a = Array.from({ length: 7 }, () => s.take('a'));
  assert.deepEqual(a, [true, false, false, true, false, false, true]);
  assert.equal(s.take('b'), true);
  s.configure(1);
  assert.deepEqual([s.take('a'), s.take('a')], [true, true]);
  s.configure(0);
  assert.equal(s.take('a'), false);
});
