// Signed object URLs (workers/storage/url-signing.ts): one object, one method, a size or a served
// type and name, an expiry; any change breaks the signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signGrant, verifyGrant, type Grant } from '../../workers/storage/url-signing.js';
import { cleanContent, contentDisposition, isObjectKey, objectKey, servedDisposition } from '../../workers/storage/store.js';

const secret = 'unit-test-secret-0123456789';
const key = objectKey('quarantine', 'acme', 'att_1');
const now = 1_800_000_000;
const put: Grant = { method: 'PUT', key, expiresAt: now + 60, size: 1234 };

function check(method: string, k = key, q = signGrant(secret, put), at = now) {
  return verifyGrant(secret, method, k, new URLSearchParams(q), at);
}

test('a signed grant verifies for its method, key and query', () => {
  const r = check('PUT');
  assert.ok(r.ok);
  assert.deepEqual(r.grant, put);
});

test('another method, object, tenant or area is a bad signature', () => {
  assert.deepEqual(check('GET'), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(check('PUT', objectKey('quarantine', 'acme', 'att_2')), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(check('PUT', objectKey('quarantine', 'other', 'att_1')), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(check('PUT', objectKey('clean', 'acme', 'att_1')), { ok: false, reason: 'bad_signature' });
  assert.equal(check('DELETE').ok, false);
});

test('tampering with any parameter breaks the signature; expiry is checked after it', () => {
  const q = new URLSearchParams(signGrant(secret, put));
  for (const [k, v] of [['n', '1235'], ['e', String(now + 3600)], ['t', 'text/html'], ['f', 'x.html'], ['d', 'inline']] as const) {
    const t = new URLSearchParams(q);
    t.set(k, v);
    assert.deepEqual(check('PUT', key, t.toString()), { ok: false, reason: 'bad_signature' }, k);
  }
  assert.deepEqual(check('PUT', key, signGrant('another-secret-0123456789', put)), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(check('PUT', key, signGrant(secret, put), now + 61), { ok: false, reason: 'expired' });
  assert.ok(check('PUT', key, signGrant(secret, put), now + 60).ok, 'valid through its expiry second');
});

test('malformed queries are refused', () => {
  for (const q of ['', 'e=abc&s=x', 'e=1&n=-1&s=x', 'e=1&d=attachment&s=x', 'e=1']) {
    assert.deepEqual(check('PUT', key, q), { ok: false, reason: 'malformed' }, q);
  }
});

test('download grants cover the served type, name and disposition', () => {
  const get: Grant = { method: 'GET', key: objectKey('clean', 'acme', 'a'.repeat(64)), expiresAt: now + 60, contentType: 'image/png', filename: 'ä b.png', inline: true };
  const r = verifyGrant(secret, 'GET', get.key, new URLSearchParams(signGrant(secret, get)), now);
  assert.ok(r.ok);
  assert.deepEqual(r.grant, get);
});

test('object keys: known areas, id-shaped tenants, names without slashes or dot-dot', () => {
  assert.ok(isObjectKey({ area: 'clean', tenantId: 'acme', name: `${'a'.repeat(64)}.thumb.webp` }));
  assert.ok(!isObjectKey({ area: 'other', tenantId: 'acme', name: 'x' }));
  assert.ok(!isObjectKey({ area: 'clean', tenantId: 'a/b', name: 'x' }));
  assert.ok(!isObjectKey({ area: 'clean', tenantId: 'acme', name: '../x' }));
  assert.ok(!isObjectKey({ area: 'clean', tenantId: 'acme', name: '.hidden' }));
  assert.ok(!isObjectKey({ area: 'clean', tenantId: 'acme', name: 'a..b' }));
  assert.throws(() => objectKey('clean', 'acme', 'a/b'));
});

test('Content-Disposition: RFC 6266 with an ASCII fallback', () => {
  assert.equal(contentDisposition(undefined), 'attachment');
  assert.equal(contentDisposition('a.png', true), `inline; filename="a.png"; filename*=UTF-8''a.png`);
  assert.equal(contentDisposition('résumé "1".pdf'), `attachment; filename="r_sum_ _1_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf`);
});

test('served disposition: inline only for raster images that ask for it, whatever else a URL asks', () => {
  assert.equal(servedDisposition('image/webp', undefined, true), 'inline');
  assert.equal(servedDisposition('IMAGE/PNG', undefined, true), 'inline');
  for (const type of ['text/html', 'image/svg+xml', 'text/plain', 'application/pdf', 'application/xml']) {
    assert.equal(servedDisposition(type, 'x.html', true), `attachment; filename="x.html"; filename*=UTF-8''x.html`, type);
  }
  assert.equal(servedDisposition('image/png', 'a.png'), `attachment; filename="a.png"; filename*=UTF-8''a.png`);
});

test('clean keys name the bytes or their thumbnail; nothing else is served', () => {
  const h = 'ab'.repeat(32);
  assert.deepEqual(cleanContent(objectKey('clean', 'acme', h)), { sha256: h, thumbnail: false });
  assert.deepEqual(cleanContent(objectKey('clean', 'acme', `${h}.thumb.webp`)), { sha256: h, thumbnail: true });
  assert.equal(cleanContent(objectKey('clean', 'acme', `${h}.meta`)), null);
  assert.equal(cleanContent(objectKey('clean', 'acme', 'att_1')), null);
  assert.equal(cleanContent(objectKey('quarantine', 'acme', h)), null);
});
