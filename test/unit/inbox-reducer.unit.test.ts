// The inbox projection's pure half: previews (≤ 200 characters, never a split surrogate pair),
// message facts from created/updated/deleted entries, what a batch rewrites, and the opaque cursor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT, createdAtOf, type DecodedEvent } from '../../core/events/index.js';
import { AppError } from '../../core/errors.js';
import { seqSortKey, type Seq } from '../../core/seq.js';
import { inboxThreadsOf, planInbox } from '../../processors/inbox-reducer.js';
import { PREVIEW_CHARS, foldFacts, previewText, seqOfKey, type MessageFact } from '../../processors/read-model-facts.js';
import { decodeInboxCursor, encodeInboxCursor } from '../../projections/inbox.js';
import { decodedEntry } from '../support/entries.js';

const T0 = 1_700_000_000_000;
const sq = (n: number) => `${T0 + n}-${n % 2}` as Seq;
function ev(n: number, type: string, data: Record<string, unknown>, threadId = 'th_1'): DecodedEvent {
  return decodedEntry(sq(n), type, data, { threadId });
}
const msg = (n: number, id: string, body: string, attachmentIds: string[] = []) =>
  ev(n, EVENT.messageCreated, { id, threadId: 'th_1', senderId: 'a', body, mentions: [], attachmentIds });

test('previewText: at most 200 characters (code points), never splitting a surrogate pair', () => {
  assert.equal(PREVIEW_CHARS, 200);
  assert.equal(previewText('short'), 'short');
  assert.equal(previewText(''), '');
  assert.equal(previewText('x'.repeat(200)), 'x'.repeat(200));
  assert.equal(previewText('x'.repeat(201)), 'x'.repeat(200));
  const emoji = '😀'.repeat(300); // 600 UTF-16 units
  assert.equal([...previewText(emoji)].length, 200);
  assert.equal(previewText(emoji), '😀'.repeat(200));
  const edge = 'x'.repeat(199) + '😀😀';
  assert.equal(previewText(edge), 'x'.repeat(199) + '😀');
  assert.ok(!/[\uD800-\uDBFF]$/.test(previewText('y'.repeat(199) + '🎉')), 'no lone high surrogate at the end');
  // Every cut of a mixed string is well-formed UTF-16.
  const mixed = 'aé😀👍🏽字'.repeat(60);
  assert.doesNotThrow(() => encodeURIComponent(previewText(mixed)));
});

test('message facts: created, updated (seq from the payload, content from the edit), deleted', () => {
  const f = foldFacts([
    msg(1, 'm1', 'hello', ['att_1']),
    ev(5, EVENT.messageUpdated, {
      id: 'm1', threadId: 'th_1', senderId: 'a', body: 'edited', createdAt: createdAtOf(sq(1)), seq: sq(1), mentions: [], attachmentIds: [],
    }),
  ]).messages.get('m1')!;
  assert.deepEqual(f, {
    message_id: 'm1', thread_id: 'th_1', seq_key: seqSortKey(sq(1)), sender_id: 'a', created_at: createdAtOf(sq(1)),
    preview: 'edited', attachment_flag: false, body_key: seqSortKey(sq(5)), deleted: false,
  } satisfies MessageFact);
  assert.equal(foldFacts([msg(1, 'm1', 'x', ['att_1'])]).messages.get('m1')!.attachment_flag, true);
  const d = foldFacts([ev(7, EVENT.messageDeleted, { id: 'm1', threadId: 'th_1', senderId: 'a', createdAt: createdAtOf(sq(1)), seq: sq(1), deletedBy: 'a' })]);
  assert.deepEqual([d.messages.get('m1')!.deleted, d.messages.get('m1')!.body_key, d.messages.get('m1')!.seq_key], [true, '', seqSortKey(sq(1))]);
  assert.equal(seqOfKey(seqSortKey(sq(7))), sq(7));
});

test('planInbox: new or changed messages and created threads are recomputed; a redelivery is not', () => {
  const batch = foldFacts([msg(1, 'm1', 'one'), msg(2, 'm2', 'two', []), ev(0, EVENT.threadCreated,
    { id: 'th_2', title: 'T', createdAt: createdAtOf(sq(0)), createdBy: 'a', participantIds: ['a'] }, 'th_2')]);
  const plan = planInbox(batch, new Map());
  assert.deepEqual(plan.messages.map((m) => m.message_id), ['m1', 'm2']);
  assert.deepEqual(plan.threads.map((t) => [t.thread_id, t.title]), [['th_2', 'T']]);
  assert.deepEqual(plan.recompute, ['th_1', 'th_2']);
  assert.deepEqual(inboxThreadsOf(batch), ['th_1', 'th_2']);

  const stored = new Map([...batch.messages]);
  const again = planInbox(foldFacts([msg(1, 'm1', 'one')]), stored);
  assert.deepEqual([again.messages, again.recompute], [[], []]);
  const del = planInbox(foldFacts([ev(9, EVENT.messageDeleted, { id: 'm2', threadId: 'th_1', senderId: 'a', createdAt: createdAtOf(sq(2)), seq: sq(2), deletedBy: 'a' })]), stored);
  assert.deepEqual([del.messages.map((m) => [m.message_id, m.deleted, m.preview]), del.recompute], [[['m2', true, 'two']], ['th_1']]);
});

test('inbox cursor: opaque round trip; anything else is invalid_cursor', () => {
  const p = { key: seqSortKey(sq(3)), threadId: 'th_abc' };
  assert.deepEqual(decodeInboxCursor(encodeInboxCursor(p)), p);
  assert.deepEqual(decodeInboxCursor(encodeInboxCursor({ key: '', threadId: 'th_x' })), { key: '', threadId: 'th_x' });
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  for (const bad of [
    '', 'x', '%%%', b64({ k: '1-2', i: 'th' }), b64({ k: seqSortKey(sq(3)), i: 'bad id!' }), b64({ k: seqSortKey(sq(3)) }),
    b64({ k: seqSortKey(sq(3)), i: 'th', x: 1 }), b64([1]), b64('s'), `${encodeInboxCursor(p)}=`, 'a'.repeat(300), 42,
  ]) {
    assert.throws(() => decodeInboxCursor(bad), (e: unknown) => e instanceof AppError && e.code === 'invalid_cursor', String(bad));
  }
});
