// The SDK's pure parts (backoff, seq tracking, typing throttle, token expiry, close codes) and its
// reactions to close codes, with a fake WebSocket and fetch: 4008 resumes at once, an auth close
// asks for a new token, 1009 does not send the offending frame again, a drain resumes soon.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChorusClient, SeqTracker, TokenSource, backoffDelay, closeAction, compareSeq, retryAfterMs,
  type WebSocketConstructor, type WebSocketLike,
} from '../../client/index.js';
import { TypingThrottle } from '../../client/typing.js';

describe('client: pure parts', () => {
  test('backoff: full jitter under a capped exponential ceiling', () => {
    assert.equal(backoffDelay(0, { baseMs: 100, capMs: 1000 }, () => 0.999), 99);
    assert.equal(backoffDelay(3, { baseMs: 100, capMs: 1000 }, () => 0.5), 400);
    assert.equal(backoffDelay(50, { baseMs: 100, capMs: 1000 }, () => 0.999), 999);
    assert.equal(backoffDelay(5, {}, () => 0), 0);
  });

  test('Retry-After in seconds or as a date', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
  });

  test('seq: each once, never backwards; reset by a snapshot', () => {
    assert.equal(compareSeq('10-1', '9-5'), 1);
    assert.equal(compareSeq('10-1', '10-2'), -1);
    assert.equal(compareSeq('x', '10-2'), undefined);
    const s = new SeqTracker('5-0');
    assert.equal(s.accept('5-0'), false);
    assert.equal(s.accept('4-9'), false);
    assert.equal(s.accept('6-0'), true);
    assert.equal(s.accept('6-0'), false);
    s.reset('100-0');
    assert.equal(s.accept('99-0'), false);
    assert.equal(s.accept('100-1'), true);
    assert.equal(s.last, '100-1');
  });

  test('typing: one frame per thread per interval', () => {
    let now = 0;
    const th = new TypingThrottle(3000, () => now);
    assert.equal(th.shouldSend('a'), true);
    assert.equal(th.shouldSend('a'), false);
    assert.equal(th.shouldSend('b'), true);
    now = 3000;
    assert.equal(th.shouldSend('a'), true);
  });

  test('token: asked again near exp and after invalidate; one call for concurrent callers', async () => {
    let now = 0;
    let calls = 0;
    const jwt = (exp: number) => `h.${btoa(JSON.stringify({ exp })).replace(/=+$/, '')}.s`;
    const src = new TokenSource(() => { calls++; return jwt(100 * calls); }, () => now);
    await Promise.all([src.get(), src.get(), src.get()]);
    assert.equal(calls, 1);
    now = 60_000;
    await src.get();
    assert.equal(calls, 1, 'valid until 30 s before exp');
    now = 71_000;
    await src.get();
    assert.equal(calls, 2, 'within the margin: a new one');
    src.invalidate('some other token');
    await src.get();
    assert.equal(calls, 2, 'invalidating an older token keeps the newer one');
    src.invalidate();
    await src.get();
    assert.equal(calls, 3);
  });

  test('close codes', () => {
    assert.equal(closeAction(4008, false), 'resume-now');
    assert.equal(closeAction(4401, false), 'new-token');
    assert.equal(closeAction(1009, false), 'drop-last-frame');
    assert.equal(closeAction(1001, false), 'resume-soon');
    assert.equal(closeAction(1006, true), 'resume-soon');
    assert.equal(closeAction(1006, false), 'backoff');
  });
});

