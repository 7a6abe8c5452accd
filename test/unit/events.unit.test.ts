// The stream envelope (core/events/envelope.ts): what the write path XADDs decodes to the same event, and the
// websocket frame of a message.created carries the message of the 202 body (seq and createdAt come
// from the entry id, spliced into the stored payload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVENT, controlFrame, createdAtOf, decodeEntry, encodeEvent, personalData, personalizer, priorityOf, publicData, streamFrame, versionOf,
  type StreamEvent,
} from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import { rawEntry } from '../support/entries.js';

const SEQ = '1700000000123-4' as Seq;

test('encodeEvent writes short fields with the type\'s own version and decodeEntry reads them back', () => {
  const data = { id: 'm_1', threadId: 'th_1', senderId: 'alice', body: 'héllo "quoted" \\ 😀', mentions: ['bob'], attachmentIds: [] };
  const fields = encodeEvent({ type: EVENT.messageCreated, data, threadId: 'th_1', users: ['a', 'b'], actor: 'alice', traceId: 'tr1' });
  const v = versionOf(EVENT.messageCreated);
  assert.deepEqual(fields, ['t', 'message.created', 'v', String(v), 'd', JSON.stringify(data), 'th', 'th_1', 'u', 'a,b', 'a', 'alice', 'tr', 'tr1']);
  const e = decodeEntry(SEQ, fields);
  assert.deepEqual(e, {
    seq: SEQ, type: 'message.created', v, data: JSON.stringify(data),
    threadId: 'th_1', users: ['a', 'b'], actor: 'alice', traceId: 'tr1',
  });
});

test('optional routing fields are omitted when absent or empty', () => {
  const data = { threadId: 'th_1', userId: 'bob' };
  const fields = encodeEvent({ type: EVENT.participantAdded, data, users: [] });
  assert.deepEqual(fields, ['t', 'participant.added', 'v', String(versionOf(EVENT.participantAdded)), 'd', JSON.stringify(data)]);
  const e = decodeEntry(SEQ, fields);
  assert.equal(e.threadId, undefined);
  assert.equal(e.users, undefined);
  assert.equal(e.actor, undefined);
});

test('decodeEntry ignores unknown fields and tolerates a dangling one', () => {
  const e = decodeEntry(SEQ, ['t', 'thread.created', 'zz', 'ignored', 'v', '1', 'd', '{"a":1}', 'th']);
  assert.equal(e.type, 'thread.created');
  assert.equal(e.data, '{"a":1}');
  assert.equal(e.threadId, undefined);
});

function ev(type: string, data: unknown): StreamEvent {
  return rawEntry(SEQ, type, data, { threadId: 'th_1' });
}

test('publicData of message.created is the stored message plus seq and createdAt from the entry id', () => {
  const msg = { id: 'm_1', threadId: 'th_1', senderId: 'alice', body: 'a "b" \\ \u2028 😀', clientMessageId: 'c1', mentions: [], attachmentIds: [] };
  const out = publicData(ev(EVENT.messageCreated, msg));
  assert.deepEqual(JSON.parse(out), { ...msg, seq: SEQ, createdAt: '2023-11-14T22:13:20.123Z' });
  assert.equal(createdAtOf(SEQ), new Date(1_700_000_000_123).toISOString());
});

test('publicData of an empty message.created payload is still valid JSON', () => {
  assert.deepEqual(JSON.parse(publicData(ev(EVENT.messageCreated, {}))), { seq: SEQ, createdAt: createdAtOf(SEQ) });
});

test('publicData of other events is the payload as written', () => {
  for (const type of [EVENT.messageUpdated, EVENT.messageDeleted, EVENT.threadCreated, EVENT.participantAdded, EVENT.participantRemoved]) {
    const data = { id: 'm_1', threadId: 'th_1', seq: '1-1', createdAt: 'x' };
    assert.equal(publicData(ev(type, data)), JSON.stringify(data), type);
  }
});

test('streamFrame is {"type","seq","ts","data"} with ts from the seq', () => {
  const e = ev(EVENT.messageCreated, { id: 'm_1', threadId: 'th_1' });
  const f = JSON.parse(streamFrame(e.type, e));
  assert.deepEqual(Object.keys(f), ['type', 'seq', 'ts', 'data']);
  assert.equal(f.type, 'message.created');
  assert.equal(f.seq, SEQ);
  assert.equal(f.ts, 1_700_000_000_123);
  assert.deepEqual(f.data, { seq: SEQ, createdAt: createdAtOf(SEQ), id: 'm_1', threadId: 'th_1' });
  // A substituted type and payload (permission.revoked is derived from participant.removed).
  const r = JSON.parse(streamFrame(EVENT.permissionRevoked, e, '{"threadId":"th_1"}'));
  assert.deepEqual(r, { type: 'permission.revoked', seq: SEQ, ts: 1_700_000_000_123, data: { threadId: 'th_1' } });
});

test('controlFrame carries no seq', () => {
  const before = Date.now();
  const f = JSON.parse(controlFrame('pong', {}));
  assert.deepEqual(Object.keys(f).sort(), ['data', 'ts', 'type']);
  assert.equal(f.type, 'pong');
  assert.ok(f.ts >= before && f.ts <= Date.now());
});

test('priorities follow the contract', () => {
  for (const t of ['message.created', 'message.updated', 'message.deleted', 'permission.revoked', 'thread.created', 'participant.added', 'participant.removed']) {
    assert.equal(priorityOf(t), 'critical', t);
  }
  for (const t of ['read_receipt.updated', 'inbox.updated', 'attachment.ready', 'attachment.rejected', 'notification.created']) {
    assert.equal(priorityOf(t), 'important', t);
  }
  for (const t of ['presence.batch', 'presence.summary', 'typing']) assert.equal(priorityOf(t), 'best_effort', t);
  for (const t of ['hello', 'error', 'resync.required', 'reconnect']) assert.equal(priorityOf(t), 'critical', t);
});

test('personalizer: one parse per event; each recipient gets the shared fields plus their own, as {...shared, ...own}', () => {
  const data = {
    threadId: 'th1', lastMessageId: 'm1', lastPreviewText: 'a "quoted" \u2028 line',
    perUser: { alice: { unreadCount: 3, lastReadMessageId: null }, bob: { unreadCount: 0, lastReadMessageId: 'm1' }, carol: {}, dave: { threadId: 'own wins' } },
  };
  const e = rawEntry('1700000000000-0', EVENT.inboxUpdated, data, { users: ['alice', 'bob', 'carol', 'dave', 'eve'] });
  const frameOf = personalizer(e);
  const { perUser, ...shared } = data;
  for (const u of ['alice', 'bob', 'carol', 'dave', 'eve', '__proto__', 'constructor']) {
    const own = Object.hasOwn(perUser, u) ? perUser[u as keyof typeof perUser] : {};
    assert.deepEqual(JSON.parse(frameOf(u)), { ...shared, ...own }, u);
    assert.equal(frameOf(u), personalData(e, u), u);
  }
  const empty = rawEntry('1700000000000-1', EVENT.inboxUpdated, { perUser: { alice: { n: 1 } } });
  assert.deepEqual(JSON.parse(personalizer(empty)('alice')), { n: 1 });
  assert.deepEqual(JSON.parse(personalizer(empty)('bob')), {});
});
