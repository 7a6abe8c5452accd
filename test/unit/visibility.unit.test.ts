// Who sees which event (gateway/ws/visibility.ts). Live fanout and replay share these functions, so a
// resumed connection sees exactly what a connected one would have seen: every event of the threads
// the user participates in at that point of the stream, permission.revoked when removed, and
// nothing of a thread after leaving it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT, type StreamEvent } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import { applyEvent, membershipBefore } from '../../gateway/ws/visibility.js';

let n = 0;
function ev(type: string, threadId?: string, users?: string[]): StreamEvent {
  n++;
  return { seq: `1000-${n}` as Seq, type, v: 1, data: '{}', ...(threadId ? { threadId } : {}), ...(users ? { users } : {}) };
}

test('thread events reach participants only', () => {
  const mine = new Set(['X']);
  for (const type of [EVENT.messageCreated, EVENT.messageUpdated, EVENT.messageDeleted]) {
    assert.equal(applyEvent(mine, 'alice', ev(type, 'X')), 'event', type);
    assert.equal(applyEvent(mine, 'alice', ev(type, 'Y')), null, type);
  }
  assert.deepEqual([...mine], ['X']);
});

test('thread.created reaches each listed participant and makes them members', () => {
  const threads = new Set<string>();
  assert.equal(applyEvent(threads, 'alice', ev(EVENT.threadCreated, 'X', ['alice', 'bob'])), 'event');
  assert.deepEqual([...threads], ['X']);
  const dave = new Set<string>();
  assert.equal(applyEvent(dave, 'dave', ev(EVENT.threadCreated, 'X', ['alice', 'bob'])), null);
  assert.equal(dave.size, 0);
});

test('participant.added makes the added user a member from that event on', () => {
  const carol = new Set<string>();
  assert.equal(applyEvent(carol, 'carol', ev(EVENT.messageCreated, 'X')), null);
  assert.equal(applyEvent(carol, 'carol', ev(EVENT.participantAdded, 'X', ['carol'])), 'event');
  assert.equal(applyEvent(carol, 'carol', ev(EVENT.messageCreated, 'X')), 'event');
  // Existing members see the addition; their membership does not change.
  const alice = new Set(['X']);
  assert.equal(applyEvent(alice, 'alice', ev(EVENT.participantAdded, 'X', ['carol'])), 'event');
  assert.deepEqual([...alice], ['X']);
  // Non-members do not learn about additions of others.
  const dave = new Set<string>();
  assert.equal(applyEvent(dave, 'dave', ev(EVENT.participantAdded, 'X', ['carol'])), null);
  assert.equal(dave.size, 0);
});

test('participant.removed becomes permission.revoked for the removed user, then nothing more of the thread', () => {
  const bob = new Set(['X', 'Y']);
  assert.equal(applyEvent(bob, 'bob', ev(EVENT.participantRemoved, 'X', ['bob'])), 'revoked');
  assert.deepEqual([...bob], ['Y']);
  assert.equal(applyEvent(bob, 'bob', ev(EVENT.messageCreated, 'X')), null);
  assert.equal(applyEvent(bob, 'bob', ev(EVENT.participantRemoved, 'X', ['alice'])), null);
  assert.equal(applyEvent(bob, 'bob', ev(EVENT.messageCreated, 'Y')), 'event');
  // A removal of a non-member never yields a second revocation.
  assert.equal(applyEvent(bob, 'bob', ev(EVENT.participantRemoved, 'X', ['bob'])), null);
  // Remaining members see participant.removed as such.
  const alice = new Set(['X']);
  assert.equal(applyEvent(alice, 'alice', ev(EVENT.participantRemoved, 'X', ['bob'])), 'event');
  assert.deepEqual([...alice], ['X']);
});

test('user-targeted events without a thread reach the named users only', () => {
  assert.equal(applyEvent(new Set(), 'alice', ev(EVENT.notificationCreated, undefined, ['alice'])), 'event');
  assert.equal(applyEvent(new Set(['X']), 'bob', ev(EVENT.notificationCreated, undefined, ['alice'])), null);
  assert.equal(applyEvent(new Set(['X']), 'bob', ev(EVENT.inboxUpdated)), null);
});

test('a thread event reaches members even when it also names other users', () => {
  assert.equal(applyEvent(new Set(['X']), 'alice', ev(EVENT.messageCreated, 'X', ['bob'])), 'event');
  assert.equal(applyEvent(new Set<string>(), 'bob', ev(EVENT.messageCreated, 'X', ['bob'])), null);
});

test('membershipBefore undoes the user\'s own membership changes, newest first', () => {
  const events = [
    ev(EVENT.participantRemoved, 'A', ['alice']),
    ev(EVENT.threadCreated, 'B', ['alice', 'bob']),
    ev(EVENT.participantAdded, 'C', ['bob']), // someone else: no effect
    ev(EVENT.messageCreated, 'D'),
    ev(EVENT.participantAdded, 'E', ['alice']),
    ev(EVENT.participantRemoved, 'E', ['alice']),
    ev(EVENT.participantAdded, 'E', ['alice']),
  ];
  const before = membershipBefore(['B', 'E', 'K'], 'alice', events);
  assert.deepEqual([...before].sort(), ['A', 'K']);
  assert.deepEqual([...membershipBefore(['B'], 'alice', [])], ['B']);
});

test('membershipBefore does not modify its input', () => {
  const after = new Set(['B']);
  membershipBefore(after, 'alice', [ev(EVENT.threadCreated, 'B', ['alice'])]);
  assert.deepEqual([...after], ['B']);
});

test('replay from membershipBefore delivers exactly what a live connection would have seen (random histories)', () => {
  let x = 42;
  const rand = (k: number) => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % k; };
  const users = ['alice', 'bob', 'carol'];
  const threadIds = ['T1', 'T2', 'T3', 'T4'];
  for (let round = 0; round < 200; round++) {
    // The authoritative membership, as the write path keeps it: events only on actual change.
    const members = new Map(threadIds.map((t) => [t, new Set<string>()]));
    const history: StreamEvent[] = [];
    for (let i = 0; i < 40; i++) {
      const t = threadIds[rand(threadIds.length)]!;
      const u = users[rand(users.length)]!;
      const m = members.get(t)!;
      const kind = rand(4);
      if (kind === 0 && !m.has(u)) { m.add(u); history.push(ev(m.size === 1 ? EVENT.threadCreated : EVENT.participantAdded, t, [u])); }
      else if (kind === 1 && m.has(u)) { m.delete(u); history.push(ev(EVENT.participantRemoved, t, [u])); }
      else history.push(ev(EVENT.messageCreated, t));
    }
    const cut = rand(history.length);
    for (const u of users) {
      // Live: a connection that was there from the beginning.
      const live = new Set<string>();
      const liveSeen: string[] = [];
      history.forEach((e, i) => { const d = applyEvent(live, u, e); if (d && i >= cut) liveSeen.push(`${e.seq}:${d}`); });
      // Replay: from the final membership, reconstruct the one at `cut`, then walk forward.
      const finalThreads = [...members].filter(([, m]) => m.has(u)).map(([t]) => t);
      assert.deepEqual([...live].sort(), finalThreads.sort());
      const gap = history.slice(cut);
      const replay = membershipBefore(finalThreads, u, gap);
      const replaySeen: string[] = [];
      for (const e of gap) { const d = applyEvent(replay, u, e); if (d) replaySeen.push(`${e.seq}:${d}`); }
      assert.deepEqual(replaySeen, liveSeen, `round ${round} user ${u}`);
      assert.deepEqual([...replay].sort(), finalThreads.sort());
    }
  }
});
