// Log hygiene (seed 7.2, issue 16 item 7), and the scrape targets of that stack (item 2): a private stack (every role, as `npm start` runs them,
// at LOG_LEVEL=debug with no sampling) is driven through token use over HTTP and websocket, auth
// failures (missing, garbage, tampered, expired tokens), signed URL uploads and downloads (also
// tampered ones) and provider callbacks (signed and forged). Then every line any process wrote is
// searched for the dev secrets of `<dataDir>/secrets.json`, every token and every signature the
// test used, and anything shaped like a JWT: none may appear. The security events themselves must
// be there (always logged, with their reason), without the credential.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import WebSocket from 'ws';
import { spawnStack, type SpawnedStack } from '../../benchmarks/lib/stack.js';
import { Api, User } from '../support/api.js';
import { png, rawRequest, upload, waitForStatus } from '../support/attachments.js';
import { sign } from '../../workers/notify/callbacks.js';

let stack: SpawnedStack | undefined;
let logDir = '';
/** Every credential the test hands the stack: none may be in a log line. */
const used = new Set<string>();

before(async () => {
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-log-hygiene-'));
  stack = await spawnStack({ logDir, env: { LOG_LEVEL: 'debug', CHORUS_LOG_SAMPLE: '1', NODE_ENV: 'test' } });
});

after(async () => {
  await stack?.stop();
  fs.rmSync(logDir, { recursive: true, force: true });
});

function secrets(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(stack!.dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
}

async function devUser(api: Api, tenantId: string, userId: string): Promise<User> {
  const r = await api.post('/dev/token', undefined, { tenantId, userId });
  assert.equal(r.status, 200, r.text);
  used.add(r.body.token);
  return new User(api, tenantId, userId, r.body.token as string);
}

/** A websocket upgrade with the token in the query; resolves to the HTTP status or 101. */
function upgrade(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
    ws.once('open', () => {
      ws.close(1000);
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => resolve(0));
  });
}

/** Each signed parameter of a URL (its query values long enough to be a signature or grant). */
function signedParts(url: string): string[] {
  return [...new URL(url).searchParams.values()].filter((v) => v.length >= 16);
}

/** The same URL with its last query value changed. */
function tampered(url: string): string {
  const u = new URL(url);
  const entries = [...u.searchParams.entries()];
  const [k, v] = entries.at(-1)!;
  u.searchParams.set(k, `${v.slice(0, -2)}${v.endsWith('AA') ? 'BB' : 'AA'}`);
  return u.toString();
}

