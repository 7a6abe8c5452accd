import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcceptedLog, mergeAccepted, reconcile, type LedgerClient } from '../generator/ledger.js';

function client(over: Partial<LedgerClient>): LedgerClient {
  return { tenant: 't', userId: 'u', threads: [0], firstHead: { ms: 1000, n: 0 }, leftAtMs: 0, received: [], resumed: false, gaveUp: false, resyncs: 0, ...over };
}

test('every accepted message after the first head is owed to each participant exactly once', () => {
  const log = new AcceptedLog();
  log.add(1, 0, 999, 5); // before the client's head: not owed
  log.add(2, 0, 1000, 1);
  log.add(3, 0, 2000, 0);
  log.add(4, 1, 2000, 1); // another thread
  const accepted = mergeAccepted([log.table()]);
  const r = reconcile([
    client({ received: [2, 3] }),
    client({ userId: 'v', received: [2, 2, 9] }), // duplicate, a loss (3), an unexpected key (9)
    client({ userId: 'w', firstHead: null }),
  ], accepted, new Float64Array(), { leaveGraceMs: 5000, sampleLimit: 10 });
  assert.equal(r.expected, 4);
  assert.equal(r.delivered, 3);
  assert.equal(r.lost, 1);
  assert.equal(r.duplicates, 1);
  assert.equal(r.unexpected, 1);
  assert.equal(r.clientsNeverConnected, 1);
  assert.deepEqual(r.lostSamples.map((s) => [s.user, s.key, s.seq]), [['v', 3, '2000-0']]);
});

test('uncertain sends are not unexpected; a client that left owes only what came well before', () => {
  const log = new AcceptedLog();
  log.add(1, 0, 10_000, 0);
  log.add(2, 0, 14_000, 0); // within the grace before leaving: not owed
  const r = reconcile([client({ leftAtMs: 16_000, received: [1, 7], resumed: true })], log.table(), Float64Array.from([7]), { leaveGraceMs: 5000, sampleLimit: 10 });
  assert.equal(r.expected, 1);
  assert.equal(r.lost, 0);
  assert.equal(r.unexpected, 0);
  assert.equal(r.resumedExpected, 1);
});
