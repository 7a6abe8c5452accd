import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorld, targetsByWorker } from '../lib/world.js';

test('every user is in threadsPerUser threads of its tenant, participants distinct, senders host the creator', () => {
  const w = buildWorld({ tenants: 3, users: 300, participantsPerThread: 10, threadsPerUser: 2 }, 2, 'b', 'x');
  assert.equal(w.users.length, 300);
  assert.equal(w.threads.length, 60);
  for (const u of w.users) assert.equal(u.threads.length, 2);
  for (const t of w.threads) {
    assert.equal(new Set(t.participants).size, 10);
    for (const p of t.participants) assert.equal(w.users[p]?.tenant, t.tenant);
    assert.ok(t.participants.includes(t.creator));
    assert.equal(w.users[t.creator]?.worker, t.sender);
  }
  assert.deepEqual(buildWorld({ tenants: 3, users: 300, participantsPerThread: 10, threadsPerUser: 2 }, 2, 'b', 'x').activation, w.activation);
  // Each generator owns about half of every tenant's threads.
  for (let t = 0; t < 3; t++) assert.equal(w.threads.filter((th) => th.tenant === t && th.sender === 0).length, 10);
  const targets = targetsByWorker(w, 101, 2);
  assert.equal(targets[0]! + targets[1]!, 101);
});

test('a hot tenant takes its share of users and of the send weight', () => {
  const w = buildWorld({ tenants: 10, users: 1000, participantsPerThread: 10, threadsPerUser: 2, hotTenant: { share: 0.375 } }, 1, 'b', 'x');
  assert.equal(w.users.filter((u) => u.tenant === 0).length, 375);
  const total = w.threads.reduce((a, t) => a + t.weight, 0);
  const hot = w.threads.filter((t) => t.tenant === 0).reduce((a, t) => a + t.weight, 0);
  assert.ok(Math.abs(hot / total - 0.375) < 1e-9);
});
