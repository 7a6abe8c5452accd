// Contract section 3, Websocket: the hello frame, fanout of every event of the user's threads
// (without asking) and of nothing else, in seq order, across gateways; membership changes taking
// effect live (participant.added, permission.revoked); client frames, bad frames and floods.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { compareSeq, isSeq, seqMillis, type Seq } from '../../core/seq.js';
import { headSeq } from '../../core/stream-commands.js';
import {
  assertError, config, startTestGateway, type MessageBody, type TestGateway, type User,
} from '../support/api.js';
import { useStack } from '../support/stack.js';
import { WsClient, droppedBeforeHello, type ConnectOptions, type Frame } from '../support/ws-client.js';

const stack = useStack({ prefix: 'ws', gateways: 2 });

const tenant = () => stack.tenant();

/** Opens a socket for `u` (on `on`, default the first gateway), closed when the test ends. */
const open = (t: TestContext, u: User, o: ConnectOptions & { on?: TestGateway } = {}) => stack.open(t, u, o);

const isMsg = (id: string) => (f: Frame) => f.type === 'message.created' && f.data?.id === id;

function assertIncreasing(frames: Frame[]): void {
  for (let i = 1; i < frames.length; i++) {
    assert.ok(compareSeq(frames[i - 1]!.seq as Seq, frames[i]!.seq as Seq) < 0, `seq ${frames[i - 1]!.seq} then ${frames[i]!.seq}`);
  }
}

describe('hello', () => {
  test('the first frame is hello {"connectionId","userId","tenantId","headSeq","heartbeatIntervalMs","resumed","replayed"}', async (t) => {
    const tn = tenant();
    const alice = await tn.user('alice');
    await alice.thread(['bob']);
    const { client, hello } = await open(t, alice);
    assert.equal(client.frames[0], hello, 'hello comes first');
    assert.deepEqual(Object.keys(hello).sort(), ['data', 'ts', 'type'], 'no seq on a control frame');
    assert.equal(typeof hello.ts, 'number');
    for (const k of ['connectionId', 'headSeq', 'heartbeatIntervalMs', 'replayed', 'resumed', 'tenantId', 'userId']) {
      assert.ok(k in hello.data, `hello.${k}`);
    }
    assert.equal(typeof hello.data.connectionId, 'string');
    assert.ok(hello.data.connectionId.length > 0);
    assert.equal(hello.data.userId, 'alice');
    assert.equal(hello.data.tenantId, tn.id);
    assert.ok(isSeq(hello.data.headSeq));
    assert.equal(hello.data.headSeq, await headSeq(stack.redis, tn.id));
    assert.equal(hello.data.heartbeatIntervalMs, config.gateway.heartbeatIntervalMs);
    assert.equal(hello.data.resumed, false);
    assert.equal(hello.data.replayed, 0);
    // Without lastSeq nothing of the past is replayed: the thread.created before the connection is not sent.
    const second = await open(t, alice);
    assert.notEqual(second.hello.data.connectionId, hello.data.connectionId);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(client.events(), []);
  });

  test('a tenant without any event yet has headSeq 0-0', async (t) => {
    const { hello } = await open(t, await tenant().user('alice'));
    assert.equal(hello.data.headSeq, '0-0');
  });
});

