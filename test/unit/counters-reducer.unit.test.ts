// The counters' pure half: facts merge by order-free rules and a counter changes only when a fact
// changes. A small in-memory copy of the SQL steps (facts upsert, deltas, pair recomputation) shows
// that any order, batching and repetition of the same events ends in the counters a recomputation
// from the final facts gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT, InvalidEventError, createdAtOf, decodeEvent, versionOf, type DecodedEvent } from '../../core/events/index.js';
import { seqSortKey, type Seq } from '../../core/seq.js';
import { planCounters } from '../../processors/counters-reducer.js';
import {
  emptyFacts, foldFacts, mergeMember, mergeMessage, mergeRead, mergeThread, pairKey, type FactBatch,
} from '../../processors/read-model-facts.js';
import { decodedEntry, rawEntry } from '../support/entries.js';

const T0 = 1_700_000_000_000;
const sq = (n: number) => `${T0 + n}-0` as Seq;
const key = (n: number) => seqSortKey(sq(n));
const TH = 'th_1';

function ev(n: number, type: string, data: Record<string, unknown>, extra: { users?: string[]; actor?: string } = {}): DecodedEvent {
  return decodedEntry(sq(n), type, data, { threadId: TH, ...extra });
}
const created = (n: number, id: string, sender: string) =>
  ev(n, EVENT.messageCreated, { id, threadId: TH, senderId: sender, body: `b${n}`, mentions: [], attachmentIds: [] });
const edited = (n: number, id: string, of: number, sender: string) => ev(n, EVENT.messageUpdated, {
  id, threadId: TH, senderId: sender, body: `e${n}`, createdAt: createdAtOf(sq(of)), seq: sq(of), mentions: [], attachmentIds: [], editedAt: createdAtOf(sq(n)),
});
const deleted = (n: number, id: string, of: number, sender: string) => ev(n, EVENT.messageDeleted, {
  id, threadId: TH, senderId: sender, createdAt: createdAtOf(sq(of)), seq: sq(of), deletedBy: sender,
});
const thread = (n: number, participants: string[]) =>
  ev(n, EVENT.threadCreated, { id: TH, title: 't', createdAt: createdAtOf(sq(n)), createdBy: participants[0], participantIds: participants }, { users: participants });
const joined = (n: number, u: string) => ev(n, EVENT.participantAdded, { threadId: TH, userId: u, addedBy: 'a' }, { users: [u] });
const left = (n: number, u: string) => ev(n, EVENT.participantRemoved, { threadId: TH, userId: u, removedBy: u }, { users: [u] });
const read = (n: number, u: string, id: string, of: number) =>
  ev(n, EVENT.readReceiptUpdated, { threadId: TH, userId: u, lastReadMessageId: id, messageSeq: sq(of) }, { actor: u });

/** The counters state in memory, changed exactly as counters-store.ts changes the tables. */
class Store {
  facts: FactBatch = emptyFacts();
  counters = new Map<string, { unread: number; readKey: string; lastRead: string | null }>();

  apply(events: DecodedEvent[]): void {
    const batch = foldFacts(events);
    const plan = planCounters(batch, this.facts);
    for (const m of plan.upsert.messages) this.facts.messages.set(m.message_id, m);
    for (const m of plan.upsert.members) this.facts.members.set(pairKey(m.thread_id, m.user_id), m);
    for (const r of plan.upsert.reads) this.facts.reads.set(pairKey(r.thread_id, r.user_id), r);
    for (const t of plan.upsert.threads) this.facts.threads.set(t.thread_id, t);
    for (const d of plan.deltas) {
      for (const [k, c] of this.counters) {
        const [th, u] = k.split('\n') as [string, string];
        if (th === d.thread_id && u !== d.sender_id && d.seq_key > c.readKey) c.unread += d.delta;
      }
    }
    for (const p of plan.pairs) this.sync(pairKey(p.thread_id, p.user_id));
  }