/** A fake server side: the test drives each socket the SDK opens. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: any) => void) | null = null;
  onclose: ((ev: any) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  constructor(readonly url: string) { FakeSocket.all.push(this); }
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close(code = 1000) { this.serverClose(code); }
  hello(heartbeatIntervalMs = 25_000) {
    this.readyState = 1;
    this.onopen?.({});
    this.frame({ type: 'hello', ts: 0, data: { connectionId: 'c', userId: 'u', tenantId: 't', headSeq: '1-0', heartbeatIntervalMs, resumed: true, replayed: 0 } });
  }
  frame(f: unknown) { this.onmessage?.({ data: JSON.stringify(f) }); }
  serverClose(code: number) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const waitUntil = async (what: string, fn: () => boolean) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(fn(), what);
};

function fakeClient(tokens: string[] = ['tok']) {
  FakeSocket.all = [];
  let calls = 0;
  const syncs: number[] = [];
  const fetchFake: typeof fetch = async (input) => {
    if (String(input).endsWith('/api/sync')) {
      syncs.push(1);
      return new Response(JSON.stringify({ seq: '50-0', inbox: { threads: [], nextCursor: null }, presence: [] }), { status: 200 });
    }
    return new Response('{}', { status: 200 });
  };
  const client = new ChorusClient({
    baseUrl: 'http://chorus.test', token: () => tokens[Math.min(calls++, tokens.length - 1)]!,
    WebSocket: FakeSocket as unknown as WebSocketConstructor, fetch: fetchFake, backoff: { baseMs: 1000, capMs: 1000 }, ackIntervalMs: 20,
  });
  return { client, syncs, calls: () => calls };
}

describe('client: close codes and control frames (fake socket)', () => {
  test('4008 resumes at once with lastSeq; an auth close asks for a new token', async () => {
    const { client, calls } = fakeClient(['t1', 't2']);
    const seen: string[] = [];
    client.on('event', (e) => seen.push(e.seq));
    await client.start();
    await waitUntil('first socket', () => FakeSocket.all.length === 1);
    const s1 = FakeSocket.all[0]!;
    s1.hello();
    s1.frame({ type: 'message.created', seq: '60-0', ts: 0, data: { id: 'm1', threadId: 'th' } });
    s1.frame({ type: 'message.created', seq: '60-0', ts: 0, data: { id: 'm1', threadId: 'th' } });
    assert.deepEqual(seen, ['60-0'], 'a duplicate seq is not emitted');
    s1.frame({ type: 'message.created', seq: '61-0', ts: 0, data: { id: 'm2', threadId: 'th' } });
    await waitUntil('an ack', () => s1.sent.some((f) => f.type === 'ack'));
    assert.deepEqual(s1.sent.filter((f) => f.type === 'ack').map((f) => f.data.seq), ['61-0'], 'one ack for both events: the last seq');
    assert.deepEqual(s1.sent[0], { type: 'presence.heartbeat', data: { status: 'online' } }, 'a heartbeat as soon as the hello arrives');
    s1.serverClose(4008);
    await waitUntil('an immediate reconnect', () => FakeSocket.all.length === 2);
    const s2 = FakeSocket.all[1]!;
    assert.match(s2.url, /lastSeq=61-0/);
    assert.match(s2.url, /token=t1/);
    s2.hello();
    s2.serverClose(4401);
    // The backoff is 0–1000 ms; the token must be new whenever it comes.
    await waitUntil('a reconnect with a new token', () => FakeSocket.all.length === 3);
    assert.match(FakeSocket.all[2]!.url, /token=t2/);
    assert.equal(calls(), 2);
    client.stop();
  });

  test('heartbeats at the interval hello announces, with the chosen status; none after the close', async () => {
    const { client } = fakeClient();
    await client.start();
    await waitUntil('socket', () => FakeSocket.all.length === 1);
    const s = FakeSocket.all[0]!;
    s.hello(30);
    client.setStatus('dnd');
    await waitUntil('three heartbeats', () => s.sent.filter((f) => f.type === 'presence.heartbeat').length >= 4);
    assert.deepEqual(s.sent.filter((f) => f.type === 'presence.heartbeat').slice(1).map((f) => f.data.status).slice(0, 3), ['dnd', 'dnd', 'dnd']);
    client.stop();
    const n = s.sent.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.sent.length, n);
  });

  test('1009: the frame that was too big is not sent again after the reconnect', async () => {
    const { client } = fakeClient();
    await client.start();
    await waitUntil('socket', () => FakeSocket.all.length === 1);
    FakeSocket.all[0]!.hello();
    client.subscribePresence(['small']);
    client.subscribePresence(Array.from({ length: 400 }, (_, i) => `big${i}`));
    FakeSocket.all[0]!.serverClose(1009);
    await waitUntil('reconnect', () => FakeSocket.all.length === 2);
    FakeSocket.all[1]!.hello();
    const subs = FakeSocket.all[1]!.sent.filter((f) => f.type === 'presence.subscribe');
    assert.deepEqual(subs.map((f) => f.data.threadIds), [['small']]);
    client.stop();
  });

  test('reconnect frame then close: resumes within the drain jitter; resync.required: one snapshot before the next events', async () => {
    const { client, syncs } = fakeClient();
    const order: string[] = [];
    client.on('snapshot', (s) => order.push(`snapshot ${s.seq}`));
    client.on('event', (e) => order.push(e.seq));
    await client.start();
    await waitUntil('socket', () => FakeSocket.all.length === 1);
    assert.equal(syncs.length, 1, 'no lastSeq: started from /api/sync');
    assert.match(FakeSocket.all[0]!.url, /lastSeq=50-0/);
    FakeSocket.all[0]!.hello();
    FakeSocket.all[0]!.frame({ type: 'reconnect', ts: 0, data: { reason: 'draining' } });
    FakeSocket.all[0]!.serverClose(1001);
    await waitUntil('a prompt reconnect', () => FakeSocket.all.length === 2);
    const s2 = FakeSocket.all[1]!;
    s2.hello();
    s2.frame({ type: 'resync.required', ts: 0, data: { reason: 'gap_too_old' } });
    s2.frame({ type: 'message.created', seq: '70-0', ts: 0, data: {} });
    await waitUntil('a socket after the snapshot', () => FakeSocket.all.length === 3);
    assert.equal(syncs.length, 2);
    const s3 = FakeSocket.all[2]!;
    assert.match(s3.url, /lastSeq=50-0/);
    s3.hello();
    s3.frame({ type: 'message.created', seq: '71-0', ts: 0, data: {} });
    assert.deepEqual(order, ['snapshot 50-0', 'snapshot 50-0', '71-0'], 'nothing of the resynced socket after resync.required');
    client.stop();
  });
});
