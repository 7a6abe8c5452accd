// The pure half of the unread counters processor: a batch's facts, merged with the facts already
// stored, become the rows to write and the counter changes to apply. A counter changes only when a
// fact changes (a message becomes live or stops being live), so a redelivered or reordered event
// changes nothing twice; memberships and read positions are recomputed from the facts outright.
import {
  mergeMember, mergeMessage, mergeRead, mergeThread, pairKey, sameMessage,
  type FactBatch, type MemberFact, type MessageFact, type ReadFact, type ThreadFact,
} from './read-model-facts.js';

/** A message that became live (+1) or stopped being live (-1) for the other participants' counters. */
export interface CounterDelta {
  thread_id: string;
  seq_key: string;
  sender_id: string;
  delta: 1 | -1;
}

export interface CountersPlan {
  upsert: { messages: MessageFact[]; members: MemberFact[]; reads: ReadFact[]; threads: ThreadFact[] };
  deltas: CounterDelta[];
  /** (thread, user) rows recomputed from the facts, or removed when the membership is not active. */
  pairs: { thread_id: string; user_id: string }[];
  /** Threads whose last live message or creation may have changed (the inbox order). */
  activityThreads: string[];
  /** Who is told (inbox.updated), per thread: every current participant, or the listed users. */
  notify: Map<string, 'all' | Set<string>>;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function notifyUser(notify: Map<string, 'all' | Set<string>>, threadId: string, userId: string): void {
  const cur = notify.get(threadId);
  if (cur === 'all') return;
  if (cur) cur.add(userId);
  else notify.set(threadId, new Set([userId]));
}

/** `stored` holds the stored facts for (at least) the keys of `batch`. */
export function planCounters(batch: FactBatch, stored: FactBatch): CountersPlan {
  const plan: CountersPlan = {
    upsert: { messages: [], members: [], reads: [], threads: [] },
    deltas: [], pairs: [], activityThreads: [], notify: new Map(),
  };
  const activity = new Set<string>();

  for (const [id, f] of batch.messages) {
    const cur = stored.messages.get(id);
    const merged = cur ? mergeMessage(cur, f) : f;
    if (!cur || !sameMessage(cur, merged)) plan.upsert.messages.push(merged);
    const wasLive = cur !== undefined && !cur.deleted;
    const isLive = !merged.deleted;
    if (wasLive !== isLive) {
      plan.deltas.push({ thread_id: merged.thread_id, seq_key: merged.seq_key, sender_id: merged.sender_id, delta: isLive ? 1 : -1 });
    }
    activity.add(merged.thread_id);
    plan.notify.set(merged.thread_id, 'all');
  }

  const pairs = new Set<string>();
  for (const [key, f] of batch.members) {
    const cur = stored.members.get(key);
    const merged = cur ? mergeMember(cur, f) : f;
    if (merged !== cur) plan.upsert.members.push(merged);
    pairs.add(key);
    if (merged.active) notifyUser(plan.notify, merged.thread_id, merged.user_id);
  }
  for (const [key, f] of batch.reads) {
    const cur = stored.reads.get(key);
    const merged = cur ? mergeRead(cur, f) : f;
    if (merged !== cur) plan.upsert.reads.push(merged);
    pairs.add(key);
    notifyUser(plan.notify, merged.thread_id, merged.user_id);
  }
  for (const [id, f] of batch.threads) {
    const cur = stored.threads.get(id);
    const merged = cur ? mergeThread(cur, f) : f;
    if (merged !== cur) plan.upsert.threads.push(merged);
    activity.add(id);
  }

  // Key order: concurrent transactions then touch rows in one global order.
  plan.upsert.messages.sort((a, b) => byString(a.message_id, b.message_id));
  plan.upsert.members.sort((a, b) => byString(pairKey(a.thread_id, a.user_id), pairKey(b.thread_id, b.user_id)));
  plan.upsert.reads.sort((a, b) => byString(pairKey(a.thread_id, a.user_id), pairKey(b.thread_id, b.user_id)));
  plan.upsert.threads.sort((a, b) => byString(a.thread_id, b.thread_id));
  plan.pairs = [...pairs].sort(byString).map((k) => {
    const i = k.indexOf('\n');
    return { thread_id: k.slice(0, i), user_id: k.slice(i + 1) };
  });
  plan.activityThreads = [...activity].sort(byString);
  return plan;
}

/** Every thread a batch touches (the advisory locks taken before reading the stored facts). */
export function threadsOf(batch: FactBatch): string[] {
  const s = new Set<string>();
  for (const f of batch.messages.values()) s.add(f.thread_id);
  for (const f of batch.members.values()) s.add(f.thread_id);
  for (const f of batch.reads.values()) s.add(f.thread_id);
  for (const id of batch.threads.keys()) s.add(id);
  return [...s].sort(byString);
}
