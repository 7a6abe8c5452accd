// The event catalog's versioning: each type carries its own schema version, and entries already in
// the streams — written under the one global version (1), without a `v` at all, or in an older
// shape that left fields to the routing envelope — decode to the current typed payload. What no
// upgrade can read (a newer version, an unknown type, a malformed field) is InvalidEventError with
// its reason, which the runner dead-letters at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVENT, InvalidEventError, createdAtOf, decodeEvent, decodePayload, encodeEvent, isStreamEventType, versionOf,
  type StreamEventType,
} from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import { rawEntry } from '../support/entries.js';

const SEQ = '1700000000123-0' as Seq;
/** What the write path wrote with the one global version, before each type had its own. */
const GLOBAL_V1 = 1;

test('every stream event type carries its own version, and encodeEvent writes it', () => {
  const types = Object.values(EVENT).filter(isStreamEventType);
  assert.ok(types.length >= 15, `catalog types: ${types.join(', ')}`);
  for (const t of types) assert.ok(Number.isInteger(versionOf(t)) && versionOf(t) >= GLOBAL_V1, t);
  // Frames the gateway makes are never entries: they have no place in the catalog.
  for (const t of [EVENT.typing, EVENT.presenceBatch, EVENT.presenceSummary, EVENT.permissionRevoked]) assert.equal(isStreamEventType(t), false, t);
  const fields = encodeEvent({ type: EVENT.readReceiptUpdated, data: { threadId: 'th', userId: 'u', lastReadMessageId: 'm', messageSeq: SEQ } });
  assert.equal(fields[fields.indexOf('v') + 1], String(versionOf(EVENT.readReceiptUpdated)));
});

test('message.created of the global version 1 (and with no v at all), older shape: lists and thread come from defaults and routing', () => {
  for (const v of [GLOBAL_V1, undefined]) {
    const raw = rawEntry(SEQ, EVENT.messageCreated, { id: 'm_1', senderId: 'alice', body: 'hi' }, { threadId: 'th_1', actor: 'alice' }, v ?? 0);
    const e = decodeEvent(raw);
    assert.equal(e.type, EVENT.messageCreated);
    if (e.type !== EVENT.messageCreated) return;
    assert.deepEqual(e.payload, { id: 'm_1', threadId: 'th_1', senderId: 'alice', body: 'hi', mentions: [], attachmentIds: [] });
  }
});

test('message.updated without editedAt: the edit\'s own entry time', () => {
  const created = '1700000000000-0' as Seq;
  const raw = rawEntry(SEQ, EVENT.messageUpdated, {
    id: 'm_1', threadId: 'th_1', senderId: 'alice', body: 'edited', createdAt: createdAtOf(created), seq: created,
  }, { threadId: 'th_1' }, GLOBAL_V1);
  const e = decodeEvent(raw);
  assert.ok(e.type === EVENT.messageUpdated);
  assert.equal(e.payload.editedAt, createdAtOf(SEQ));
  assert.deepEqual([e.payload.mentions, e.payload.attachmentIds, e.payload.seq], [[], [], created]);
});

test('message.deleted without deletedBy: the entry\'s actor', () => {
  const created = '1700000000000-0' as Seq;
  const e = decodeEvent(rawEntry(SEQ, EVENT.messageDeleted, {
    id: 'm_1', senderId: 'alice', createdAt: createdAtOf(created), seq: created,
  }, { threadId: 'th_1', actor: 'admin' }, GLOBAL_V1));
  assert.ok(e.type === EVENT.messageDeleted);
  assert.deepEqual(e.payload, { id: 'm_1', senderId: 'alice', createdAt: createdAtOf(created), seq: created, threadId: 'th_1', deletedBy: 'admin' });
});

