// Security finding (issue #13, low–medium): /metrics was public on the gateway's API port and on
// the processor roles' metrics ports, and its labels name tenants. Now it is served to the
// addresses of CHORUS_METRICS_ALLOW (loopback by default outside production, none in production)
// or with `Authorization: Bearer <CHORUS_METRICS_TOKEN>`; anything else gets 401 (a token is
// configured) or 403 (none is), with the contract's error body and none of the metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { config, log, migrateDb, startTestGateway, Api, assertError, Tenant, createAuthenticator, type Reply, type TestGateway } from '../support/api.js';
import { loadConfig, type Config } from '../../config/index.js';
import { serveMetrics } from '../../core/metrics-server.js';
import { metricsGuard } from '../../core/metrics-access.js';
import { testEnv } from '../support/env.js';

const TOKEN = crypto.randomBytes(24).toString('hex');
const gateways: TestGateway[] = [];
const servers: http.Server[] = [];

before(async () => {
  await migrateDb(config);
});

after(async () => {
  for (const g of gateways) await g.close();
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

async function gatewayWith(metricsAccess: Config['metricsAccess']): Promise<TestGateway> {
  const g = await startTestGateway(config, { metricsAccess });
  gateways.push(g);
  return g;
}

/** A processor role's metrics endpoint (core/metrics-server.ts) on a free port of 127.0.0.1. */
async function processorMetrics(metricsAccess: Config['metricsAccess']): Promise<Api> {
  const s = await serveMetrics('127.0.0.1', 0, metricsGuard(metricsAccess), log);
  servers.push(s);
  return new Api(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
}

const scrape = (api: Api, token?: string) => api.get('/metrics', token);

function assertMetrics(r: Reply): void {
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.match(r.text, /^# HELP /m);
}

function assertNoMetrics(r: Reply, status: 401 | 403): void {
  assertError(r, status, status === 401 ? 'unauthorized' : 'forbidden');
  assert.doesNotMatch(r.text, /# HELP|chorus_/, 'a refusal shows no metrics');
  if (status === 401) assert.equal(r.headers['www-authenticate'], 'Bearer');
}

test('outside production loopback is allowed by default, so local scrapes (tests, benchmarks) need no token', () => {
  assert.equal(config.production, false);
  assert.deepEqual(config.metricsAccess.allow, ['127.0.0.1', '::1']);
});

test('in production no address is allowed by default: without CHORUS_METRICS_TOKEN /metrics is refused everywhere', () => {
  const secret = () => crypto.randomBytes(32).toString('hex');
  const prodEnv = {
    NODE_ENV: 'production', JWT_SECRET: secret(), CHORUS_OBJECT_URL_SECRET: secret(),
    CHORUS_EMAIL_CALLBACK_SECRET: secret(), CHORUS_PUSH_CALLBACK_SECRET: secret(),
  };
  const prod = loadConfig(testEnv(prodEnv));
  assert.deepEqual(prod.metricsAccess, { token: undefined, allow: [] });
  // A production token is held to the rule of every other production secret (config/secrets.ts).
  assert.throws(() => loadConfig(testEnv({ ...prodEnv, CHORUS_METRICS_TOKEN: 'metrics-token-metrics-token' })), /CHORUS_METRICS_TOKEN/);
  assert.equal(loadConfig(testEnv({ ...prodEnv, CHORUS_METRICS_TOKEN: TOKEN })).metricsAccess.token, TOKEN);
  const verdict = metricsGuard(prod.metricsAccess)('127.0.0.1', undefined);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.refusal.status, 403);
});

test('CHORUS_METRICS_ALLOW takes IPs and CIDRs, refuses anything else at start-up; a short token is refused', () => {
  assert.deepEqual(loadConfig(testEnv({ CHORUS_METRICS_ALLOW: '10.0.0.0/8, ::1,192.0.2.7' })).metricsAccess.allow, ['10.0.0.0/8', '::1', '192.0.2.7']);
  assert.deepEqual(loadConfig(testEnv({ CHORUS_METRICS_ALLOW: '' })).metricsAccess.allow, []);
  for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '1.2.3.4/8/1', '*']) {
    assert.throws(() => loadConfig(testEnv({ CHORUS_METRICS_ALLOW: bad })), /CHORUS_METRICS_ALLOW/, bad);
  }
  assert.throws(() => loadConfig(testEnv({ CHORUS_METRICS_TOKEN: 'short' })), /CHORUS_METRICS_TOKEN/);
});

test('the guard matches IPv4, IPv6 and IPv4-mapped peers as uWS and node report them', () => {
  const guard = metricsGuard({ allow: ['127.0.0.1', '::1', '10.0.0.0/8'] });
  for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '0000:0000:0000:0000:0000:ffff:7f00:0001', '0000:0000:0000:0000:0000:0000:0000:0001', '10.20.30.40']) {
    assert.ok(guard(a, undefined).ok, a);
  }
  for (const a of ['127.0.0.2', '192.0.2.1', '::2', '', 'not an address']) assert.equal(guard(a, undefined).ok, false, a);
});

test('gateway: a peer outside the allow-list gets 403 and no metrics when no token is configured', async () => {
  const g = await gatewayWith({ allow: ['192.0.2.0/24'] });
  // Something tenant-named in the registry, so that a leak would show.
  const t = new Tenant(g.api, await createAuthenticator(config), 'metricsleak');
  await (await t.user('alice')).thread([]);
  const r = await scrape(g.api);
  assertNoMetrics(r, 403);
  assert.ok(!r.text.includes(t.id));
});

test('gateway: with CHORUS_METRICS_TOKEN a peer outside the allow-list needs the bearer token (401 without, 401 wrong, 200 right)', async () => {
  const g = await gatewayWith({ token: TOKEN, allow: [] });
  assertNoMetrics(await scrape(g.api), 401);
  assertNoMetrics(await scrape(g.api, `${TOKEN}x`), 401);
  assertNoMetrics(await scrape(g.api, TOKEN.slice(1)), 401);
  assertMetrics(await scrape(g.api, TOKEN));
});

test('gateway: an allowed address is served without a token, even when one is configured', async () => {
  const g = await gatewayWith({ token: TOKEN, allow: ['127.0.0.1'] });
  assertMetrics(await scrape(g.api));
});

test('processor roles\' metrics port: the same rule (403 outside the allow-list, 401/200 with a token, 200 when allowed)', async () => {
  assertNoMetrics(await scrape(await processorMetrics({ allow: ['192.0.2.1'] })), 403);
  const withToken = await processorMetrics({ token: TOKEN, allow: [] });
  assertNoMetrics(await scrape(withToken), 401);
  assertNoMetrics(await scrape(withToken, 'nope'), 401);
  assertMetrics(await scrape(withToken, TOKEN));
  assertMetrics(await scrape(await processorMetrics({ allow: ['127.0.0.1', '::1'] })));
});
