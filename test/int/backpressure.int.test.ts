// Contract section 3: "A client that cannot keep up loses best-effort events first; if critical
// events would overflow its buffer it is closed with code 4008 and resumes with lastSeq, losing
// nothing." The gateway runs with small buffers; one client stops reading while traffic goes on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, waitFor, type TestGateway } from '../support/api.js';
import { WsClient, closeAll } from '../support/ws-client.js';
import { metrics } from '../../core/metrics.js';

let gw: TestGateway;
const clients: WsClient[] = [];
const SOFT = 8 * 1024;
const HARD = 64 * 1024;

before(async () => {
  await migrateDb(config);
  gw = await startTestGateway(config, {
    gateway: { ...config.gateway, softBuffer: SOFT, hardBuffer: HARD, framesPerS: 0 },
    rateLimits: { ...config.rateLimits, messageUser: { rate: 0, burst: 1 }, messageTenant: { rate: 0, burst: 1 }, emitUser: { rate: 0, burst: 1 } },
  });
});

after(async () => {
  await closeAll(clients);
  await gw?.close();
});

async function counter(c: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const v = await c.get();
  return v.values.filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val)).reduce((a, x) => a + x.value, 0);
}

test('a client that stops reading: best-effort dropped, no critical dropped, closed 4008, resumes losing nothing', async () => {
  const t = new Tenant(gw.api, auth(), 'slow');
  const [alice, bob] = await Promise.all([t.user('alice'), t.user('bob')]);
  const th = await alice.thread(['bob']);
  const { client: slow } = await WsClient.open(gw.wsUrl, { token: bob.token });
  const { client: typer } = await WsClient.open(gw.wsUrl, { token: alice.token });
  clients.push(slow, typer);
  const lastBefore = slow.frames[0]!.data.headSeq as string;
  const droppedBefore = await counter(metrics.wsEventsDropped, { priority: 'best_effort' });
  const criticalDroppedBefore = await counter(metrics.wsEventsDropped, { priority: 'critical' });

  // Stop reading: the kernel buffers fill, then uWS buffers for this socket.
  (slow.ws as unknown as { _socket: Socket })._socket.pause();
  // 4000 characters of 4 UTF-8 bytes each: the largest message the contract allows (16 KB).
  const body = '\u{1F600}'.repeat(4000);
  const sent: string[] = [];
  for (let round = 0; round < 1000 && gw.gateway.hub.connectionCount > 1; round++) {
    await Promise.all(Array.from({ length: 2 }, async () => {
      const m = await alice.say(th.id, body);
      sent.push(m.seq);
    }));
    typer.send({ type: 'typing', threadId: th.id });
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor('the gateway to close the slow connection', async () => gw.gateway.hub.connectionCount === 1 || undefined, 10_000);
  assert.ok(typer.isOpen, 'the other connection is unaffected');
  assert.ok(await counter(metrics.wsEventsDropped, { priority: 'best_effort' }) > droppedBefore, 'typing was dropped for the slow client');
  assert.equal(await counter(metrics.wsEventsDropped, { priority: 'critical' }), criticalDroppedBefore, 'no critical event dropped');

  (slow.ws as unknown as { _socket: Socket })._socket.resume();
  const closed = await slow.closed;
  assert.equal(closed.code, 4008);
  const got = slow.frames.filter((f) => f.type === 'message.created').map((f) => f.seq as string);
  assert.ok(got.length < sent.length, `the slow client was cut off before everything (${got.length}/${sent.length})`);

  // Resume from the last processed seq: every remaining message, in order, once.
  const { client: again, hello } = await WsClient.open(gw.wsUrl, { token: bob.token, lastSeq: got.at(-1) ?? lastBefore });
  clients.push(again);
  assert.equal(hello.data.resumed, true);
  const rest = await again.waitForAll((f) => f.type === 'message.created', sent.length - got.length, 20_000, 'replayed messages');
  const all = [...got, ...rest.map((f) => f.seq as string)];
  assert.equal(new Set(all).size, all.length, 'no duplicates');
  assert.deepEqual(new Set(all), new Set(sent), 'nothing lost');
});

let authInstance: Awaited<ReturnType<typeof createAuthenticator>>;
function auth() { return authInstance; }
before(async () => { authInstance = await createAuthenticator(config); });