describe('fanout', () => {
  test('a participant\'s socket receives message.created with seq, and data is the 202 message object', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const [a, b] = await Promise.all([open(t, alice), open(t, bob)]);
    const m = await bob.say(th.id, 'hi all', { clientMessageId: 'ws-1', mentions: ['alice'] });
    for (const c of [a.client, b.client]) {
      const f = await c.waitFor(isMsg(m.id));
      assert.deepEqual(Object.keys(f), ['type', 'seq', 'ts', 'data']);
      assert.equal(f.seq, m.seq);
      assert.equal(f.ts, seqMillis(m.seq as Seq));
      assert.deepEqual(f.data, m);
    }
  });

  test('a non-participant\'s socket receives nothing of the thread, nor does the same user id in another tenant', async (t) => {
    const tn = tenant();
    const [alice, bob, dave] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('dave')]);
    const x = await alice.thread(['bob']);
    const y = await alice.thread(['dave']);
    const otherBob = await tenant().user('bob');
    const d = await open(t, dave);
    const ob = await open(t, otherBob);
    const m1 = await bob.say(x.id, 'secret');
    await alice.say(x.id, 'also secret');
    const barrier = await alice.say(y.id, 'for dave');
    await d.client.waitFor(isMsg(barrier.id));
    assert.deepEqual(d.client.eventsOf(x.id), [], 'events are delivered in order: anything of x would have come before');
    // The other tenant's bob: give the gateway time to (wrongly) deliver, then look.
    const obThread = await otherBob.thread([]);
    const obMsg = await otherBob.say(obThread.id, 'own tenant');
    await ob.client.waitFor(isMsg(obMsg.id));
    assert.ok(!ob.client.frames.some(isMsg(m1.id)));
    assert.deepEqual(ob.client.eventsOf(x.id), []);
  });

  test('events arrive in stream order, with strictly increasing seq', async (t) => {
    const tn = tenant();
    const [alice, bob, carol] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('carol')]);
    const th = await alice.thread(['bob', 'carol']);
    const { client } = await open(t, alice);
    // Sequential: the order of the 202s.
    const sequential: MessageBody[] = [];
    for (let i = 0; i < 10; i++) sequential.push(await (i % 2 ? bob : carol).say(th.id, `s${i}`));
    const got = await client.waitForAll((f) => f.type === 'message.created', 10);
    assert.deepEqual(got.map((f) => f.data.id), sequential.map((m) => m.id));
    // Concurrent: whatever order the stream chose, the socket gets it in that order.
    const concurrent = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? bob : carol).say(th.id, `c${i}`)));
    const all = await client.waitForAll((f) => f.type === 'message.created', 40);
    const bySeq = [...sequential, ...concurrent].sort((a, b) => compareSeq(a.seq as Seq, b.seq as Seq));
    assert.deepEqual(all.map((f) => f.seq), bySeq.map((m) => m.seq));
    assertIncreasing(client.events());
    assert.equal(new Set(client.events().map((f) => f.seq)).size, client.events().length, 'no duplicates');
  });

  test('with two gateways, a user with sockets on both gets every event on both, in the same order', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const bob2 = tn.on(stack.gateway(1).api, bob);
    const th = await alice.thread(['bob']);
    const one = await open(t, alice, { on: stack.gw });
    const two = await open(t, alice, { on: stack.gateway(1) });
    const posted: MessageBody[] = [];
    for (let i = 0; i < 10; i++) posted.push(await (i % 2 ? bob2 : bob).say(th.id, `g${i}`));
    const extra = await tn.on(stack.gateway(1).api, alice).thread(['bob']);
    for (const c of [one.client, two.client]) {
      await c.waitFor((f) => f.type === 'thread.created' && f.data.id === extra.id);
      const msgs = c.events().filter((f) => f.type === 'message.created');
      assert.deepEqual(msgs.map((f) => f.seq), posted.map((m) => m.seq));
      assertIncreasing(c.events());
    }
    assert.deepEqual(one.client.events().map((f) => f.seq), two.client.events().map((f) => f.seq));
  });

  test('thread.created reaches every participant (and nobody else); its events follow without reconnecting', async (t) => {
    const tn = tenant();
    const [alice, bob, carol, dave] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('carol'), tn.user('dave')]);
    const socks = await Promise.all([alice, bob, carol, dave].map((u) => open(t, u)));
    const th = await alice.thread(['bob', 'carol'], 'Kickoff');
    const m = await carol.say(th.id, 'first');
    for (const s of socks.slice(0, 3)) {
      const f = await s.client.waitFor((x) => x.type === 'thread.created' && x.data.id === th.id);
      assert.ok(isSeq(f.seq));
      assert.equal(f.data.title, 'Kickoff');
      assert.deepEqual([...f.data.participantIds].sort(), ['alice', 'bob', 'carol']);
      const mf = await s.client.waitFor(isMsg(m.id));
      assert.ok(compareSeq(f.seq as Seq, mf.seq as Seq) < 0);
    }
    const daveThread = await alice.thread(['dave']);
    await socks[3]!.client.waitFor((x) => x.type === 'thread.created' && x.data.id === daveThread.id);
    assert.deepEqual(socks[3]!.client.eventsOf(th.id), []);
  });

  test('message.updated carries the edited message; message.deleted carries {"id","threadId"}', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const { client } = await open(t, bob);
    const m = await alice.say(th.id, 'draft');
    const edited = await alice.edit(m.id, 'final');
    assert.equal(edited.status, 202);
    assert.equal((await alice.remove(m.id)).status, 202);
    const up = await client.waitFor((f) => f.type === 'message.updated');
    assert.ok(isSeq(up.seq));
    assert.deepEqual(up.data, edited.body.message);
    const del = await client.waitFor((f) => f.type === 'message.deleted');
    assert.ok(isSeq(del.seq));
    assert.equal(del.data.id, m.id);
    assert.equal(del.data.threadId, th.id);
    assertIncreasing(client.events());
  });
});

