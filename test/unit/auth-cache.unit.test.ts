// The verified-token cache: a repeated token skips verification but never outlives its exp,
// failures are never remembered, and JWT_CACHE_SIZE=0 turns it off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as jose from 'jose';
import { loadConfig } from '../../config/index.js';
import { createAuthenticator } from '../../core/auth.js';

const env = { CHORUS_DATA_DIR: '/tmp/chorus-unit', JWT_SECRET: 'unit-secret-unit-secret-unit-secret', JWT_CLOCK_TOLERANCE_S: '0' };

async function token(expS: number): Promise<string> {
  return new jose.SignJWT({ tid: 'acme' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice').setIssuer('chorus').setAudience('chorus')
    .setExpirationTime(expS)
    .sign(new TextEncoder().encode(env.JWT_SECRET));
}

test('a repeated token returns the same principal', async () => {
  const auth = await createAuthenticator(loadConfig(env));
  const t = await token(Math.floor(Date.now() / 1000) + 3600);
  const a = await auth.verify(t);
  assert.deepEqual(a, { tenantId: 'acme', userId: 'alice', admin: false });
  assert.equal(await auth.verify(t), a); // the remembered object, not a second verification
});

test('a cached token is refused once its exp has passed', async () => {
  const auth = await createAuthenticator(loadConfig(env));
  const t = await token(Math.floor(Date.now() / 1000) + 2);
  await auth.verify(t);
  await new Promise((r) => setTimeout(r, 2100));
  await assert.rejects(auth.verify(t), { code: 'token_expired' });
});

test('a refused token stays refused (failures are not cached)', async () => {
  const auth = await createAuthenticator(loadConfig(env));
  const t = (await token(Math.floor(Date.now() / 1000) + 3600)).slice(0, -2) + 'xx';
  await assert.rejects(auth.verify(t), { code: 'unauthorized' });
  await assert.rejects(auth.verify(t), { code: 'unauthorized' });
});

test('JWT_CACHE_SIZE=0 verifies every request', async () => {
  const auth = await createAuthenticator(loadConfig({ ...env, JWT_CACHE_SIZE: '0' }));
  const t = await token(Math.floor(Date.now() / 1000) + 3600);
  const a = await auth.verify(t);
  const b = await auth.verify(t);
  assert.deepEqual(a, b);
  assert.notEqual(a, b);
});
