// Contract section 1, Identity: a bearer JWT on every /api call and on the websocket upgrade, with
// algorithms pinned by configuration; the tenant comes from the token only; dev tokens while
// CHORUS_DEV_AUTH=1; errors in the shape {"error":{"code","message"}}.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import * as jose from 'jose';
import type { Authenticator } from '../../core/auth.js';
import {
  Tenant, assertError, config, createAuthenticator, migrateDb, startTestGateway, type RequestOptions, type TestGateway,
} from '../support/api.js';
import { WsClient } from '../support/ws-client.js';
import { uniqueTenant } from '../support/env.js';

let gw: TestGateway;
let auth: Authenticator;

before(async () => {
  await migrateDb(config);
  gw = await startTestGateway(config);
  auth = await createAuthenticator(config);
});
after(async () => {
  await gw?.close();
});

const secret = () => new TextEncoder().encode(config.jwt.hmacKeys[0]!.secret);
const now = () => Math.floor(Date.now() / 1000);

interface Claims { sub?: string; tid?: unknown; iss?: string; aud?: string; exp?: number; roles?: string[] }

function claims(tenantId: string, over: Partial<Claims> = {}, omit: (keyof Claims)[] = []): jose.JWTPayload {
  const c: Record<string, unknown> = { sub: 'alice', tid: tenantId, iss: config.jwt.issuer, aud: config.jwt.audience, exp: now() + 600, iat: now(), ...over };
  for (const k of omit) delete c[k];
  return c as jose.JWTPayload;
}