  private sync(k: string): void {
    const m = this.facts.members.get(k);
    if (!m?.active) {
      this.counters.delete(k);
      return;
    }
    this.counters.set(k, expected(this.facts, m.thread_id, m.user_id));
  }
}

function expected(facts: FactBatch, th: string, u: string) {
  const r = facts.reads.get(pairKey(th, u));
  const readKey = r?.read_seq_key ?? '';
  const unread = [...facts.messages.values()].filter((m) => m.thread_id === th && !m.deleted && m.sender_id !== u && m.seq_key > readKey).length;
  return { unread, readKey, lastRead: r?.last_read_message_id ?? null };
}

function recomputed(facts: FactBatch) {
  const out = new Map<string, ReturnType<typeof expected>>();
  for (const [k, m] of facts.members) if (m.active) out.set(k, expected(facts, m.thread_id, m.user_id));
  return out;
}

const scenario = (): DecodedEvent[] => [
  thread(0, ['a', 'b']),
  created(1, 'm1', 'a'),
  created(2, 'm2', 'b'),
  joined(3, 'c'),
  created(4, 'm3', 'a'),
  read(5, 'b', 'm1', 1),
  edited(6, 'm1', 1, 'a'),
  deleted(7, 'm3', 4, 'a'),
  read(8, 'c', 'm2', 2),
  left(9, 'b'),
  created(10, 'm4', 'c'),
  joined(11, 'b'),
  read(12, 'c', 'm1', 1),
  deleted(13, 'm2', 2, 'b'),
];

test('in stream order the counters are exact: own messages, reads, deletes, leave and rejoin', () => {
  const s = new Store();
  for (const e of scenario()) s.apply([e]);
  assert.deepEqual(Object.fromEntries([...s.counters].map(([k, v]) => [k.replace('\n', '/'), v.unread])), {
    [`${TH}/a`]: 1, // m4 (c); m2 and m3 deleted, m1 own
    [`${TH}/b`]: 1, // read m1; m4 after it
    [`${TH}/c`]: 0, // read m2 (the older receipt for m1 came later); m4 own
  });
  assert.deepEqual(s.counters, recomputed(s.facts));
});

test('any order, batching and repetition ends in the recomputed counters', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const reference = new Store();
  reference.apply(scenario());
  for (let round = 0; round < 300; round++) {
    const events = [...scenario(), ...scenario().filter(() => random() < 0.3)].sort(() => random() - 0.5);
    const s = new Store();
    for (let i = 0; i < events.length;) {
      const n = 1 + Math.floor(random() * 5);
      const batch = events.slice(i, i + n);
      s.apply(batch);
      if (random() < 0.3) s.apply(batch); // redelivered after it was applied (crash before the ack)
      i += n;
    }
    assert.deepEqual(s.counters, reference.counters, `round ${round}`);
    assert.deepEqual(s.counters, recomputed(s.facts), `round ${round}`);
  }
});

test('a counter moves only when a fact changes: redelivery plans no delta and writes nothing', () => {
  const s = new Store();
  s.apply([thread(0, ['a', 'b']), created(1, 'm1', 'a')]);
  const again = planCounters(foldFacts([created(1, 'm1', 'a')]), s.facts);
  assert.deepEqual(again.deltas, []);
  assert.deepEqual(again.upsert, { messages: [], members: [], reads: [], threads: [] });
  assert.equal(again.notify.get(TH), 'all', 'yet everybody is told again (the first notification may have been lost)');
});

test('message deltas: +1 when a message becomes live, -1 when a live one is deleted, none for a deletion seen first', () => {
  const s = new Store();
  const first = planCounters(foldFacts([created(1, 'm1', 'a')]), s.facts);
  assert.deepEqual(first.deltas, [{ thread_id: TH, seq_key: key(1), sender_id: 'a', delta: 1 }]);
  s.apply([created(1, 'm1', 'a')]);
  assert.deepEqual(planCounters(foldFacts([deleted(5, 'm1', 1, 'a')]), s.facts).deltas, [{ thread_id: TH, seq_key: key(1), sender_id: 'a', delta: -1 }]);
  const fresh = new Store();
  fresh.apply([deleted(5, 'm1', 1, 'a')]);
  const late = planCounters(foldFacts([created(1, 'm1', 'a')]), fresh.facts);
  assert.deepEqual(late.deltas, []);
  assert.equal(late.upsert.messages[0]?.deleted, true, 'a deletion sticks over a late create');
  assert.equal(fresh.facts.messages.get('m1')?.deleted, true);
});

