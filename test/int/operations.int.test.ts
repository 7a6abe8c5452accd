// Contract section 0: /healthz, /readyz (200 only when Redis and Postgres answer, else 503 with
// checks), /metrics; section 2: "503 a dependency is down (with Retry-After)" — never a 500, and
// the service recovers by itself when the dependency returns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, log, waitFor, assertError, type TestGateway } from '../support/api.js';
import { testConfig } from '../support/env.js';
import { startLocalRedis, type LocalRedis } from '../../ops/local-redis.js';

let redisServer: LocalRedis;
let gw: TestGateway;
let gwNoPg: TestGateway;
const tmpDir = path.join(config.dataDir, `tmp-ops-${process.pid}`);

before(async () => {
  await migrateDb(config);
  const own = testConfig({ CHORUS_DATA_DIR: tmpDir });
  redisServer = await startLocalRedis(own, log);
  gw = await startTestGateway({ ...config, redis: { ...config.redis, url: own.redis.socketPath, socketPath: own.redis.socketPath } });
  gwNoPg = await startTestGateway({ ...config, database: { ...config.database, url: 'postgres://chorus@localhost/chorus?host=/nonexistent-socket-dir' } });
});

after(async () => {
  await gw?.close();
  await gwNoPg?.close();
  if (redisServer && !redisServer.isAlive()) await redisServer.restart();
  await redisServer?.stop();
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

test('/healthz 200, /readyz 200 with every check ok, /metrics is Prometheus text', async () => {
  assert.equal((await gw.api.get('/healthz')).status, 200);
  const ready = await gw.api.get('/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body.checks, { redis: 'ok', postgres: 'ok' });
  const m = await gw.api.get('/metrics');
  assert.equal(m.status, 200);
  assert.match(String(m.headers['content-type']), /^text\/plain/);
  for (const name of ['chorus_http_requests_total', 'chorus_ws_connections', 'chorus_ws_events_dropped_total', 'process_cpu_seconds_total']) {
    assert.match(m.text, new RegExp(`^# HELP ${name} `, 'm'), name);
  }
});

test('Postgres down: /readyz 503 naming postgres, with Retry-After; /healthz still 200', async () => {
  const r = await gwNoPg.api.get('/readyz');
  assert.equal(r.status, 503);
  assert.equal(r.body.checks.redis, 'ok');
  assert.match(r.body.checks.postgres, /^error/);
  assert.ok(r.headers['retry-after']);
  assert.equal((await gwNoPg.api.get('/healthz')).status, 200);
});

test('Redis down: /readyz 503 and writes 503 dependency_unavailable with Retry-After; recovery without restart', async () => {
  const auth = await createAuthenticator(config);
  const t = new Tenant(gw.api, auth, 'ops');
  const alice = await t.user('alice');
  const th = await alice.thread([]);
  await redisServer.kill9();

  const ready = await gw.api.get('/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.body.checks.redis, /^error/);
  assert.equal(ready.body.checks.postgres, 'ok');

  const res = await alice.post({ threadId: th.id, body: 'while redis is down' });
  assertError(res, 503, 'dependency_unavailable');
  assert.match(String(res.headers['retry-after']), /^\d+$/);
  // Bad input is still a 400, not a 5xx, whatever the dependencies do.
  assertError(await alice.post({ threadId: th.id, body: '' }), 400, 'invalid_request');

  await redisServer.restart();
  await waitFor('readiness after Redis returns', async () => (await gw.api.get('/readyz')).status === 200 || undefined, 15_000);
  const ok = await alice.post({ threadId: th.id, body: 'after recovery' });
  assert.equal(ok.status, 202, ok.text);
});
