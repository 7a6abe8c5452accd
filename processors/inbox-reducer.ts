// The pure half of the inbox projection: a batch's message and thread facts, merged with the stored
// message facts, become the rows to write and the threads whose preview row must be recomputed
// (its last live message: an edit or a deletion of the last message changes it too).
import { mergeMessage, sameMessage, type FactBatch, type MessageFact, type ThreadFact } from './read-model-facts.js';

export interface InboxPlan {
  messages: MessageFact[];
  threads: ThreadFact[];
  /** Threads whose last live message may have changed. */
  recompute: string[];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `stored` holds the stored message facts for (at least) the message ids of `batch`. */
export function planInbox(batch: FactBatch, stored: Map<string, MessageFact>): InboxPlan {
  const messages: MessageFact[] = [];
  const recompute = new Set<string>();
  for (const [id, f] of batch.messages) {
    const cur = stored.get(id);
    const merged = cur ? mergeMessage(cur, f) : f;
    if (!cur || !sameMessage(cur, merged)) {
      messages.push(merged);
      recompute.add(merged.thread_id);
    }
  }
  // A thread's creation is written as it comes (the SQL keeps the earliest): it carries the title and
  // the creation time that orders a thread without messages.
  const threads = [...batch.threads.values()];
  for (const t of threads) recompute.add(t.thread_id);
  return {
    messages: messages.sort((a, b) => byString(a.message_id, b.message_id)),
    threads: threads.sort((a, b) => byString(a.thread_id, b.thread_id)),
    recompute: [...recompute].sort(byString),
  };
}

/** Threads of a batch (the advisory locks). */
export function inboxThreadsOf(batch: FactBatch): string[] {
  const s = new Set<string>();
  for (const f of batch.messages.values()) s.add(f.thread_id);
  for (const id of batch.threads.keys()) s.add(id);
  return [...s].sort(byString);
}