test('membership, read receipts and threads of older shapes: ids from the routing fields, "" title as null', () => {
  for (const type of [EVENT.participantAdded, EVENT.participantRemoved] as const) {
    const e = decodeEvent(rawEntry(SEQ, type, {}, { threadId: 'th_1', users: ['bob'] }, GLOBAL_V1));
    assert.ok(e.type === type);
    assert.deepEqual([e.payload.threadId, e.payload.userId], ['th_1', 'bob'], type);
  }
  const r = decodeEvent(rawEntry(SEQ, EVENT.readReceiptUpdated, { lastReadMessageId: 'm_1', messageSeq: '1-0' }, { threadId: 'th_1', actor: 'bob' }));
  assert.ok(r.type === EVENT.readReceiptUpdated);
  assert.deepEqual(r.payload, { lastReadMessageId: 'm_1', messageSeq: '1-0', threadId: 'th_1', userId: 'bob' });
  const t = decodeEvent(rawEntry(SEQ, EVENT.threadCreated, {
    title: '', createdAt: createdAtOf(SEQ), createdBy: 'alice', participantIds: ['alice', 'bob'],
  }, { threadId: 'th_1' }));
  assert.ok(t.type === EVENT.threadCreated);
  assert.deepEqual([t.payload.id, t.payload.title], ['th_1', null]);
});

test('notification.job written before attempts and totals were: a fresh job, every item counted', () => {
  const item = { notificationId: 'n_1', messageId: 'm_1', threadId: 'th', seq: '1-0', senderId: 'alice', preview: 'p' };
  const job = decodePayload(EVENT.notificationJob, JSON.stringify({
    kind: 'digest', channel: 'email', userId: 'bob', enqueuedAt: 5, digestId: 'dg-1', items: [item, item],
  }), { seq: SEQ, v: GLOBAL_V1 });
  assert.equal(job.kind, 'digest');
  assert.equal(job.attempt, 0);
  if (job.kind === 'digest') assert.equal(job.total, 2);
});

test('an entry is decoded once: a second decode returns the same payload', () => {
  const raw = rawEntry(SEQ, EVENT.messageCreated, { id: 'm_1', threadId: 'th_1', senderId: 'a', body: 'x', mentions: [], attachmentIds: [] });
  const first = decodeEvent(raw);
  assert.equal(decodeEvent(raw).payload, first.payload);
});

test('what no upgrade can read is InvalidEventError with a reason naming the entry', () => {
  const ok = { id: 'm_1', threadId: 'th_1', senderId: 'a', body: 'x', mentions: [], attachmentIds: [] };
  const cases: [string, unknown, number | undefined, RegExp][] = [
    [EVENT.messageCreated, ok, versionOf(EVENT.messageCreated) + 1, /unsupported schema version/],
    [EVENT.messageCreated, ok, -1, /unsupported schema version/],
    ['message.exploded', ok, 1, /unknown event type/],
    [EVENT.typing, { userId: 'a' }, 1, /unknown event type/],
    [EVENT.messageCreated, '{nope', undefined, /not JSON/],
    [EVENT.messageCreated, [ok], undefined, /not an object/],
    [EVENT.messageCreated, { ...ok, senderId: '' }, undefined, /senderId must be a non-empty string/],
    [EVENT.messageCreated, { ...ok, mentions: [1] }, undefined, /mentions must be an array of strings/],
    [EVENT.attachmentScanned, { id: 'att_1' }, undefined, /id must be an attachment id|sha256/],
    [EVENT.notificationJob, { kind: 'message', channel: 'fax', userId: 'u', notificationId: 'n', messageId: 'm' }, undefined, /channel/],
  ];
  for (const [type, data, v, why] of cases) {
    const raw = rawEntry(SEQ, type, data, {}, v);
    assert.throws(() => decodeEvent(raw), (err: unknown) => {
      assert.ok(err instanceof InvalidEventError, String(err));
      assert.match(err.reason, why);
      assert.ok(err.message.includes(SEQ) && err.message.includes(type), err.message);
      return true;
    }, `${type} ${JSON.stringify(data)}`);
  }
});

test('upgrades leave current-shape payloads exactly as written', () => {
  const current: [StreamEventType, unknown][] = [
    [EVENT.messageCreated, { id: 'm_1', threadId: 'th_1', senderId: 'a', body: 'x', clientMessageId: 'c', mentions: ['b'], attachmentIds: [] }],
    [EVENT.participantAdded, { threadId: 'th_1', userId: 'b', addedBy: 'a' }],
    [EVENT.attachmentUploaded, { id: 'att_0190c5f3a4b17c3e9d2a1b0c9f8e7d6c' }],
  ];
  for (const [type, data] of current) {
    const e = decodeEvent(rawEntry(SEQ, type, data, { threadId: 'th_9', users: ['z'], actor: 'z' }));
    assert.deepEqual(e.payload, data, type);
  }
});
