// Issue #13 (security): what a bearer token must be to pass, judged by a real gateway over HTTP and
// on the websocket upgrade. New here: a token "issued" in the future (iat beyond the clock
// tolerance) is refused. Locked in: alg none, algorithm confusion, expiry, nbf, issuer, audience.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { assertError, config, startTestGateway, type TestGateway } from '../support/api.js';
import { WsClient } from '../support/ws-client.js';
import { useStack } from '../support/stack.js';
import { testConfig, uniqueTenant } from '../support/env.js';

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: jose.JWTPayload = {}): jose.JWTPayload => ({
  sub: 'alice', tid: uniqueTenant('jwt'), iss: config.jwt.issuer, aud: config.jwt.audience, iat: now(), exp: now() + 600, ...over,
});
const hs256 = (payload: jose.JWTPayload, secret: string | Uint8Array = config.jwt.hmacKeys[0]!.secret) =>
  new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

/** A token the gateway accepts gets 404 (no such thread); a refused one 401 with the contract's shape. */
async function refused(gw: TestGateway, token: string, what: string, code = 'unauthorized'): Promise<void> {
  const r = await gw.api.get('/api/threads/th_none', token);
  assert.equal(r.status, 401, `${what}: ${r.text}`);
  assertError(r, 401, code);
  assert.match(String(r.headers['www-authenticate']), /^Bearer/i, what);
  const ws = await WsClient.refused(gw.wsUrl, { token });
  assert.equal(ws.status, 401, `${what} (websocket)`);
  assert.equal(ws.body?.error?.code, code, `${what} (websocket)`);
}
async function accepted(gw: TestGateway, token: string, what: string): Promise<void> {
  const r = await gw.api.get('/api/threads/th_none', token);
  assert.equal(r.status, 404, `${what}: ${r.text}`);
}

const stack = useStack({ prefix: 'jwt' });

describe('iat', () => {
  test('a token issued an hour (or a minute) in the future is 401, whatever its exp', async () => {
    await refused(stack.gw, await hs256(claims({ iat: now() + 3600, exp: now() + 7200 })), 'iat +1 h');
    await refused(stack.gw, await hs256(claims({ iat: now() + 60 + config.jwt.clockToleranceS })), 'iat just past the tolerance + 1 min');
  });

  test('iat now, within the clock tolerance, in the past, or absent is fine', async () => {
    assert.ok(config.jwt.clockToleranceS >= 2, 'the test needs a tolerance of at least 2 s');
    for (const [what, iat] of [['now', now()], ['1 s ahead', now() + 1], ['an hour ago', now() - 3600], ['absent', undefined]] as const) {
      const c = claims({ iat });
      if (iat === undefined) delete c.iat;
      await accepted(stack.gw, await hs256(c), `iat ${what}`);
    }
  });

  test('a refused future token is not remembered by the verified-token cache', async () => {
    const future = await hs256(claims({ iat: now() + 3600 }));
    await refused(stack.gw, future, 'first try');
    await refused(stack.gw, future, 'second try');
  });
});

describe('what already held, locked in', () => {
  test('alg none, expired, nbf in the future, wrong issuer, wrong audience', async () => {
    await refused(stack.gw, new jose.UnsecuredJWT(claims()).encode(), 'alg none');
    await refused(stack.gw, await hs256(claims({ iat: now() - 7200, exp: now() - 3600 })), 'expired', 'token_expired');
    await refused(stack.gw, await hs256(claims({ nbf: now() + 3600 })), 'nbf +1 h');
    await refused(stack.gw, await hs256(claims({ iss: 'someone-else' })), 'wrong iss');
    await refused(stack.gw, await hs256(claims({ aud: 'someone-else' })), 'wrong aud');
    await refused(stack.gw, await hs256(claims(), crypto.randomBytes(32)), 'another HMAC key');
  });

  test('HS/RS confusion: an HS256 token keyed with the RSA public key is refused, also when HS256 is allowed too', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const pem = await jose.exportSPKI(publicKey);
    const hmacSecret = crypto.randomBytes(32).toString('hex');
    const rs256 = () => new jose.SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    for (const env of [
      { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: pem },
      { JWT_ALGORITHMS: 'RS256,HS256', JWT_PUBLIC_KEY: pem, JWT_SECRET: hmacSecret },
    ]) {
      const rsGw = await startTestGateway(testConfig(env));
      try {
        await accepted(rsGw, await rs256(), `${env.JWT_ALGORITHMS}: RS256 with the private key`);
        await refused(rsGw, await hs256(claims(), pem), `${env.JWT_ALGORITHMS}: HS256 keyed with the public key PEM`);
        await refused(rsGw, await hs256(claims(), Buffer.from(JSON.stringify(await jose.exportJWK(publicKey)))), `${env.JWT_ALGORITHMS}: HS256 keyed with the JWK`);
        if (env.JWT_SECRET) await accepted(rsGw, await hs256(claims(), hmacSecret), 'HS256 with the HMAC secret');
        else await refused(rsGw, await hs256(claims()), 'RS256 only: HS256 with the dev secret');
      } finally {
        await rsGw.close();
      }
    }
  });
});
