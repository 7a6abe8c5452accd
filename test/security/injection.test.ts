// Standing attack suite: injection strings (SQL, prototype pollution) in fields, ids and query
// parameters; path traversal on /objects; tampered signed object URLs. Values are data, never code:
// stored and echoed verbatim where a field allows them, refused with 400 where an id's pattern does
// not, and never a 5xx. docs/security.md lists each case.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { config, migrateDb, startTestGateway, Tenant, createAuthenticator, assertError, type TestGateway, type User } from '../support/api.js';
import { rawExchange } from '../support/raw-http.js';
import type { Authenticator } from '../../core/auth.js';

let gw: TestGateway;
let auth: Authenticator;
let alice: User;

const SQLI = ["' OR '1'='1", "'; DROP TABLE messages; --", '" OR ""="', '1; SELECT pg_sleep(5)--', "\\'; --", '%27%20OR%201=1'];

before(async () => {
  await migrateDb(config);
  auth = await createAuthenticator(config);
  gw = await startTestGateway(config);
  alice = await new Tenant(gw.api, auth, 'inject').user('alice');
});

after(async () => {
  await gw?.close();
});

test('SQL-injection strings in free-text fields are stored and echoed verbatim', async () => {
  for (const s of SQLI) {
    const th = await alice.thread([], s);
    assert.equal(th.title, s);
    const m = await alice.say(th.id, s, { clientMessageId: `c-${SQLI.indexOf(s)}` });
    assert.equal(m.body, s);
    const again = await alice.getThread(th.id);
    assert.equal(again.body.thread.title, s);
  }
});

test('SQL-injection strings where an id, cursor or limit is expected → 400, never 5xx', async () => {
  for (const s of SQLI) {
    const enc = encodeURIComponent(s);
    assertError(await gw.api.get(`/api/threads/${enc}`, alice.token), 400, 'invalid_request');
    assertError(await gw.api.get(`/api/threads/${enc}/messages`, alice.token), 400, 'invalid_request');
    assertError(await gw.api.patch(`/api/messages/${enc}`, alice.token, { body: 'x' }), 400, 'invalid_request');
    assertError(await gw.api.get(`/api/attachments/${enc}`, alice.token), 400, 'invalid_request');
    assertError(await alice.createThread([s]), 400, 'invalid_request');
    assertError(await alice.post({ threadId: s, body: 'x' }), 400, 'invalid_request');
    assertError(await gw.api.get(`/api/presence?userIds=${enc}`, alice.token), 400, 'invalid_request');
    assertError(await gw.api.get(`/api/inbox?cursor=${enc}`, alice.token), 400, 'invalid_cursor');
    assertError(await gw.api.get(`/api/inbox?limit=${enc}`, alice.token), 400, 'invalid_request');
    assertError(await gw.api.post('/dev/token', undefined, { tenantId: s, userId: 'u' }), 400, 'invalid_request');
  }
});

test('__proto__ and constructor.prototype keys in JSON bodies pollute nothing and grant nothing', async () => {
  const raw = (body: string) => gw.api.request('POST', '/api/threads', { token: alice.token, raw: body, contentType: 'application/json' });
  for (const body of [
    '{"participantIds":[],"__proto__":{"polluted":"yes","admin":true}}',
    '{"participantIds":[],"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"__proto__":{"participantIds":["bob"]}}',
  ]) {
    const r = await raw(body);
    assert.ok(r.status === 201 || r.status === 400, `${body}: ${r.status} ${r.text}`);
    if (r.status === 201) assert.deepEqual(r.body.thread.participantIds, ['alice'], 'nothing from __proto__ was used');
  }
  // A dev token asked for with an admin flag hidden in __proto__ is not an admin token.
  const tok = await gw.api.request('POST', '/dev/token', { raw: '{"tenantId":"t1","userId":"u1","__proto__":{"admin":true}}', contentType: 'application/json' });
  assert.equal(tok.status, 200, tok.text);
  const claims = JSON.parse(Buffer.from(String(tok.body.token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(claims['roles'], undefined);
  // Ids named like prototype members are just ids.
  for (const id of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty']) {
    assertError(await gw.api.get(`/api/threads/${id}`, alice.token), 404, 'not_found');
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(({} as Record<string, unknown>)['admin'], undefined);
});

/** A signed upload URL of a fresh attachment of alice's. */
async function uploadUrl(): Promise<URL> {
  const r = await gw.api.post('/api/attachments', alice.token, { filename: 'a.txt', contentType: 'text/plain', size: 5 });
  assert.equal(r.status, 201, r.text);
  return new URL(r.body.upload.url);
}

async function put(url: URL, body = 'hello'): Promise<number> {
  return (await gw.api.request('PUT', url.pathname + url.search, { raw: body, contentType: 'text/plain' })).status;
}

test('tampered signed object URLs are refused with 403: another key, expiry, signature or method', async () => {
  const url = await uploadUrl();
  const withParam = (k: string, v: string) => { const u = new URL(url); u.searchParams.set(k, v); return u; };
  const params = [...url.searchParams.keys()];
  assert.ok(params.length >= 2, `signed URL params: ${url.search}`);
  // Every signed parameter changed, one at a time.
  for (const k of params) assert.equal(await put(withParam(k, `${url.searchParams.get(k)}0`)), 403, `changed ${k}`);
  // Another object name or tenant under the same signature.
  const parts = url.pathname.split('/');
  const otherName = new URL(url); otherName.pathname = [...parts.slice(0, -1), `${parts.at(-1)}x`].join('/');
  assert.equal(await put(otherName), 403, 'other object');
  const otherTenant = new URL(url); otherTenant.pathname = [...parts.slice(0, -2), 'someone_else', parts.at(-1)].join('/');
  assert.equal(await put(otherTenant), 403, 'other tenant');
  // The upload URL used to read: quarantine is never served.
  const get = await gw.api.request('GET', url.pathname + url.search);
  assert.ok([403, 404].includes(get.status), `GET on an upload URL: ${get.status}`);
  // Unsigned.
  assert.equal(await put(new URL(url.pathname, url)), 403, 'no signature');
  // The untampered URL still works (the refusals above did not consume it).
  assert.equal(await put(url), 200);
});

test('path traversal on /objects never escapes the store: 403/404, never a file', async () => {
  const url = await uploadUrl();
  const tenant = url.pathname.split('/')[3];
  const paths = [
    '/objects/clean/../../../../etc/passwd',
    '/objects/clean/%2e%2e/%2e%2e/etc/passwd',
    `/objects/clean/${tenant}/..%2f..%2f..%2fetc%2fpasswd`,
    `/objects/clean/${tenant}/%2e%2e%2f%2e%2e%2fpackage.json`,
    '/objects/quarantine/..%2fclean/x',
    `/objects/clean/${tenant}/....//....//etc/passwd`,
    '/objects/clean/%00/x',
  ];
  for (const p of paths) {
    const x = await rawExchange(gw.port, `GET ${p}${url.search} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
    const status = x.statuses[0] ?? 0;
    assert.ok([400, 403, 404].includes(status), `${p}: ${x.text.slice(0, 200)}`);
    assert.doesNotMatch(x.text, /root:|"name": "chorus"/, `${p} served a file`);
  }
});
