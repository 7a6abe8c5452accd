// CORS on the HTTP API (gateway/http/cors.ts): the allow-list is the websocket's
// (CHORUS_ALLOWED_ORIGINS). An allowed origin is echoed and may read Retry-After and x-trace-id; a
// refused one gets no Access-Control-Allow-Origin (and its preflight a 403); `Vary: Origin` always;
// credentials are never allowed (the API takes bearer tokens, not cookies).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, config } from '../support/api.js';
import { useStack } from '../support/stack.js';

const ALLOWED = 'https://app.example.com';
const REFUSED = 'https://evil.example.net';

const stack = useStack({
  prefix: 'cors',
  gateways: { listed: { gateway: { ...config.gateway, allowedOrigins: [ALLOWED] } }, any: { gateway: { ...config.gateway, allowedOrigins: '*' } } },
});

describe('CORS', () => {
  test('preflight from an allowed origin: 204 with methods, headers, max-age; no credentials', async () => {
    const api = stack.gateway('listed').api;
    const r = await api.request('OPTIONS', '/api/messages', {
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED);
    assert.match(String(r.headers['access-control-allow-methods']), /\bPOST\b/);
    assert.match(String(r.headers['access-control-allow-methods']), /\bDELETE\b/);
    assert.match(String(r.headers['access-control-allow-headers']), /\bauthorization\b/);
    assert.match(String(r.headers['access-control-allow-headers']), /\bcontent-type\b/);
    assert.ok(Number(r.headers['access-control-max-age']) > 0);
    assert.match(String(r.headers['vary']), /Origin/);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
  });

  test('preflight from a refused origin: 403 origin_not_allowed, nothing allowed', async () => {
    const r = await stack.gateway('listed').api.request('OPTIONS', '/api/threads/th_1', {
      headers: { origin: REFUSED, 'access-control-request-method': 'GET' },
    });
    assertError(r, 403, 'origin_not_allowed');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.headers['access-control-allow-methods'], undefined);
  });

  test('an allowed origin is echoed on answers, errors included, and may read Retry-After and x-trace-id', async () => {
    const gw = stack.gateway('listed');
    const u = await stack.tenant(undefined, gw).user('alice');
    const ok = await gw.api.request('POST', '/api/threads', { token: u.token, json: { participantIds: [] }, headers: { origin: ALLOWED } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.headers['access-control-allow-origin'], ALLOWED);
    assert.match(String(ok.headers['vary']), /Origin/);
    const exposed = String(ok.headers['access-control-expose-headers']);
    assert.match(exposed, /\bretry-after\b/);
    assert.match(exposed, /\bx-trace-id\b/);
    assert.equal(ok.headers['access-control-allow-credentials'], undefined);
    const unauth = await gw.api.request('GET', '/api/inbox', { headers: { origin: ALLOWED } });
    assertError(unauth, 401);
    assert.equal(unauth.headers['access-control-allow-origin'], ALLOWED, 'a page can read why it was refused');
  });

  test('a refused origin gets no Access-Control-Allow-Origin (the request is still answered)', async () => {
    const gw = stack.gateway('listed');
    const u = await stack.tenant(undefined, gw).user('alice');
    const r = await gw.api.request('GET', '/api/inbox', { token: u.token, headers: { origin: REFUSED } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.headers['access-control-expose-headers'], undefined);
    assert.match(String(r.headers['vary']), /Origin/);
  });

  test('with the list at `*` any origin may read (no credentials), and requests without Origin get no CORS grant', async () => {
    const gw = stack.gateway('any');
    const u = await stack.tenant(undefined, gw).user('alice');
    const r = await gw.api.request('GET', '/api/inbox', { token: u.token, headers: { origin: REFUSED } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    const pre = await gw.api.request('OPTIONS', '/api/inbox', { headers: { origin: REFUSED, 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    const plain = await gw.api.get('/api/inbox', u.token);
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
  });
});