describe('membership changes, live', () => {
  test('participant.added: the added user\'s socket starts receiving the thread from the addition on', async (t) => {
    const tn = tenant();
    const [alice, bob, carol] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('carol')]);
    const th = await alice.thread(['bob']);
    const c = await open(t, carol);
    const b = await open(t, bob);
    const before = await alice.say(th.id, 'before carol');
    assert.equal((await bob.addParticipant(th.id, 'carol')).status, 204);
    const afterAdd = await alice.say(th.id, 'welcome carol');
    await c.client.waitFor(isMsg(afterAdd.id));
    const mine = c.client.eventsOf(th.id);
    assert.deepEqual(mine.map((f) => f.type), ['participant.added', 'message.created']);
    assert.equal(mine[0]!.data.threadId, th.id);
    assert.equal(mine[0]!.data.userId, 'carol');
    assert.ok(isSeq(mine[0]!.seq));
    assert.ok(!c.client.frames.some(isMsg(before.id)));
    // Existing participants see the addition too.
    const added = await b.client.waitFor((f) => f.type === 'participant.added');
    assert.equal(added.seq, mine[0]!.seq);
  });

  test('removal: permission.revoked (with seq) to the removed user, then nothing more of that thread', async (t) => {
    const tn = tenant();
    const [alice, bob, root] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('root', { admin: true })]);
    const x = await alice.thread(['bob']);
    const y = await alice.thread(['bob']);
    const b = await open(t, bob);
    const b2 = await open(t, bob, { on: stack.gateway(1) });
    const a = await open(t, alice);
    await alice.say(x.id, 'before removal');
    assert.equal((await root.removeParticipant(x.id, 'bob')).status, 204);
    const hidden = await alice.say(x.id, 'after removal');
    await alice.edit(hidden.id, 'after removal, edited');
    const barrier = await alice.say(y.id, 'y still visible');
    for (const s of [b, b2]) {
      await s.client.waitFor(isMsg(barrier.id));
      const xs = s.client.eventsOf(x.id);
      assert.deepEqual(xs.map((f) => f.type), ['message.created', 'permission.revoked']);
      const revoked = xs[1]!;
      assert.ok(isSeq(revoked.seq));
      assert.equal(revoked.data.threadId, x.id);
      assert.ok(!s.client.frames.some((f) => f.type === 'participant.removed'), 'the removed user gets permission.revoked instead');
    }
    // The others see participant.removed at the same seq.
    const removed = await a.client.waitFor((f) => f.type === 'participant.removed');
    assert.equal(removed.seq, b.client.eventsOf(x.id)[1]!.seq);
    assert.equal(removed.data.userId, 'bob');
  });

  test('removing oneself revokes too, and being added back restores delivery', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const x = await alice.thread(['bob']);
    const b = await open(t, bob);
    assert.equal((await bob.removeParticipant(x.id, 'bob')).status, 204);
    const hidden = await alice.say(x.id, 'bob is gone');
    assert.equal((await alice.addParticipant(x.id, 'bob')).status, 204);
    const back = await alice.say(x.id, 'bob is back');
    await b.client.waitFor(isMsg(back.id));
    assert.deepEqual(b.client.eventsOf(x.id).map((f) => f.type),
      ['permission.revoked', 'participant.added', 'message.created']);
    assert.ok(!b.client.frames.some(isMsg(hidden.id)));
  });
});