test('each process scraped on its own with node and bounded tenant labels; no token, signature or secret in any log line; security events logged with their reason', { timeout: 240_000 }, async () => {
  const api = new Api(stack!.url);
  const tenant = `loghyg${Date.now().toString(36)}`;
  const alice = await devUser(api, tenant, 'alice');
  const bob = await devUser(api, tenant, 'bob');

  // Token use: HTTP writes and reads, a websocket with the token in its URL.
  const thread = await alice.api.post('/api/threads', alice.token, { title: 'logs', participantIds: ['bob'] });
  assert.equal(thread.status, 201, thread.text);
  const threadId = thread.body.thread.id as string;
  const msg = await alice.api.post('/api/messages', alice.token, { threadId, body: 'hello' });
  assert.equal(msg.status, 202, msg.text);
  assert.equal((await bob.api.get(`/api/threads/${threadId}/messages`, bob.token)).status, 200);
  assert.equal(await upgrade(stack!.url, bob.token), 101);

  // Auth failures: missing, garbage, tampered and expired tokens, over HTTP and websocket.
  const s = secrets();
  const forged = `${alice.token.slice(0, -4)}${alice.token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  const expired = await new jose.SignJWT({ tid: tenant })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('alice').setIssuer('chorus').setAudience('chorus')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
    .sign(new TextEncoder().encode(s['jwt']));
  for (const t of [forged, expired, 'not-a-token-at-all-0123456789']) used.add(t);
  assert.equal((await api.get('/api/inbox')).status, 401);
  for (const t of [forged, expired, 'not-a-token-at-all-0123456789']) {
    assert.equal((await api.get('/api/inbox', t)).status, 401);
    assert.equal(await upgrade(stack!.url, t), 401);
  }

  // Signed URLs: upload, download, and tampered copies of both.
  const bytes = await png(8, 8);
  const { id, upload: up } = await upload(alice, bytes, { filename: 'a.png', contentType: 'image/png' });
  for (const p of signedParts(up.url as string)) used.add(p);
  const bad = await rawRequest('PUT', tampered(up.url as string), bytes, up.headers as Record<string, string>);
  assert.equal(bad.status, 403);
  const ready = await waitForStatus(alice, id, ['ready', 'rejected'], 120_000);
  assert.equal(ready.status, 'ready', JSON.stringify(ready));
  const download = ready.downloadUrl as string;
  for (const p of signedParts(download)) used.add(p);
  assert.equal((await rawRequest('GET', download)).status, 200);
  assert.equal((await rawRequest('GET', tampered(download))).status, 403);

  // Provider callbacks: a signed one and a forged one.
  const raw = JSON.stringify({ events: [{ tenantId: tenant, notificationId: 'n_unknown', status: 'delivered' }] });
  const good = sign(s['emailCallback']!, raw);
  const wrong = sign('not the secret, but long enough to look right', raw);
  used.add(good);
  used.add(wrong);
  for (const signature of [good, wrong]) {
    await api.request('POST', '/api/providers/email/callback', { raw, contentType: 'application/json', headers: { 'x-chorus-signature': `sha256=${signature}` } });
  }

  // Each process is scraped on its own (gateway copies too), `node` on every series, the new
  // 7.1 series present, the tenant label bounded to known values.
  const port = Number(new URL(stack!.url).port);
  const scrape = async (p: number) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
  const gateway = await scrape(port + 100);
  const processors = await scrape(port + 110);
  const samples = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));
  for (const [text, node] of [[gateway, ':gateway'], [processors, ':processors']] as const) {
    const bare = samples(text).filter((l) => !new RegExp(`node="[^"]+${node}"`).test(l));
    assert.deepEqual(bare.slice(0, 3), [], `every series of ${node} carries its node`);
  }
  const gateways = gateway;
  for (const name of ['chorus_auth_failures_total{transport="http",reason="expired"', 'chorus_ws_disconnects_total{code="1000"',
    'chorus_redis_command_duration_seconds_bucket', `chorus_http_requests_total{route="messages_post",method="POST",status="202",tenant="${tenant}"`,
    // Bob's socket may close before any stream event reaches it: the family, not a sample, is certain.
    '# TYPE chorus_ws_events_sent_total counter']) {
    assert.ok(gateways.includes(name), `the gateway's /metrics has ${name}`);
  }
  assert.match(processors, /^chorus_db_cache_hit_ratio\{node="[^"]+"\} (0|1|0\.\d+)$/m);
  assert.match(processors, new RegExp(`chorus_processor_entries_total\\{queue="projector",outcome="ok",tenant="${tenant}"`));

  // Stop the stack: every process flushes its log before it exits.
  await stack!.stop();
  // Log lines are JSON; the rest of the file is the supervisor's banner for a human at the terminal,
  // which prints two dev tokens of tenant `acme` on purpose (README, Quick start; never in production,
  // where dev auth is off).
  const lines = fs.readFileSync(stack!.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 50, `only ${lines.length} log lines`);

  const forbidden = new Map<string, string>();
  for (const [name, value] of Object.entries(s)) if (name !== 'note' && name !== 'createdAt') forbidden.set(value, `secret ${name}`);
  for (const u of used) forbidden.set(u, 'a credential the test used');
  const leaks: string[] = [];
  for (const line of lines) {
    for (const [value, what] of forbidden) if (line.includes(value)) leaks.push(`${what}: ${line.slice(0, 300)}`);
    if (/eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/.test(line)) leaks.push(`a JWT: ${line.slice(0, 300)}`);
  }
  assert.deepEqual(leaks, []);

  // The security events are there, each with its reason (never sampled away).
  const json = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  const events = (security: string) => json.filter((j) => j['security'] === security);
  const authFailures = events('auth_failure');
  assert.deepEqual(new Set(authFailures.map((j) => `${String(j['transport'])}:${String(j['reason'])}`)),
    new Set(['http:missing_token', 'http:invalid_token', 'http:expired', 'ws:invalid_token', 'ws:expired']));
  assert.ok(events('upgrade_refused').length >= 3, 'every refused upgrade is logged');
  assert.equal(events('signed_url_refused').length, 2);
  assert.deepEqual(events('callback_refused').map((j) => j['reason']), ['bad_signature']);
  assert.ok(json.some((j) => j['msg'] === 'websocket connected' && j['sampled_1_in'] === 1), 'sampled success lines carry their rate');
});
