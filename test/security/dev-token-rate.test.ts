// Issue #13 (security): POST /dev/token mints tokens (admin ones too) for any tenant, so a gateway
// with dev auth on limits it per client address with a token bucket shared by every gateway
// (core/rate-limit.ts): past the burst, 429 rate_limited with Retry-After, as the contract says.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { loadConfig } from '../../config/index.js';
import { clientBucketId } from '../../core/rate-limit.js';
import { assertError, config, migrateDb, startTestGateway, type TestGateway } from '../support/api.js';
import { testEnv, uniqueTenant } from '../support/env.js';

/** A loopback address of its own (all of 127/8 is loopback): a client no other test shares a bucket with. */
const freshClient = () => `127.${crypto.randomInt(1, 255)}.${crypto.randomInt(0, 256)}.${crypto.randomInt(1, 255)}`;

// Refills one token per 100 s: nothing comes back while the test runs, whatever the machine's speed.
const BURST = 3;
let gw: TestGateway;
before(async () => {
  await migrateDb(config);
  gw = await startTestGateway(config, { rateLimits: { ...config.rateLimits, devTokenClient: { rate: 0.01, burst: BURST } } });
});
after(async () => {
  await gw?.close();
});

const mint = (localAddress: string, body: unknown = { tenantId: uniqueTenant('rl'), userId: 'root', admin: true }) =>
  gw.api.request('POST', '/dev/token', { json: body, localAddress });

describe('POST /dev/token rate limit', () => {
  test('past the burst one address gets 429 rate_limited with Retry-After; another address is not affected', async () => {
    const a = freshClient();
    for (let i = 0; i < BURST; i++) assert.equal((await mint(a)).status, 200, `token ${i + 1} of the burst`);
    const limited = await mint(a);
    assertError(limited, 429, 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 100, `Retry-After ${limited.headers['retry-after']}`);
    assertError(await mint(a), 429, 'rate_limited');
    let b = freshClient();
    while (b === a) b = freshClient();
    assert.equal((await mint(b)).status, 200, 'another client has its own bucket');
  });

  test('a gateway started after the limit was hit shares the bucket (it lives in Redis)', async () => {
    const a = freshClient();
    for (let i = 0; i < BURST; i++) assert.equal((await mint(a)).status, 200);
    const other = await startTestGateway(config, { rateLimits: { ...config.rateLimits, devTokenClient: { rate: 0.01, burst: BURST } } });
    try {
      assertError(await other.api.request('POST', '/dev/token', { json: { tenantId: uniqueTenant('rl'), userId: 'u' }, localAddress: a }), 429, 'rate_limited');
    } finally {
      await other.close();
    }
  });

  test('requests with a bad body count too (a flood of garbage is a flood)', async () => {
    const a = freshClient();
    for (let i = 0; i < BURST; i++) assertError(await mint(a, { tenantId: 'a b' }), 400, 'invalid_request');
    assertError(await mint(a), 429, 'rate_limited');
  });

  test('with dev auth off the route stays 404 and no bucket is touched', async () => {
    const off = await startTestGateway(config, { devAuth: false, rateLimits: { ...config.rateLimits, devTokenClient: { rate: 0.01, burst: 1 } } });
    try {
      const a = freshClient();
      for (let i = 0; i < 3; i++) assertError(await off.api.request('POST', '/dev/token', { json: { tenantId: 't', userId: 'u' }, localAddress: a }), 404);
      assert.equal((await mint(a)).status, 200, 'the address still has its whole burst on a dev-auth gateway');
    } finally {
      await off.close();
    }
  });
});

describe('its configuration and client identity', () => {
  test('defaults to 5 per second with a burst of 50 per address; CHORUS_RATE_DEV_TOKEN_* change it, rate 0 turns it off', () => {
    assert.deepEqual(loadConfig(testEnv({ CHORUS_RATE_DEV_TOKEN_PER_S: undefined, CHORUS_RATE_DEV_TOKEN_BURST: undefined })).rateLimits.devTokenClient, { rate: 5, burst: 50 });
    assert.deepEqual(loadConfig(testEnv({ CHORUS_RATE_DEV_TOKEN_PER_S: '0', CHORUS_RATE_DEV_TOKEN_BURST: '7' })).rateLimits.devTokenClient, { rate: 0, burst: 7 });
  });

  test('IPv4 (also IPv4-mapped) is one bucket per address, IPv6 one per /64', () => {
    assert.equal(clientBucketId('203.0.113.7'), '203.0.113.7');
    assert.equal(clientBucketId('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientBucketId('0000:0000:0000:0000:0000:ffff:cb00:7107'), '203.0.113.7');
    assert.equal(clientBucketId('2001:db8:aa:bb:1:2:3:4'), clientBucketId('2001:db8:aa:bb::ffff'));
    assert.notEqual(clientBucketId('2001:db8:aa:bb::1'), clientBucketId('2001:db8:aa:bc::1'));
  });
});
