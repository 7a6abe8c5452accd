// The SDK (client/) against the real stack: whatever happens to its connections — random drops
// during traffic, a draining gateway, a resume point older than the stream keeps — it emits every
// message the server acknowledged (202) exactly once, in seq order. The ledger is the 202 answers;
// the SDK's `event`s are held against it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../core/keys.js';
import { memoryStorage } from '../../client/index.js';
import { config, sleep, startTestGateway, stopRole, waitFor, type MessageBody, type User } from '../support/api.js';
import { spawnRole } from '../support/env.js';
import { useStack } from '../support/stack.js';
import { assertLedger, balancedWebSocket, sdkFor } from '../support/sdk.js';

const stack = useStack({
  prefix: 'sdk',
  // /api/sync (the SDK's starting point and its answer to resync.required) waits for the read models.
  async setup(s) {
    const processors = spawnRole(['processors/main', 'counters,inbox'], { CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'warn' });
    s.defer(() => stopRole(processors));
  },
});

/**
 * Posts `n` messages from the senders in turn, a few at a time, under the per-user write limit
 * (20/s); returns the 202 bodies.
 */
async function traffic(senders: User[], threadId: string, n: number, label: string): Promise<MessageBody[]> {
  const out: MessageBody[] = [];
  const pauseMs = (4 * 1000) / (10 * senders.length);
  for (let i = 0; i < n; i += 4) {
    const batch = await Promise.all(Array.from({ length: Math.min(4, n - i) }, (_, j) => senders[(i + j) % senders.length]!.say(threadId, `${label} ${i + j}`)));
    out.push(...batch);
    await sleep(pauseMs);
  }
  return out;
}

async function people(tn: ReturnType<typeof stack.tenant>): Promise<{ alice: User; others: User[] }> {
  const [alice, ...others] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((u) => tn.user(u)));
  return { alice: alice!, others };
}

