// Contract section 3, resume: `/ws?lastSeq=` replays every event after it that the user may see, in
// order, before any live event, with no gap and no duplicate — filtered by the user's membership at
// each point of the gap — or says resync.required {"reason":"gap_too_old"} when the stream no
// longer holds the gap.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../core/keys.js';
import { compareSeq, type Seq } from '../../core/seq.js';
import {
  config, sleep, startTestGateway, streamOf, type MessageBody, type TestGateway, type User,
} from '../support/api.js';
import { useStack } from '../support/stack.js';
import { droppedBeforeHello, type ConnectOptions, type Frame } from '../support/ws-client.js';

const stack = useStack({ prefix: 'res', gateways: 2 });

const tenant = () => stack.tenant();

/** Opens a socket for `u` (on `on`, default the first gateway), closed when the test ends. */
const open = (t: TestContext, u: User, o: ConnectOptions & { on?: TestGateway } = {}) => stack.open(t, u, o);

const isMsg = (id: string) => (f: Frame) => f.type === 'message.created' && f.data?.id === id;
const seqs = (fs: Frame[]) => fs.map((f) => f.seq);

/** Posts `n` messages, alternating senders (one sender alone would meet the per-user rate limit). */
async function postMany(senders: User[], threadId: string, n: number, label: string): Promise<MessageBody[]> {
  const out: MessageBody[] = [];
  for (let i = 0; i < n; i++) out.push(await senders[i % senders.length]!.say(threadId, `${label}${i}`));
  return out;
}

