// Contract section 2, Sync: `GET /api/sync` → {"seq","inbox","presence":[…]}. Presence lists the
// current state of the participants of the threads on the first inbox page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, waitFor, stopRole, type TestGateway } from '../support/api.js';
import { spawnRole, type RoleProcess } from '../support/env.js';
import { WsClient, closeAll } from '../support/ws-client.js';

let gw: TestGateway;
let processors: RoleProcess | undefined;
const clients: WsClient[] = [];

before(async () => {
  await migrateDb(config);
  gw = await startTestGateway(config);
  processors = spawnRole(['processors/main', 'counters,inbox'], { CHORUS_DATA_DIR: config.dataDir, LOG_LEVEL: 'warn' });
});

after(async () => {
  await closeAll(clients);
  await stopRole(processors);
  await gw?.close();
});

test('sync carries the presence of the inbox threads\' participants, consistent with the socket', async () => {
  const auth = await createAuthenticator(config);
  const t = new Tenant(gw.api, auth, 'syncp');
  const [alice, bob, carol] = await Promise.all([t.user('alice'), t.user('bob'), t.user('carol')]);
  const th = await alice.thread(['bob', 'carol']);
  await alice.say(th.id, 'hello');
  const { client } = await WsClient.open(gw.wsUrl, { token: bob.token });
  clients.push(client);

  const sync = await waitFor('a sync whose inbox shows the thread', async () => {
    const r = await gw.api.get('/api/sync', alice.token);
    return r.status === 200 && r.body.inbox.threads.some((x: { threadId: string }) => x.threadId === th.id) ? r.body : undefined;
  }, 20_000, 100);
  assert.match(sync.seq, /^\d+-\d+$/);
  const byUser = new Map(sync.presence.map((p: { userId: string }) => [p.userId, p]));
  assert.deepEqual([...byUser.keys()].sort(), ['bob', 'carol'], 'participants other than the caller');
  const b = byUser.get('bob') as { status: string; version: number; lastSeenAt: string | null };
  assert.equal(b.status, 'online');
  assert.ok(b.version > 0);
  assert.equal((byUser.get('carol') as { status: string }).status, 'offline');
  void carol;
});
