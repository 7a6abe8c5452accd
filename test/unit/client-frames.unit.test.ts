// Client frames of contract section 3 (gateway/ws/client-frames.ts): every accepted shape, and every
// malformed one turned into an error code before anything reaches Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientFrame } from '../../gateway/ws/client-frames.js';

const MAX = 16 * 1024;
const parse = (v: unknown) => {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return parseClientFrame(text, MAX, Buffer.byteLength(text));
};
const codeOf = (v: unknown) => {
  const r = parse(v);
  return 'code' in r ? r.code : null;
};

test('ping', () => {
  assert.deepEqual(parse({ type: 'ping' }), { type: 'ping' });
  assert.deepEqual(parse({ type: 'ping', data: {} }), { type: 'ping' });
});

test('ack with a seq at the top level or under data', () => {
  assert.deepEqual(parse({ type: 'ack', seq: '17-3' }), { type: 'ack', seq: '17-3' });
  assert.deepEqual(parse({ type: 'ack', data: { seq: '17-3' } }), { type: 'ack', seq: '17-3' });
  for (const seq of [undefined, '', '17', 17, 'abc', '17-3 ', null, ['17-3']]) {
    assert.equal(codeOf({ type: 'ack', seq }), 'invalid_request', JSON.stringify(seq));
  }
});

test('typing needs a valid threadId', () => {
  assert.deepEqual(parse({ type: 'typing', threadId: 'th_1' }), { type: 'typing', threadId: 'th_1' });
  assert.deepEqual(parse({ type: 'typing', data: { threadId: 'th_1' } }), { type: 'typing', threadId: 'th_1' });
  for (const threadId of [undefined, '', 'a b', 'x'.repeat(65), 5, 'th/1']) {
    assert.equal(codeOf({ type: 'typing', threadId }), 'invalid_request', JSON.stringify(threadId));
  }
});

test('presence.heartbeat accepts the four statuses (online by default)', () => {
  for (const status of ['online', 'away', 'dnd', 'offline']) {
    assert.deepEqual(parse({ type: 'presence.heartbeat', status }), { type: 'presence.heartbeat', status });
    assert.deepEqual(parse({ type: 'presence.heartbeat', data: { status } }), { type: 'presence.heartbeat', status });
  }
  assert.deepEqual(parse({ type: 'presence.heartbeat' }), { type: 'presence.heartbeat', status: 'online' });
  for (const status of ['busy', '', 1, 'ONLINE']) assert.equal(codeOf({ type: 'presence.heartbeat', status }), 'invalid_request');
});

test('presence.subscribe / unsubscribe take an array of at most 500 ids', () => {
  for (const type of ['presence.subscribe', 'presence.unsubscribe']) {
    assert.deepEqual(parse({ type, threadIds: ['a', 'b'] }), { type, threadIds: ['a', 'b'] });
    assert.deepEqual(parse({ type, data: { threadIds: [] } }), { type, threadIds: [] });
    assert.equal(codeOf({ type, threadIds: Array.from({ length: 500 }, (_, i) => `t${i}`) }), null);
    assert.equal(codeOf({ type, threadIds: Array.from({ length: 501 }, (_, i) => `t${i}`) }), 'invalid_request');
    for (const threadIds of [undefined, 'a', ['a b'], [1], [null], { 0: 'a' }]) {
      assert.equal(codeOf({ type, threadIds }), 'invalid_request', `${type} ${JSON.stringify(threadIds)}`);
    }
  }
});

test('unknown or missing types are unknown_type', () => {
  assert.equal(codeOf({ type: 'message.created' }), 'unknown_type');
  assert.equal(codeOf({ type: 'hello' }), 'unknown_type');
  assert.equal(codeOf({}), 'unknown_type');
  assert.equal(codeOf({ type: 7 }), 'unknown_type');
  const r = parse({ type: 'x'.repeat(10_000) });
  assert.ok('code' in r && r.message.length < 200, 'the echoed type is truncated');
});

test('frames that are not JSON objects are rejected', () => {
  assert.equal(codeOf('not json'), 'invalid_json');
  assert.equal(codeOf('{"type":"ping"'), 'invalid_json');
  assert.equal(codeOf(''), 'invalid_json');
  for (const v of ['[]', '[{"type":"ping"}]', '1', '"ping"', 'null', 'true']) assert.equal(codeOf(v), 'invalid_request', v);
});

test('frames over the size limit are rejected before parsing', () => {
  const text = JSON.stringify({ type: 'ping', pad: 'x'.repeat(MAX) });
  const r = parseClientFrame(text, MAX, Buffer.byteLength(text));
  assert.ok('code' in r);
  assert.equal(r.code, 'frame_too_large');
  // The limit is in bytes: multi-byte characters count as what they weigh on the wire.
  const emoji = JSON.stringify({ type: 'ping', pad: '😀'.repeat(MAX / 4) });
  assert.ok(emoji.length < MAX, 'fewer UTF-16 units than the limit…');
  assert.ok(Buffer.byteLength(emoji) > MAX, '…but more bytes');
  const e = parseClientFrame(emoji, MAX, Buffer.byteLength(emoji));
  assert.ok('code' in e && e.code === 'frame_too_large');
  const exact = parseClientFrame('{"type":"ping"}', 15, 15);
  assert.deepEqual(exact, { type: 'ping' });
});