describe('resume with lastSeq', () => {
  test('replays exactly the missed events, in order, then live events, without duplicates', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const first = await open(t, alice);
    const seen = await postMany([bob], th.id, 3, 'seen');
    await first.client.waitFor(isMsg(seen[2]!.id));
    const lastSeq = first.client.lastSeq()!;
    assert.equal(lastSeq, seen[2]!.seq);
    await first.client.close();

    const missed = await postMany([bob, alice], th.id, 4, 'missed');
    const second = await open(t, alice, { lastSeq });
    assert.equal(second.hello.data.resumed, true);
    assert.equal(second.hello.data.replayed, 4);
    assert.equal(second.hello.data.headSeq, missed[3]!.seq);
    const replayed = await second.client.waitForAll((f) => f.seq !== undefined, 4);
    assert.deepEqual(replayed.map((f) => f.data.id), missed.map((m) => m.id));
    for (let i = 0; i < 4; i++) assert.deepEqual(replayed[i]!.data, missed[i], 'a replayed message is the 202 object');
    assert.equal(second.client.frames[0]!.type, 'hello', 'hello comes before the replay');

    const live = await postMany([bob], th.id, 2, 'live');
    await second.client.waitFor(isMsg(live[1]!.id));
    assert.deepEqual(seqs(second.client.events()), [...missed, ...live].map((m) => m.seq));
  });

  test('lastSeq equal to the head: resumed with nothing to replay', async (t) => {
    const tn = tenant();
    const alice = await tn.user('alice');
    const th = await alice.thread([]);
    const m = await alice.say(th.id, 'x');
    const { client, hello } = await open(t, alice, { lastSeq: m.seq });
    assert.equal(hello.data.resumed, true);
    assert.equal(hello.data.replayed, 0);
    const live = await alice.say(th.id, 'y');
    await client.waitFor(isMsg(live.id));
    assert.deepEqual(seqs(client.events()), [live.seq]);
  });

  test('the hello\'s headSeq is a valid resume point: nothing after it is missed', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const { client, hello } = await open(t, alice);
    await client.close();
    const missed = await postMany([bob], th.id, 3, 'm');
    const again = await open(t, alice, { lastSeq: hello.data.headSeq });
    assert.equal(again.hello.data.replayed, 3);
    await again.client.waitFor(isMsg(missed[2]!.id));
    assert.deepEqual(seqs(again.client.events()), missed.map((m) => m.seq));
  });

  test('a resume served while the gateway is already tailing the tenant gets the same replay', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const keeper = await open(t, bob);
    const first = await open(t, alice);
    const seen = await bob.say(th.id, 'seen');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();
    const missed = await postMany([bob, alice], th.id, 6, 'm');
    await keeper.client.waitFor(isMsg(missed[5]!.id));
    const again = await open(t, alice, { lastSeq: seen.seq });
    assert.equal(again.hello.data.resumed, true);
    assert.equal(again.hello.data.replayed, 6);
    const live = await bob.say(th.id, 'live');
    await again.client.waitFor(isMsg(live.id));
    assert.deepEqual(seqs(again.client.events()), [...missed, live].map((m) => m.seq));
  });

  test('resuming on another gateway works the same (the stream is shared)', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const one = await open(t, alice, { on: stack.gw });
    const seen = await bob.say(th.id, 'seen');
    await one.client.waitFor(isMsg(seen.id));
    await one.client.close();
    const missed = await postMany([bob], th.id, 3, 'm');
    const two = await open(t, alice, { on: stack.gateway(1), lastSeq: seen.seq });
    assert.equal(two.hello.data.replayed, 3);
    await two.client.waitFor(isMsg(missed[2]!.id));
    assert.deepEqual(seqs(two.client.events()), missed.map((m) => m.seq));
  });

  test('no gap and no duplicate while events keep arriving during the reconnect', async (t) => {
    const tn = tenant();
    const senders = await Promise.all(['bob', 'carol', 'erin', 'frank'].map((u) => tn.user(u)));
    const alice = await tn.user('alice');
    const th = await alice.thread(senders.map((u) => u.userId));
    // Other connections of the tenant stay up on both gateways, so their tails (and whatever they
    // keep of recent events) are warm while alice comes and goes.
    await Promise.all([open(t, senders[0]!, { on: stack.gw }), open(t, senders[1]!, { on: stack.gateway(1) })]);
    const first = await open(t, alice);
    const warm = await senders[0]!.say(th.id, 'warm');
    await first.client.waitFor(isMsg(warm.id));
    const lastSeq = first.client.lastSeq()!;
    // A steady flow of messages, during which the client drops and resumes (several times).
    let stop = false;
    const posted: MessageBody[] = [];
    const flow = (async () => {
      let i = 0;
      while (!stop && i < 120) {
        posted.push(await senders[i % senders.length]!.say(th.id, `f${i}`));
        i++;
        if (i % 10 === 0) await sleep(5);
      }
    })();
    await sleep(30);
    await first.client.close();
    let cursor = lastSeq;
    const received: Frame[] = [];
    for (let round = 0; round < 3; round++) {
      const s = await open(t, alice, { lastSeq: cursor, on: round % 2 ? stack.gateway(1) : stack.gw });
      assert.equal(s.hello.data.resumed, true);
      await sleep(40);
      await s.client.close();
      received.push(...s.client.events());
      cursor = s.client.lastSeq() ?? cursor;
    }
    stop = true;
    await flow;
    const last = await open(t, alice, { lastSeq: cursor });
    const tail = posted.filter((m) => compareSeq(m.seq as Seq, cursor as Seq) > 0);
    if (tail.length) await last.client.waitFor(isMsg(tail[tail.length - 1]!.id));
    received.push(...last.client.events());
    assert.deepEqual(seqs(received), posted.map((m) => m.seq), 'every message exactly once, in stream order');
  });
});

