// Bounded sweeps of the tenant list (processors/tenant-sweep.ts): active tenants every tick, idle ones
// a bounded slice per tick, round-robin so none is starved; small deployments see every tenant each tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TenantSweep } from '../../processors/tenant-sweep.js';

const tenants = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

test('with no more tenants than the slice, every tenant is visited every tick', () => {
  const sweep = new TenantSweep(20);
  const all = tenants(5);
  assert.deepEqual(sweep.next(all), all);
  assert.deepEqual(sweep.next(all), all);
});

test('1,000 idle tenants cost a slice per tick, and a full round visits each exactly once', () => {
  const sweep = new TenantSweep(20);
  const all = tenants(1000);
  const seen = new Map<string, number>();
  for (let tick = 0; tick < 50; tick++) {
    const visit = sweep.next(all);
    assert.equal(visit.length, 20);
    for (const t of visit) seen.set(t, (seen.get(t) ?? 0) + 1);
  }
  assert.equal(seen.size, 1000);
  assert.ok([...seen.values()].every((n) => n === 1));
});

test('active tenants are visited every tick, on top of the idle slice, and never twice in one tick', () => {
  const sweep = new TenantSweep(3);
  const all = tenants(100);
  const active = new Set(['t1', 't50']);
  for (let tick = 0; tick < 10; tick++) {
    const visit = sweep.next(all, active);
    assert.ok(visit.includes('t1') && visit.includes('t50'));
    assert.equal(visit.length, 5);
    assert.equal(new Set(visit).size, visit.length);
  }
});

test('an active tenant that is no longer served is not visited; a shrinking list does not break the round', () => {
  const sweep = new TenantSweep(4);
  assert.deepEqual(sweep.next(tenants(10), new Set(['gone'])), ['t0', 't1', 't2', 't3']);
  assert.deepEqual(sweep.next(tenants(3)), ['t0', 't1', 't2']);
  assert.deepEqual(sweep.next([]), []);
});