describe('client frames', () => {
  test('ping is answered by pong (no seq); ack is accepted silently', async (t) => {
    const tn = tenant();
    const alice = await tn.user('alice');
    const th = await alice.thread([]);
    const { client } = await open(t, alice);
    const m = await alice.say(th.id, 'ack me');
    await client.waitFor(isMsg(m.id));
    client.send({ type: 'ack', seq: m.seq });
    client.send({ type: 'ping' });
    const pong = await client.waitFor((f) => f.type === 'pong');
    assert.deepEqual(Object.keys(pong).sort(), ['data', 'ts', 'type']);
    assert.equal(typeof pong.ts, 'number');
    assert.ok(!client.frames.some((f) => f.type === 'error'), JSON.stringify(client.frames.filter((f) => f.type === 'error')));
  });

  test('bad frames get an error frame; the connection stays open and other connections are unaffected', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const other = await open(t, alice);
    const bobs = await open(t, bob);
    const cases: [unknown, string | null][] = [
      ['not json', 'invalid_json'],
      ['{"type":', 'invalid_json'],
      ['[1,2]', 'invalid_request'],
      ['42', 'invalid_request'],
      [{ type: 'no.such.type' }, 'unknown_type'],
      [{ data: {} }, 'unknown_type'],
      [{ type: 'ack', seq: 'not-a-seq' }, 'invalid_request'],
      [{ type: 'typing', threadId: 'a b' }, 'invalid_request'],
      [{ type: 'presence.heartbeat', status: 'asleep' }, 'invalid_request'],
      [JSON.stringify({ type: 'ping', pad: 'x'.repeat(config.gateway.maxPayload) }), 'frame_too_large'],
    ];
    cases.push([Buffer.from([1, 2, 3]), null]); // a binary frame
    // A few bad frames per connection: more than 10 would be a flood (next test).
    const bads: WsClient[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      const bad = (await open(t, alice)).client;
      bads.push(bad);
      for (const [frame, code] of cases.slice(i, i + 4)) {
        const before = bad.frames.length;
        if (Buffer.isBuffer(frame)) bad.ws.send(frame, { binary: true });
        else bad.send(frame);
        const err = await bad.waitFor((f) => f.type === 'error' && bad.frames.indexOf(f) >= before);
        assert.deepEqual(Object.keys(err).sort(), ['data', 'ts', 'type'], 'no seq on an error frame');
        if (code) assert.equal(err.data.code, code, `${String(frame).slice(0, 40)}: ${JSON.stringify(err.data)}`);
        assert.equal(typeof err.data.code, 'string');
        assert.equal(typeof err.data.message, 'string');
      }
      // Still open and serving.
      bad.send({ type: 'ping' });
      await bad.waitFor((f) => f.type === 'pong');
    }
    const m = await bob.say(th.id, 'still here?');
    for (const c of [...bads, other.client, bobs.client]) await c.waitFor(isMsg(m.id));
    for (const c of bads) assert.ok(c.isOpen);
    assert.ok(!other.client.frames.some((f) => f.type === 'error'));
  });

  test('more than 10 bad frames within 10 s close that connection with 1008, and only that one', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const flooder = await open(t, alice);
    const sibling = await open(t, alice);
    const bobs = await open(t, bob);
    for (let i = 0; i < 10; i++) flooder.client.send('garbage');
    await flooder.client.waitForAll((f) => f.type === 'error', 10);
    flooder.client.send({ type: 'ping' });
    await flooder.client.waitFor((f) => f.type === 'pong');
    assert.ok(flooder.client.isOpen, '10 bad frames are tolerated');
    flooder.client.send('garbage');
    const closed = await flooder.client.closed;
    assert.equal(closed.code, 1008);
    const m = await bob.say(th.id, 'after the flood');
    await sibling.client.waitFor(isMsg(m.id));
    await bobs.client.waitFor(isMsg(m.id));
    assert.ok(sibling.client.isOpen && bobs.client.isOpen);
    // The user may reconnect at once.
    const again = await open(t, alice);
    assert.equal(again.hello.data.userId, 'alice');
  });

  test('a flood of oversized frames closes with 1009', async (t) => {
    const alice = await tenant().user('alice');
    const { client } = await open(t, alice);
    const big = JSON.stringify({ type: 'ping', pad: 'x'.repeat(config.gateway.maxPayload) });
    for (let i = 0; i < 11; i++) client.send(big);
    assert.equal((await client.closed).code, 1009);
  });
});