describe('replay follows membership over time', () => {
  test('removed in the gap: events of the thread up to the removal, permission.revoked, then nothing of it', async (t) => {
    const tn = tenant();
    const [alice, bob, root] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('root', { admin: true })]);
    const x = await alice.thread(['bob']);
    const y = await alice.thread(['bob']);
    const first = await open(t, bob);
    const seen = await alice.say(y.id, 'seen');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();

    const x1 = await alice.say(x.id, 'x before removal');
    assert.equal((await root.removeParticipant(x.id, 'bob')).status, 204);
    const x2 = await alice.say(x.id, 'x after removal');
    await alice.edit(x1.id, 'x edited after removal');
    const y1 = await alice.say(y.id, 'y after removal');

    const again = await open(t, bob, { lastSeq: seen.seq });
    assert.equal(again.hello.data.resumed, true);
    assert.equal(again.hello.data.replayed, 3);
    const replay = await again.client.waitForAll((f) => f.seq !== undefined, 3);
    assert.deepEqual(replay.map((f) => f.type), ['message.created', 'permission.revoked', 'message.created']);
    assert.equal(replay[0]!.data.id, x1.id);
    assert.equal(replay[1]!.data.threadId, x.id);
    assert.equal(replay[2]!.data.id, y1.id);
    assert.ok(!again.client.frames.some(isMsg(x2.id)));
    // And live afterwards: still nothing of x.
    const x3 = await alice.say(x.id, 'x later');
    const y2 = await alice.say(y.id, 'y later');
    await again.client.waitFor(isMsg(y2.id));
    assert.ok(!again.client.frames.some(isMsg(x3.id)));
  });

  test('added in the gap: events of the thread from the addition on', async (t) => {
    const tn = tenant();
    const [alice, carol] = await Promise.all([tn.user('alice'), tn.user('carol')]);
    const own = await carol.thread([]);
    const z = await alice.thread([]);
    const first = await open(t, carol);
    const seen = await carol.say(own.id, 'mine');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();

    const z1 = await alice.say(z.id, 'before carol');
    assert.equal((await alice.addParticipant(z.id, 'carol')).status, 204);
    const z2 = await alice.say(z.id, 'after carol');

    const again = await open(t, carol, { lastSeq: seen.seq });
    assert.equal(again.hello.data.replayed, 2);
    const replay = await again.client.waitForAll((f) => f.seq !== undefined, 2);
    assert.deepEqual(replay.map((f) => f.type), ['participant.added', 'message.created']);
    assert.equal(replay[0]!.data.userId, 'carol');
    assert.equal(replay[1]!.data.id, z2.id);
    assert.ok(!again.client.frames.some(isMsg(z1.id)));
  });

  test('removed and added back in the gap: revoked, added, and only the events while a member', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const x = await alice.thread(['bob']);
    const first = await open(t, bob);
    const seen = await alice.say(x.id, 'seen');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();

    assert.equal((await bob.removeParticipant(x.id, 'bob')).status, 204);
    const hidden = await alice.say(x.id, 'while bob is away');
    assert.equal((await alice.addParticipant(x.id, 'bob')).status, 204);
    const back = await alice.say(x.id, 'bob is back');

    const again = await open(t, bob, { lastSeq: seen.seq });
    const replay = await again.client.waitForAll((f) => f.seq !== undefined, 3);
    assert.deepEqual(replay.map((f) => f.type), ['permission.revoked', 'participant.added', 'message.created']);
    assert.equal(replay[2]!.data.id, back.id);
    assert.ok(!again.client.frames.some(isMsg(hidden.id)));
  });

  test('a thread created in the gap is replayed to its participants only', async (t) => {
    const tn = tenant();
    const [alice, bob, dave] = await Promise.all([tn.user('alice'), tn.user('bob'), tn.user('dave')]);
    const base = await alice.thread(['bob', 'dave']);
    const b0 = await open(t, bob);
    const d0 = await open(t, dave);
    const seen = await alice.say(base.id, 'seen');
    await Promise.all([b0.client.waitFor(isMsg(seen.id)), d0.client.waitFor(isMsg(seen.id))]);
    await Promise.all([b0.client.close(), d0.client.close()]);

    const th = await alice.thread(['bob']);
    const m = await alice.say(th.id, 'new thread');
    const b = await open(t, bob, { lastSeq: seen.seq });
    const d = await open(t, dave, { lastSeq: seen.seq });
    const replay = await b.client.waitForAll((f) => f.seq !== undefined, 2);
    assert.deepEqual(replay.map((f) => f.type), ['thread.created', 'message.created']);
    assert.equal(replay[1]!.data.id, m.id);
    assert.equal(d.hello.data.replayed, 0);
    assert.equal(b.hello.data.replayed, 2);
  });
});