async function hs256(payload: jose.JWTPayload, key: Uint8Array = secret()): Promise<string> {
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

/** Every way a token can be bad, each with the 401 it must get. */
async function badTokens(tenantId: string): Promise<[string, string | undefined, string?][]> {
  const { privateKey } = await jose.generateKeyPair('RS256');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const good = await hs256(claims(tenantId));
  const [h, p] = good.split('.');
  return [
    ['missing token', undefined],
    ['empty token', ''],
    ['malformed token', 'not-a-jwt'],
    ['three garbage segments', 'a.b.c'],
    ['alg none', new jose.UnsecuredJWT(claims(tenantId)).encode()],
    ['alg none with the header rewritten on a signed token', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`],
    ['tampered payload', `${h}.${b64(claims(tenantId, { sub: 'mallory' }))}.${good.split('.')[2]}`],
    ['wrong HMAC key', await hs256(claims(tenantId), crypto.randomBytes(32))],
    ['RS256 when HS256 is pinned', await new jose.SignJWT(claims(tenantId)).setProtectedHeader({ alg: 'RS256' }).sign(privateKey)],
    ['expired', await hs256(claims(tenantId, { exp: now() - 3600 })), 'token_expired'],
    ['no exp', await hs256(claims(tenantId, {}, ['exp']))],
    ['missing tid', await hs256(claims(tenantId, {}, ['tid']))],
    ['tid not an id', await hs256(claims(tenantId, { tid: 'a b' }))],
    ['tid not a string', await hs256(claims(tenantId, { tid: 42 }))],
    ['missing sub', await hs256(claims(tenantId, {}, ['sub']))],
    ['sub not an id', await hs256(claims(tenantId, { sub: 'al/ice' }))],
    ['wrong issuer', await hs256(claims(tenantId, { iss: 'someone-else' }))],
    ['wrong audience', await hs256(claims(tenantId, { aud: 'someone-else' }))],
  ];
}

describe('bearer tokens on /api', () => {
  test('a valid token is accepted (control for the 401 cases)', async () => {
    const t = uniqueTenant('auth');
    const r = await gw.api.get('/api/threads/th_none', await hs256(claims(t)));
    assertError(r, 404, 'not_found');
  });

  test('every bad token gets 401 with WWW-Authenticate and the error shape', async () => {
    const t = uniqueTenant('auth');
    for (const [name, token, code] of await badTokens(t)) {
      const r = token === undefined
        ? await gw.api.get('/api/threads/th_none')
        : await gw.api.request('GET', '/api/threads/th_none', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 401, `${name}: ${r.text}`);
      assertError(r, 401, code);
      assert.match(String(r.headers['www-authenticate']), /^Bearer/i, name);
    }
  });

  test('a token outside the Authorization header scheme is refused', async () => {
    const token = await auth.sign({ tenantId: uniqueTenant('auth'), userId: 'alice' });
    assertError(await gw.api.request('GET', '/api/threads/th_none', { headers: { authorization: `Basic ${token}` } }), 401);
    assertError(await gw.api.request('GET', '/api/threads/th_none', { headers: { authorization: token } }), 401);
  });

  test('writes are refused without a valid token, and nothing is written', async () => {
    const t = uniqueTenant('auth');
    const forged = await hs256(claims(t), crypto.randomBytes(32));
    assertError(await gw.api.post('/api/threads', forged, { participantIds: [] }), 401);
    assertError(await gw.api.post('/api/messages', undefined, { threadId: 'th_x', body: 'hi' }), 401);
  });
});

describe('the token is judged before the body', () => {
  const limit = () => config.ingest.maxBodyBytes;
  /** Every body the HTTP layer refuses, with the answer a caller with a valid token gets for it. */
  const badBodies = (): [string, RequestOptions, number, string][] => [
    ['over the limit by Content-Length', { raw: 'x'.repeat(limit() + 1), contentType: 'application/json' }, 413, 'payload_too_large'],
    ['over the limit, chunked', { raw: 'x'.repeat(limit() * 2), contentType: 'application/json', chunked: true }, 413, 'payload_too_large'],
    ['a content type other than JSON', { raw: '{"participantIds":[]}', contentType: 'text/plain' }, 415, 'unsupported_media_type'],
    ['no content type', { raw: '{"participantIds":[]}' }, 415, 'unsupported_media_type'],
    ['not JSON', { raw: '{"participantIds": [', contentType: 'application/json' }, 400, 'invalid_json'],
  ];
  const routes: [string, string][] = [['POST', '/api/threads'], ['POST', '/api/messages'], ['PATCH', '/api/messages/msg_none']];

  test('without a valid token every bad body gets 401 (never 413, 415 or 400); with one, the body verdict', async () => {
    const t = uniqueTenant('order');
    const good = await auth.sign({ tenantId: t, userId: 'alice' });
    const callers: [string, Record<string, string>, string][] = [
      ['no token', {}, 'unauthorized'],
      ['wrong key', { authorization: `Bearer ${await hs256(claims(t), crypto.randomBytes(32))}` }, 'unauthorized'],
      ['expired', { authorization: `Bearer ${await hs256(claims(t, { exp: now() - 3600 }))}` }, 'token_expired'],
    ];
    for (const [method, route] of routes) {
      for (const [name, body, status, code] of badBodies()) {
        for (const [who, headers, expected] of callers) {
          const r = await gw.api.request(method, route, { ...body, headers, timeoutMs: 5000 });
          assertError(r, 401, expected);
          assert.match(String(r.headers['www-authenticate']), /^Bearer/i, `${method} ${route}, ${name}, ${who}`);
        }
        assertError(await gw.api.request(method, route, { ...body, token: good, timeoutMs: 5000 }), status, code);
      }
    }
  });

  test('a huge body gets 401 without a valid token (413 with one) at once, and the connection is closed', async () => {
    const t = uniqueTenant('order');
    const callers: [string, string | undefined, number, string][] = [
      ['wrong key', await hs256(claims(t), crypto.randomBytes(32)), 401, 'unauthorized'],
      ['no token', undefined, 401, 'unauthorized'],
      ['valid token', await auth.sign({ tenantId: t, userId: 'alice' }), 413, 'payload_too_large'],
    ];
    // 16 MiB announced, or a chunked body already past the limit: only a first piece is sent, so the
    // answer cannot be waiting for the end of the body. (Sending it all would race the server's
    // close: node's socket destroys itself on the failed write before reading the answer. From
    // 1 GiB on, uWS itself drops the connection before any handler runs.)
    const first = Buffer.alloc(limit() + 1, 'x');
    for (const chunked of [false, true]) {
      for (const [who, token, status, code] of callers) {
        const what = `${who}, ${chunked ? 'chunked' : 'Content-Length'}`;
        const c = await RawConnection.open(gw.port);
        try {
          const head = `POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}`
            + `${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${16 * 1024 * 1024}`}\r\n\r\n`;
          c.write(Buffer.concat([Buffer.from(head), chunked ? Buffer.from(`${first.length.toString(16)}\r\n`) : Buffer.alloc(0), first]));
          const [answer] = await c.answers(1, what);
          assert.equal(answer!.status, status, `${what}: ${answer!.body}`);
          assert.equal(JSON.parse(answer!.body).error.code, code, what);
          if (status === 401) assert.match(answer!.headers['www-authenticate'] ?? '', /^Bearer/i, what);
          await c.closedWithin(5000, what);
        } finally {
          c.destroy();
        }
      }
    }
    // The gateway is still fine.
    assert.equal((await gw.api.post('/api/threads', callers[2]![1], { participantIds: [] })).status, 201);
  });

  test('a 401 answered while a declared body within the limit is still in flight keeps the connection usable', async () => {
    const c = await RawConnection.open(gw.port);
    try {
      const body = '{"participantIds":[]}';
      // Headers only: the 401 does not wait for the body.
      c.write(`POST /api/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      assert.deepEqual((await c.answers(1, 'the 401')).map((a) => a.status), [401]);
      // The rest of the body is drained, and the next request on the connection is answered.
      c.write(body);
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.deepEqual((await c.answers(2, 'the next request')).map((a) => a.status), [401, 200]);
    } finally {
      c.destroy();
    }
  });
});

/** One HTTP/1.1 connection spoken by hand: bodies that never end, requests after an early answer. */
class RawConnection {
  private received = Buffer.alloc(0);
  private closed = false;
  private readonly events: string[] = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.received = Buffer.concat([this.received, d]); });
    // Kept for the failure messages: a write after the server closed fails, which is not the point.
    sock.on('error', (e) => { this.events.push(e.message); });
    sock.on('close', () => { this.closed = true; this.events.push('closed'); });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, config.host);
      sock.once('connect', () => resolve(new RawConnection(sock)));
      sock.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.sock.write(data);
  }

  /** The complete answers received so far (Content-Length framed, as the gateway answers). */
  private parse(): { status: number; headers: Record<string, string>; body: string }[] {
    const out: { status: number; headers: Record<string, string>; body: string }[] = [];
    const text = this.received.toString('latin1');
    let at = 0;
    for (;;) {
      const headEnd = text.indexOf('\r\n\r\n', at);
      if (headEnd < 0) return out;
      const [statusLine, ...lines] = text.slice(at, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (text.length < headEnd + 4 + length) return out;
      out.push({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: text.slice(headEnd + 4, headEnd + 4 + length) });
      at = headEnd + 4 + length;
    }
  }

  async answers(n: number, what: string, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.parse();
      if (got.length >= n) return got;
      if (Date.now() > deadline) throw new Error(`${what}: expected ${n} answers within ${timeoutMs} ms, got ${this.received.toString('latin1').slice(0, 500)} (${this.events.join(', ') || 'still open'})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async closedWithin(timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`${what}: the server did not close the connection within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  destroy(): void {
    this.sock.destroy();
  }
}

describe('bearer tokens on the websocket upgrade', () => {
  test('every bad token is refused with HTTP 401 before the upgrade', async () => {
    const t = uniqueTenant('auth');
    for (const [name, token, code] of await badTokens(t)) {
      const r = await WsClient.refused(gw.wsUrl, token === undefined ? {} : { token });
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body?.error?.code, code ?? r.body?.error?.code, name);
      assert.match(r.body?.error?.code ?? '', /^(unauthorized|token_expired)$/, name);
      assert.equal(typeof r.body?.error?.message, 'string', name);
    }
  });

  test('bad tokens in the Authorization header are refused too', async () => {
    const t = uniqueTenant('auth');
    const r = await WsClient.refused(gw.wsUrl, { token: new jose.UnsecuredJWT(claims(t)).encode(), tokenInHeader: true });
    assert.equal(r.status, 401);
  });

  test('a valid token in the query or the Authorization header opens a socket of that user and tenant', async () => {
    const t = uniqueTenant('auth');
    const token = await auth.sign({ tenantId: t, userId: 'alice' });
    for (const tokenInHeader of [false, true]) {
      const { client, hello } = await WsClient.open(gw.wsUrl, { token, tokenInHeader });
      assert.equal(hello.data.userId, 'alice');
      assert.equal(hello.data.tenantId, t);
      await client.close();
    }
  });
});

describe('POST /dev/token', () => {
  test('200 {"token"} whose claims are the requested identity', async () => {
    const t = uniqueTenant('dev');
    const r = await gw.api.post('/dev/token', undefined, { tenantId: t, userId: 'alice' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body), ['token']);
    assert.deepEqual(await auth.verify(r.body.token), { tenantId: t, userId: 'alice', admin: false });
    const payload = jose.decodeJwt(r.body.token);
    assert.equal(payload.tid, t);
    assert.equal(payload.sub, 'alice');
    assert.ok(typeof payload.exp === 'number' && payload.exp > now());
    // And it works on the API.
    const created = await gw.api.post('/api/threads', r.body.token, { participantIds: [] });
    assert.equal(created.status, 201, created.text);
  });

  test('admin and ttlSeconds are honoured', async () => {
    const t = uniqueTenant('dev');
    const r = await gw.api.post('/dev/token', undefined, { tenantId: t, userId: 'root', admin: true, ttlSeconds: 60 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await auth.verify(r.body.token), { tenantId: t, userId: 'root', admin: true });
    const payload = jose.decodeJwt(r.body.token);
    assert.deepEqual(payload.roles, ['admin']);
    assert.ok(payload.exp! <= now() + 61 && payload.exp! >= now() + 55, `exp ${payload.exp}`);
  });

  test('400 for bad ids and bad options', async () => {
    const t = uniqueTenant('dev');
    const bodies: unknown[] = [
      {}, { tenantId: t }, { userId: 'alice' },
      { tenantId: 'a b', userId: 'alice' }, { tenantId: '', userId: 'alice' }, { tenantId: 'x'.repeat(65), userId: 'alice' },
      { tenantId: t, userId: 'al/ice' }, { tenantId: t, userId: '' }, { tenantId: t, userId: 7 }, { tenantId: ['t'], userId: 'alice' },
      { tenantId: t, userId: 'alice', admin: 'yes' }, { tenantId: t, userId: 'alice', ttlSeconds: -1 },
      { tenantId: t, userId: 'alice', ttlSeconds: 1.5 }, { tenantId: t, userId: 'alice', ttlSeconds: '60' },
    ];
    for (const b of bodies) assertError(await gw.api.post('/dev/token', undefined, b), 400, 'invalid_request');
    assertError(await gw.api.request('POST', '/dev/token', { raw: '{"tenantId":', contentType: 'application/json' }), 400, 'invalid_json');
    assertError(await gw.api.request('POST', '/dev/token', { raw: 'tenantId=t', contentType: 'application/x-www-form-urlencoded' }), 415);
  });

  test('ids of exactly 64 characters are fine', async () => {
    const r = await gw.api.post('/dev/token', undefined, { tenantId: 'T'.repeat(64), userId: 'u_-9'.repeat(16) });
    assert.equal(r.status, 200, r.text);
  });

  test('404 when dev auth is off', async () => {
    const off = await startTestGateway(config, { devAuth: false });
    try {
      assertError(await off.api.post('/dev/token', undefined, { tenantId: uniqueTenant('dev'), userId: 'alice' }), 404);
    } finally {
      await off.close();
    }
  });
});

describe('the tenant comes from the token, never from the body', () => {
  test('a tenantId that disagrees with the token is 403 tenant_mismatch on every write', async () => {
    const tenant = new Tenant(gw.api, auth, 'tm');
    const alice = await tenant.user('alice');
    const th = await alice.thread(['bob']);
    const other = uniqueTenant('other');
    assertError(await gw.api.post('/api/threads', alice.token, { tenantId: other, participantIds: ['bob'] }), 403, 'tenant_mismatch');
    assertError(await gw.api.post('/api/messages', alice.token, { tenantId: other, threadId: th.id, body: 'hi' }), 403, 'tenant_mismatch');
    assertError(await gw.api.post(`/api/threads/${th.id}/participants`, alice.token, { tenantId: other, userId: 'carol' }), 403, 'tenant_mismatch');
    // Even when the rest of the body is invalid, the mismatch wins: it is the more serious finding.
    assertError(await gw.api.post('/api/messages', alice.token, { tenantId: other }), 403, 'tenant_mismatch');
    // Same value (or absent) is fine.
    assert.equal((await gw.api.post('/api/threads', alice.token, { tenantId: tenant.id, participantIds: [] })).status, 201);
    assert.equal((await gw.api.post('/api/messages', alice.token, { tenantId: tenant.id, threadId: th.id, body: 'hi' })).status, 202);
  });

  test('a non-string tenantId is a mismatch too', async () => {
    const tenant = new Tenant(gw.api, auth, 'tm');
    const alice = await tenant.user('alice');
    assertError(await gw.api.post('/api/threads', alice.token, { tenantId: null, participantIds: [] }), 403, 'tenant_mismatch');
    assertError(await gw.api.post('/api/threads', alice.token, { tenantId: [tenant.id], participantIds: [] }), 403, 'tenant_mismatch');
  });
});

describe('error bodies', () => {
  test('unknown routes answer the JSON error shape', async () => {
    assertError(await gw.api.get('/nope'), 404, 'not_found');
    assertError(await gw.api.get('/api/nope', await auth.sign({ tenantId: uniqueTenant('e'), userId: 'a' })), 404);
  });

  test('health endpoints answer without a token', async () => {
    assert.equal((await gw.api.get('/healthz')).status, 200);
    assert.equal((await gw.api.get('/readyz')).status, 200);
  });
});