test('membership is the newest event by stream position; only active members are told', () => {
  const s = new Store();
  s.apply([joined(3, 'c')]);
  const older = planCounters(foldFacts([left(2, 'c')]), s.facts);
  assert.deepEqual(older.upsert.members, []);
  assert.deepEqual(older.pairs, [{ thread_id: TH, user_id: 'c' }]);
  assert.deepEqual([...(older.notify.get(TH) as Set<string>)], ['c']);
  const newer = planCounters(foldFacts([left(4, 'c')]), s.facts);
  assert.equal(newer.upsert.members[0]?.active, false);
  assert.equal(newer.notify.size, 0);
});

test('merge rules are commutative, associative and idempotent', () => {
  const facts = (events: DecodedEvent[]) => foldFacts(events);
  const m = [created(1, 'm1', 'a'), edited(3, 'm1', 1, 'a'), edited(2, 'm1', 1, 'a'), deleted(4, 'm1', 1, 'a')]
    .map((e) => facts([e]).messages.get('m1')!);
  const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 1, 3, 0, 2, 2]];
  const results = orders.map((o) => o.map((i) => m[i]!).reduce(mergeMessage));
  for (const r of results) assert.deepEqual(r, results[0]);
  assert.equal(results[0]!.preview, 'e3');
  assert.equal(results[0]!.deleted, true);
  const mem = [joined(1, 'c'), left(2, 'c')].map((e) => facts([e]).members.get(pairKey(TH, 'c'))!);
  assert.deepEqual(mergeMember(mem[0]!, mem[1]!), mergeMember(mem[1]!, mem[0]!));
  const rd = [read(5, 'b', 'm2', 2), read(6, 'b', 'm1', 1)].map((e) => facts([e]).reads.get(pairKey(TH, 'b'))!);
  assert.equal(mergeRead(rd[0]!, rd[1]!).last_read_message_id, 'm2');
  assert.equal(mergeRead(rd[1]!, rd[0]!).last_read_message_id, 'm2');
  const th = [thread(0, ['a']), thread(9, ['a'])].map((e) => facts([e]).threads.get(TH)!);
  assert.equal(mergeThread(th[1]!, th[0]!).created_key, key(0));
});

test('entries the facts cannot hold never decode (the runner dead-letters them); other types are ignored', () => {
  const raw = (n: number, type: string, data: unknown, v?: number) => rawEntry(sq(n), type, data, { threadId: TH }, v);
  const message = { id: 'm1', threadId: TH, senderId: 'a', body: 'b', mentions: [], attachmentIds: [] };
  const bad = [
    raw(1, EVENT.messageCreated, '{not json'),
    raw(1, EVENT.messageCreated, message, versionOf(EVENT.messageCreated) + 1),
    raw(2, EVENT.messageCreated, { id: 'm2', threadId: TH, body: 'no sender' }),
    raw(3, EVENT.readReceiptUpdated, { threadId: TH, userId: 'b', lastReadMessageId: 'm1', messageSeq: 'nope' }),
    raw(4, EVENT.threadCreated, { id: TH, createdAt: createdAtOf(sq(4)), createdBy: 'a', participantIds: 'a' }),
    raw(5, EVENT.messageDeleted, { id: 'm1', threadId: TH, senderId: 'a', seq: sq(1), createdAt: 'yesterday' }),
  ];
  for (const e of bad) assert.throws(() => decodeEvent(e), InvalidEventError, e.data);
  const other = foldFacts([ev(9, EVENT.inboxUpdated, { threadId: TH, perUser: {} })]);
  assert.deepEqual(other, emptyFacts());
});
