// Drain ("node recycle", seed 6.1 scenario 4): three gateway processes share one port; one gets
// SIGTERM under traffic. Its clients receive `reconnect`, are closed over the drain window, resume
// with lastSeq on the others, and every client ends with every message exactly once, in order.
// Also: a gateway refuses to start on the slow ws fallback of the uWebSockets.js package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, Api, Tenant, createAuthenticator, waitFor, sleep } from '../support/api.js';
import { freePort, spawnRole, type RoleProcess } from '../support/env.js';
import { ResumingClient } from '../support/resuming-client.js';
import { compareSeq, type Seq } from '../../core/seq.js';

let port: number;
const gateways: RoleProcess[] = [];

before(async () => {
  await migrateDb(config);
  port = await freePort();
  for (let i = 0; i < 3; i++) {
    const g = spawnRole(['gateway/main'], {
      PORT: String(port), CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'info', CHORUS_DRAIN_WINDOW_MS: '1000',
      CHORUS_RATE_MSG_USER_PER_S: '0',
    });
    gateways.push(g);
    await g.waitForLog((e) => e['msg'] === 'gateway listening', 15_000);
  }
});

after(async () => {
  for (const g of gateways) g.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.exited));
});

test('SIGTERM drains a gateway under traffic: its clients resume elsewhere with zero loss', async () => {
  const api = new Api(`http://127.0.0.1:${port}`);
  const auth = await createAuthenticator(config);
  const t = new Tenant(api, auth, 'drain');
  const sender = await t.user('sender');
  const users = await Promise.all(Array.from({ length: 24 }, (_, i) => t.user(`u${i}`)));
  const th = await sender.thread(users.map((u) => u.userId));
  const clients = users.map((u) => new ResumingClient(`ws://127.0.0.1:${port}/ws`, u.token));
  await Promise.all(clients.map((c) => c.start()));

  // Pick the gateway that holds the most clients.
  const counts = new Map<string, number>();
  for (const c of clients) counts.set(c.gatewayIds[0]!, (counts.get(c.gatewayIds[0]!) ?? 0) + 1);
  const [victimId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  const victim = gateways.find((g) => victimId.endsWith(`-${g.proc.pid}`));
  assert.ok(victim, `gateway ${victimId} is one of ours`);
  assert.ok(counts.size >= 2, `clients spread over several gateways: ${JSON.stringify([...counts])}`);

  const sent: string[] = [];
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      const r = await sender.post({ threadId: th.id, body: `n${sent.length}` });
      if (r.status === 202) sent.push(r.body.message.seq as string);
      else assert.fail(`send failed during drain: ${r.status} ${r.text}`);
      await sleep(15);
    }
  })();
  await sleep(500);
  victim.kill('SIGTERM');
  const exit = await victim.exited;
  assert.equal(exit.code, 0, 'the drained gateway exits cleanly');
  await sleep(800);
  sending = false;
  await traffic;

  await waitFor('every client to have every message', async () => clients.every((c) => c.seqs.length >= sent.length) || undefined, 15_000)
    .catch((err: Error) => {
      const detail = clients.map((c) => ({ got: c.seqs.length, gws: c.gatewayIds, missing: sent.filter((s) => !c.seqs.includes(s)).slice(0, 3) }));
      throw new Error(`${err.message}; sent ${sent.length} (${sent[0]}..${sent.at(-1)}); ${JSON.stringify(detail.filter((d) => d.got < sent.length))}`);
    });
  const moved = clients.filter((c) => c.gatewayIds[0] === victimId);
  assert.ok(moved.length > 0);
  for (const c of moved) {
    assert.ok(c.gotReconnectFrame, 'drained clients were told to reconnect');
    assert.ok(c.reconnects >= 1);
    assert.notEqual(c.gatewayIds.at(-1), victimId, 'resumed on another gateway');
  }
  for (const c of clients) {
    assert.equal(new Set(c.seqs).size, c.seqs.length, 'no duplicates');
    assert.deepEqual(c.seqs, [...c.seqs].sort((a, b) => compareSeq(a as Seq, b as Seq)), 'in order');
    assert.deepEqual(c.seqs, sent, 'exactly the sent messages');
  }
  await Promise.all(clients.map((c) => c.stop()));
});

test('a gateway refuses to start on the uWebSockets.js ws fallback', async () => {
  const g = spawnRole(['gateway/main'], { PORT: String(await freePort()), CHORUS_DATA_DIR: config.dataDir, UWS_USE_FALLBACK: '1' });
  const exit = await g.exited;
  assert.equal(exit.code, 1);
  assert.ok(g.logs.some((e) => String(e['msg']).includes('failed to start') && JSON.stringify(e).includes('fallback')), g.recentLogs());
});