describe('upgrade', () => {
  test('/ws with an invalid lastSeq is HTTP 400', async () => {
    const alice = await tenant().user('alice');
    for (const lastSeq of ['abc', '1', '1-2-3', '-1', '1-', '$', '+', '1-0 ']) {
      const r = await WsClient.refused(stack.gw.wsUrl, { token: alice.token, lastSeq });
      assert.equal(r.status, 400, `lastSeq=${JSON.stringify(lastSeq)}`);
      assert.equal(r.body?.error?.code, 'invalid_seq');
      assert.equal(typeof r.body?.error?.message, 'string');
    }
  });

  test('HTTP endpoints of the other gateway agree (shared Redis)', async () => {
    const tn = tenant();
    const alice = await tn.user('alice');
    const th = await alice.thread([]);
    const viaOther = tn.on(stack.gateway(1).api, alice);
    assert.equal((await viaOther.getThread(th.id)).status, 200);
    assertError(await tn.on(stack.gateway(1).api, await tn.user('dave')).getThread(th.id), 403);
  });
});

// Last in this file: both tests below have been seen to disturb connections opened after them
// (abnormal 1006 closes), which must not make unrelated tests fail.
describe('connection lifecycle', () => {
  test('sockets that sent frames and then closed do not break new connections', async (t) => {
    // A gateway of its own: the failure showed on a freshly started gateway, within its first connections.
    const fresh = await startTestGateway(config);
    t.after(() => fresh.close());
    for (let i = 0; i < 10; i++) {
      const alice = await tenant().user('alice');
      const { client } = await WsClient.open(fresh.wsUrl, { token: alice.token });
      client.send({ type: 'ping' });
      await client.waitFor((f) => f.type === 'pong');
      await client.close();
      const next = await tenant().user('alice');
      const pair = await Promise.allSettled([WsClient.open(fresh.wsUrl, { token: next.token }), WsClient.open(fresh.wsUrl, { token: next.token })]);
      await Promise.all(pair.map((p) => (p.status === 'fulfilled' ? p.value.client.close() : undefined)));
      for (const p of pair) assert.equal(p.status, 'fulfilled', `round ${i}: ${p.status === 'rejected' ? String(p.reason) : ''}`);
    }
  });

  test('hello is the first frame even when the client speaks first', async (t) => {
    // A race by nature (frames vs. the server loading the user's state): many attempts make it show.
    for (let i = 0; i < 30; i++) {
      const u = await tenant().user('early');
      // Frames sent the moment the upgrade completes, while the server is still loading the user's state.
      const client = await WsClient.connect(stack.gw.wsUrl, { token: u.token });
      t.after(() => client.close());
      client.send({ type: 'ping' });
      client.send('not json');
      await client.waitFor((f) => f.type === 'pong');
      await client.waitFor((f) => f.type === 'error');
      assert.deepEqual(client.frames.map((f) => f.type), ['hello', 'pong', 'error'], `attempt ${i}`);
    }
  });
});

describe('connection health', () => {
  // Runs last: WsClient.open retried connections the gateway dropped before their hello; none may have been.
  test('no connection of this file was dropped before its hello', () => {
    assert.deepEqual(droppedBeforeHello, []);
  });
});
