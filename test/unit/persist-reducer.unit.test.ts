// The persist fold: every event archived, one row per key, last-writer-wins by stream position,
// the earliest deletion sticking, and the same rows whatever the order of the batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT, createdAtOf, versionOf, type DecodedEvent } from '../../core/events/index.js';
import { seqSortKey, type Seq } from '../../core/seq.js';
import { reducePersist } from '../../processors/persist-reducer.js';
import { decodedEntry } from '../support/entries.js';

const T0 = 1_760_000_000_000;

/** A stream entry as the runner hands it over: stored like a real XADD, read back and decoded. */
function ev(n: number, type: string, data: Record<string, unknown>, extra: { threadId?: string; users?: string[]; actor?: string } = {}): DecodedEvent {
  return decodedEntry(`${T0 + n}-0`, type, data, extra);
}

const s = (n: number) => `${T0 + n}-0` as Seq;

function created(n: number, id: string, body: string, more: Record<string, unknown> = {}) {
  return ev(n, EVENT.messageCreated, { id, threadId: 'th1', senderId: 'alice', body, mentions: [], attachmentIds: [], ...more }, { threadId: 'th1', actor: 'alice' });
}
function updated(n: number, id: string, createdN: number, body: string) {
  return ev(n, EVENT.messageUpdated, {
    id, threadId: 'th1', senderId: 'alice', body, createdAt: createdAtOf(s(createdN)), seq: s(createdN),
    mentions: ['bob'], attachmentIds: [], editedAt: createdAtOf(s(n)),
  }, { threadId: 'th1', actor: 'alice' });
}
function deleted(n: number, id: string, createdN: number, by = 'alice') {
  return ev(n, EVENT.messageDeleted, { id, threadId: 'th1', senderId: 'alice', createdAt: createdAtOf(s(createdN)), seq: s(createdN), deletedBy: by }, { threadId: 'th1', actor: by });
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

test('a created message becomes one row with seq and createdAt from the entry id', () => {
  const e = created(1, 'm1', 'hello', { clientMessageId: 'c1', mentions: ['bob'] });
  const ops = reducePersist([e]);
  assert.deepEqual(ops.messages, [{
    id: 'm1', thread_id: 'th1', sender_id: 'alice', client_message_id: 'c1', body: 'hello', mentions: ['bob'],
    attachment_ids: [], edited_at: null, body_seq_key: seqSortKey(e.seq), created_at: createdAtOf(e.seq), seq: e.seq,
    deleted_at: null, deleted_by: null, deleted_seq_key: null,
  }]);
  assert.equal(ops.archive.length, 1);
  assert.equal(ops.archive[0]?.seq, e.seq);
  assert.deepEqual(ops.archive[0]?.data, JSON.parse(e.data));
});

test('every event is archived, also the types nothing else persists', () => {
  const receipt = ev(2, EVENT.readReceiptUpdated, { threadId: 'th1', userId: 'bob', lastReadMessageId: 'm1', messageSeq: s(1) }, { users: ['bob'] });
  const ops = reducePersist([created(1, 'm1', 'x'), receipt]);
  assert.deepEqual(ops.archive.map((a) => a.type), [EVENT.messageCreated, EVENT.readReceiptUpdated]);
  assert.deepEqual(ops.archive[1]?.users, ['bob']);
  assert.equal(ops.messages.length, 1);
});

test('create, edits and delete fold to the same row in every order', () => {
  const events = [created(1, 'm1', 'v1'), updated(5, 'm1', 1, 'v5'), updated(3, 'm1', 1, 'v3'), deleted(7, 'm1', 1), deleted(9, 'm1', 1, 'admin')];
  const results = permutations(events).map((p) => reducePersist(p).messages);
  for (const r of results) assert.deepEqual(r, results[0]);
  const [row] = results[0] ?? [];
  assert.equal(row?.body, 'v5');
  assert.deepEqual(row?.mentions, ['bob']);
  assert.equal(row?.edited_at, createdAtOf(s(5)));
  assert.equal(row?.created_at, createdAtOf(s(1)));
  assert.equal(row?.seq, s(1));
  assert.equal(row?.deleted_by, 'alice', 'the earliest deletion wins');
  assert.equal(row?.deleted_at, createdAtOf(s(7)));
});

test('a deletion seen alone carries no content (body_seq_key sorts below any content)', () => {
  const [row] = reducePersist([deleted(4, 'm1', 1)]).messages;
  assert.equal(row?.body_seq_key, '');
  assert.equal(row?.body, '');
  assert.equal(row?.deleted_seq_key, seqSortKey(s(4)));
});

test('a thread creation yields the thread and its distinct participants', () => {
  const e = ev(1, EVENT.threadCreated, { id: 'th1', title: null, createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'alice', participantIds: ['alice', 'bob', 'bob'] }, { threadId: 'th1' });
  const ops = reducePersist([e]);
  assert.deepEqual(ops.threads, [{ id: 'th1', title: null, created_by: 'alice', created_at: '2026-01-01T00:00:00.000Z', seq_key: seqSortKey(e.seq) }]);
  assert.deepEqual(ops.participants.map((p) => [p.user_id, p.joined_at, p.removed_at]), [
    ['alice', '2026-01-01T00:00:00.000Z', null], ['bob', '2026-01-01T00:00:00.000Z', null],
  ]);
});

test('membership is last-writer-wins by seq: removal tombstones, re-adds revive', () => {
  const add = (n: number) => ev(n, EVENT.participantAdded, { threadId: 'th1', userId: 'carol', addedBy: 'alice' }, { threadId: 'th1', users: ['carol'] });
  const rm = (n: number) => ev(n, EVENT.participantRemoved, { threadId: 'th1', userId: 'carol', removedBy: 'carol' }, { threadId: 'th1', users: ['carol'] });
  for (const p of permutations([add(1), rm(2), add(3)])) {
    assert.deepEqual(reducePersist(p).participants, [{ thread_id: 'th1', user_id: 'carol', joined_at: createdAtOf(s(3)), removed_at: null, seq_key: seqSortKey(s(3)) }]);
  }
  for (const p of permutations([add(1), rm(2)])) {
    assert.deepEqual(reducePersist(p).participants, [{ thread_id: 'th1', user_id: 'carol', joined_at: null, removed_at: createdAtOf(s(2)), seq_key: seqSortKey(s(2)) }]);
  }
});

test('two messages claiming one clientMessageId of a sender: the earliest keeps it, the other is dropped', () => {
  const ops = reducePersist([created(2, 'm2', 'second', { clientMessageId: 'c' }), created(1, 'm1', 'first', { clientMessageId: 'c' })]);
  assert.deepEqual(ops.messages.map((m) => m.id), ['m1']);
  assert.equal(ops.archive.length, 2, 'both are still archived');
});

test('rows come out sorted by key, so concurrent transactions lock in one order', () => {
  const ops = reducePersist([created(3, 'm3', 'c'), created(1, 'm1', 'a'), created(2, 'm2', 'b')]);
  assert.deepEqual(ops.messages.map((m) => m.id), ['m1', 'm2', 'm3']);
  assert.deepEqual(ops.archive.map((a) => a.seq), [s(1), s(2), s(3)]);
});

test('the archive holds each event in its type\'s current schema: older shapes arrive upgraded', () => {
  // A participant.added of an older shape named thread and user only in the routing fields.
  const e = ev(1, EVENT.participantAdded, { addedBy: 'alice' }, { threadId: 'th1', users: ['bob'], actor: 'alice' });
  const ops = reducePersist([e]);
  assert.deepEqual(ops.archive[0]?.data, { addedBy: 'alice', threadId: 'th1', userId: 'bob' });
  assert.equal(ops.archive[0]?.v, versionOf(EVENT.participantAdded));
  assert.deepEqual(ops.participants.map((p) => [p.thread_id, p.user_id]), [['th1', 'bob']]);
});