describe('resync', () => {
  test('lastSeq older than the retained stream: resync.required {"reason":"gap_too_old"}', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const first = await open(t, alice);
    const seen = await bob.say(th.id, 'seen');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();
    const missed = await postMany([bob], th.id, 5, 'm');
    // Retention removed the oldest missed entries: the gap can no longer be replayed.
    await stack.redis.xtrim(keys.events(tn.id), 'MINID', missed[2]!.seq);
    const again = await open(t, alice, { lastSeq: seen.seq });
    assert.equal(again.hello.data.resumed, false);
    const resync = await again.client.waitFor((f) => f.type === 'resync.required');
    assert.equal(resync.seq, undefined);
    assert.deepEqual(resync.data, { reason: 'gap_too_old' });
    await sleep(100);
    assert.deepEqual(again.client.events(), [], 'no partial replay with a hole in it');
  });

  test('an entry deleted from the gap (XDEL) also means gap_too_old', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const first = await open(t, alice);
    const seen = await bob.say(th.id, 'seen');
    await first.client.waitFor(isMsg(seen.id));
    await first.client.close();
    const missed = await postMany([bob], th.id, 3, 'm');
    await stack.redis.xdel(keys.events(tn.id), missed[1]!.seq);
    const again = await open(t, alice, { lastSeq: seen.seq });
    const resync = await again.client.waitFor((f) => f.type === 'resync.required');
    assert.deepEqual(resync.data, { reason: 'gap_too_old' });
    assert.deepEqual(again.client.events(), []);
  });

  test('removing entries the client already had does not prevent resuming', async (t) => {
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const first = await open(t, alice);
    const seen = await postMany([bob], th.id, 4, 's');
    await first.client.waitFor(isMsg(seen[3]!.id));
    await first.client.close();
    const missed = await postMany([bob], th.id, 3, 'm');
    // Older entries go (trim up to, and a delete before, the client's position); lastSeq itself and
    // everything after it remain.
    await stack.redis.xtrim(keys.events(tn.id), 'MINID', seen[1]!.seq);
    await stack.redis.xdel(keys.events(tn.id), seen[2]!.seq);
    assert.equal((await streamOf(stack.redis, tn.id))[0]!.seq, seen[1]!.seq);
    const again = await open(t, alice, { lastSeq: seen[3]!.seq });
    assert.equal(again.hello.data.resumed, true);
    const replay = await again.client.waitForAll((f) => f.seq !== undefined, 3);
    assert.deepEqual(seqs(replay), missed.map((m) => m.seq));
    assert.ok(!again.client.frames.some((f) => f.type === 'resync.required'));
  });

  test('a gap longer than the replay window (CHORUS_REPLAY_MAX_EVENTS) means gap_too_old', async (t) => {
    const small = await startTestGateway(config, { gateway: { ...config.gateway, replayMaxEvents: 5 } });
    t.after(() => small.close());
    const tn = tenant();
    const [alice, bob] = await Promise.all([tn.user('alice'), tn.user('bob')]);
    const th = await alice.thread(['bob']);
    const seen = await bob.say(th.id, 'seen');
    await postMany([bob, alice], th.id, 5, 'within');
    const within = await open(t, alice, { on: small, lastSeq: seen.seq });
    assert.equal(within.hello.data.replayed, 5);
    await postMany([bob, alice], th.id, 2, 'beyond');
    const beyond = await open(t, alice, { on: small, lastSeq: seen.seq });
    assert.equal(beyond.hello.data.resumed, false);
    const resync = await beyond.client.waitFor((f) => f.type === 'resync.required');
    assert.deepEqual(resync.data, { reason: 'gap_too_old' });
  });

  test('a lastSeq ahead of the stream is not trusted: resync.required', async (t) => {
    const tn = tenant();
    const alice = await tn.user('alice');
    const th = await alice.thread([]);
    const m = await alice.say(th.id, 'x');
    const future = `${Number(m.seq.split('-')[0]) + 3_600_000}-0`;
    const { client, hello } = await open(t, alice, { lastSeq: future });
    assert.equal(hello.data.resumed, false);
    const resync = await client.waitFor((f) => f.type === 'resync.required');
    assert.equal(typeof resync.data.reason, 'string');
  });
});

describe('connection health', () => {
  // Runs last: WsClient.open retried connections the gateway dropped before their hello; none may have been.
  test('no connection of this file was dropped before its hello', () => {
    assert.deepEqual(droppedBeforeHello, []);
  });
});
