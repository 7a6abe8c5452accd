// Property (issue "Realtime gateway", acceptance 1): under continuous traffic, with clients dropping
// their connections at random points and resuming with lastSeq, every client receives exactly the
// stream events it may see — in order, without gaps or duplicates. The expectation comes from an
// independent model kept by the test (who was a participant when each event was written), not from
// the server's visibility code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, waitFor, sleep, type TestGateway, type User } from '../support/api.js';
import { ResumingClient } from '../support/resuming-client.js';
import { seededRng } from '../../benchmarks/lib/rng.js';

let gwA: TestGateway;
let gwB: TestGateway;

before(async () => {
  await migrateDb(config);
  const noLimits = { rateLimits: { ...config.rateLimits, messageUser: { rate: 0, burst: 1 }, messageTenant: { rate: 0, burst: 1 } } };
  gwA = await startTestGateway(config, noLimits);
  gwB = await startTestGateway(config, noLimits);
});

after(async () => {
  await gwA?.close();
  await gwB?.close();
});


for (const seed of [1, 2, 3]) {
  test(`random disconnects under traffic: each client gets exactly what it may see (seed ${seed})`, async () => {
    const rnd = seededRng(seed); // deterministic: a failing run replays from its seed
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const auth = await createAuthenticator(config);
    const t = new Tenant(gwA.api, auth, `prop${seed}`);
    const names = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
    const users = new Map<string, User>();
    for (const n of names) users.set(n, await t.user(n));
    const clients = new Map<string, ResumingClient>();
    for (const n of names) {
      const gw = rnd() < 0.5 ? gwA : gwB;
      const c = new ResumingClient(gw.wsUrl, users.get(n)!.token);
      clients.set(n, c);
      await c.start();
    }

    // The model: members per thread, and per user the (type, seq) list they must receive.
    const members = new Map<string, Set<string>>();
    const expected = new Map<string, { type: string; seq: string }[]>(names.map((n) => [n, []]));
    const see = (user: string, type: string, seq: string) => expected.get(user)!.push({ type, seq });
    // Operations run one at a time in this tenant, so the stream head right after each one is its seq.
    const streamSeq = async () => {
      const r = await gwA.gateway.redis.xrevrange(`chorus:{${t.id}}:events`, '+', '-', 'COUNT', 1);
      return (r[0]?.[0] ?? '0-0') as string;
    };

    const flaps: Promise<void>[] = [];
    for (let step = 0; step < 120; step++) {
      const r = rnd();
      if (r < 0.08 || members.size === 0) {
        const creator = pick(names);
        const others = names.filter((n) => n !== creator && rnd() < 0.4);
        const th = await users.get(creator)!.thread(others);
        const seq = await streamSeq();
        members.set(th.id, new Set([creator, ...others]));
        for (const m of members.get(th.id)!) see(m, 'thread.created', seq);
      } else if (r < 0.16) {
        const th = pick([...members.keys()]);
        const outsiders = names.filter((n) => !members.get(th)!.has(n));
        if (!outsiders.length) continue;
        const adder = pick([...members.get(th)!]);
        const added = pick(outsiders);
        const res = await users.get(adder)!.addParticipant(th, added);
        assert.equal(res.status, 204, res.text);
        const seq = await streamSeq();
        members.get(th)!.add(added);
        for (const m of members.get(th)!) see(m, 'participant.added', seq);
      } else if (r < 0.22) {
        const th = pick([...members.keys()]);
        const ms = [...members.get(th)!];
        if (ms.length < 2) continue;
        const leaver = pick(ms);
        const res = await users.get(leaver)!.removeParticipant(th, leaver);
        assert.equal(res.status, 204, res.text);
        const seq = await streamSeq();
        members.get(th)!.delete(leaver);
        see(leaver, 'permission.revoked', seq);
        for (const m of members.get(th)!) see(m, 'participant.removed', seq);
      } else {
        const candidates = [...members.entries()].filter(([, m]) => m.size > 0);
        const [th, ms] = pick(candidates);
        const sender = pick([...ms]);
        const m = await users.get(sender)!.say(th, `s${step}`);
        for (const u of members.get(th)!) see(u, 'message.created', m.seq);
      }
      // Random disconnects at random points, resuming after a random pause.
      if (rnd() < 0.12) flaps.push(clients.get(pick(names))!.flap(Math.floor(rnd() * 150)));
      if (rnd() < 0.3) await sleep(Math.floor(rnd() * 15));
    }
    await Promise.all(flaps);

    await waitFor('every client to catch up', async () =>
      names.every((n) => clients.get(n)!.events.length >= expected.get(n)!.length) || undefined, 15_000)
      .catch((err: Error) => {
        throw new Error(`${err.message}: ${names.map((n) => `${n} ${clients.get(n)!.events.length}/${expected.get(n)!.length}`).join(', ')}`);
      });
    await sleep(200); // anything extra would show up now
    let flapped = 0;
    for (const n of names) {
      const c = clients.get(n)!;
      flapped += c.reconnects;
      const got = c.events.map((e) => `${e.type}@${e.seq}`);
      const want = expected.get(n)!.map((e) => `${e.type}@${e.seq}`);
      assert.deepEqual(got, want, `client ${n} (seed ${seed}, ${c.reconnects} reconnects)`);
      await c.stop();
    }
    assert.ok(flapped > 0, 'the run exercised reconnects');
  });
}