describe('SDK resume', () => {
  test('random disconnects (client drops and server 4008) during traffic: every acknowledged message once, in order; the offline queue duplicates nothing', async (t) => {
    const tn = stack.tenant();
    const { alice, others } = await people(tn);
    const th = await alice.thread(others.map((u) => u.userId));
    // A fetch that loses one answer in five after the server handled the request: the SDK must
    // retry sends with the same clientMessageId and get the first message back, never a second.
    let lostAnswers = 0;
    const flakyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'POST' && Math.random() < 0.2) {
        lostAnswers++;
        throw new TypeError('fetch failed (answer lost on purpose)');
      }
      return res;
    };
    const h = sdkFor(stack.gw, alice, { fetch: flakyFetch });
    t.after(() => h.stop());
    const closeCodes: number[] = [];
    h.client.on('close', (c) => closeCodes.push(c.code));
    await h.client.start();
    await new Promise<void>((resolve) => h.client.once('open', () => resolve()));

    let drops = 0;
    let flapping = true;
    const flapper = (async () => {
      while (flapping) {
        await sleep(30 + Math.random() * 150);
        if (!flapping) break;
        drops++;
        // Half from the client side (a network drop), half from the server (4008, slow consumer).
        if (drops % 2) h.client.reconnect();
        else for (const c of stack.gw.gateway.hub.allConnections()) if (c.tenantId === tn.id && !c.closed) c.close(4008, 'test: slow consumer');
      }
    })();
    let fromBob: MessageBody[];
    let fromAlice: MessageBody[];
    try {
      const queued = Array.from({ length: 30 }, (_, i) => h.client.send({ threadId: th.id, body: `queued ${i}` }));
      fromBob = await traffic(others, th.id, 150, 'others');
      fromAlice = await Promise.all(queued);
    } finally {
      flapping = false;
      await flapper;
    }

    assert.ok(drops >= 5, `the connection was dropped repeatedly (${drops})`);
    assert.ok(closeCodes.includes(4008), `server-side 4008 closes among them (${closeCodes.join(',')})`);
    assert.ok(lostAnswers > 0, 'some send answers were lost and retried');
    assert.equal(new Set(fromAlice.map((m) => m.id)).size, 30, 'each queued send is its own message');
    assert.equal(h.client.queued.length, 0);
    await assertLedger(h, th.id, [...fromBob, ...fromAlice]);
    const fromAliceSeen = h.created(th.id).filter((id) => fromAlice.some((m) => m.id === id));
    assert.equal(fromAliceSeen.length, 30, 'no queued message reached the stream twice');
    assert.ok(h.client.stats.connects > drops / 2, 'the SDK reconnected after the drops');
  });

  test('a draining gateway: the reconnect frame is honoured, the SDK resumes on another gateway, nothing lost', async (t) => {
    const draining = await startTestGateway(config);
    t.after(() => draining.close());
    let target = draining;
    const tn = stack.tenant();
    const { alice, others } = await people(tn);
    const th = await alice.thread(others.map((u) => u.userId));
    const ports: number[] = [];
    const h = sdkFor(draining, alice, { WebSocket: balancedWebSocket(() => { ports.push(target.port); return target; }), drainJitterMs: 100 });
    t.after(() => h.stop());
    const hellos: string[] = [];
    const closes: { code: number; reconnectInMs: number | null }[] = [];
    h.client.on('open', (hello) => hellos.push(hello.gatewayId ?? ''));
    h.client.on('close', (c) => closes.push(c));
    await h.client.start();
    await waitFor('the first hello', async () => hellos.length === 1);

    const before = await traffic(others, th.id, 20, 'before');
    target = stack.gw;
    const sending = traffic(others, th.id, 40, 'during');
    await draining.gateway.drain(200);
    const during = await sending;
    await waitFor('a hello from the other gateway', async () => hellos.length >= 2);
    assert.deepEqual(ports.slice(0, 2), [draining.port, stack.gw.port], 'the second connection reached the other gateway');
    assert.equal(closes[0]!.code, 1001);
    assert.ok(closes[0]!.reconnectInMs! < 100, `reconnected within the drain jitter, not a backoff (${closes[0]!.reconnectInMs} ms)`);
    const after = await traffic(others, th.id, 10, 'after');
    await assertLedger(h, th.id, [...before, ...during, ...after]);
  });

  test('resync.required: one snapshot from /api/sync, then live events from its seq', async (t) => {
    const tn = stack.tenant();
    const { alice, others } = await people(tn);
    const th = await alice.thread(others.map((u) => u.userId));
    const storage = memoryStorage();
    const first = sdkFor(stack.gw, alice, { storage });
    t.after(() => first.stop());
    // Live first: a message posted while the start's /api/sync runs may be inside the snapshot
    // (then rightly never emitted as an event).
    const live = new Promise<void>((resolve) => first.client.once('open', () => resolve()));
    await first.client.start();
    await live;
    const seen = await others[0]!.say(th.id, 'seen');
    await waitFor('the first client to see a message', async () => first.created(th.id).includes(seen.id), 10_000);
    first.stop();

    // Missed while away, and trimmed away by retention before the client came back.
    const missed = await traffic(others, th.id, 5, 'missed');
    await stack.redis.xtrim(keys.events(tn.id), 'MINID', missed[2]!.seq);

    const again = sdkFor(stack.gw, alice, { storage });
    t.after(() => again.stop());
    const resyncs: string[] = [];
    again.client.on('resync', (r) => resyncs.push(r.reason));
    await again.client.start();
    await waitFor('a snapshot', async () => again.emitted.some((e) => e.kind === 'snapshot'), 30_000);
    assert.deepEqual(resyncs, ['gap_too_old']);
    const snap = again.emitted.find((e) => e.kind === 'snapshot')!;
    assert.equal(snap.kind, 'snapshot');
    if (snap.kind !== 'snapshot') return;
    assert.equal(again.emitted[0], snap, 'the snapshot comes before any event');
    assert.ok(snap.snapshot.inbox.threads.some((x) => x.threadId === th.id));
    assert.equal(again.client.stats.snapshots, 1, 'exactly one snapshot');
    await waitFor('the reconnect after the snapshot', async () => again.client.connected);
    const after = await traffic(others, th.id, 3, 'live');
    await assertLedger(again, th.id, after);
    const lastEmitted = again.emitted.at(-1)!;
    assert.equal(again.client.lastSeq, lastEmitted.kind === 'event' ? lastEmitted.event.seq : undefined, 'lastSeq is the last event emitted');
    assert.ok(!again.created(th.id).includes(missed[0]!.id), 'nothing of the trimmed gap is invented');
  });
});
