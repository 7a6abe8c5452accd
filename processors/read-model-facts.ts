// The pure half shared by the read-model processors (counters, inbox, receipts): stream events
// become facts, and facts merge by rules that do not depend on delivery order or repetition:
// - a message's identity (thread, seq, sender, createdAt) never changes; its preview comes from the
//   newest content (create or edit) by stream position; a deletion sticks;
// - a membership is the newest membership event of (thread, user) by stream position;
// - a read position only moves forward (by the read message's seq);
// - a thread's creation is its thread.created entry.
// Merging is commutative, associative and idempotent, so any batching, order or redelivery of the
// same events folds to the same facts.
import { EVENT, createdAtOf, type DecodedEvent, type EventOf } from '../core/events/index.js';
import { seqSortKey, type Seq } from '../core/seq.js';

/** The contract's cap on lastPreviewText, in characters (code points). */
export const PREVIEW_CHARS = 200;

export interface MessageFact {
  message_id: string;
  thread_id: string;
  /** seqSortKey of the message's creation entry. */
  seq_key: string;
  sender_id: string;
  created_at: string;
  preview: string;
  attachment_flag: boolean;
  /** seqSortKey of the entry the preview comes from; '' when no content was seen (deleted first). */
  body_key: string;
  deleted: boolean;
}

export interface MemberFact {
  thread_id: string;
  user_id: string;
  active: boolean;
  seq_key: string;
}

export interface ReadFact {
  thread_id: string;
  user_id: string;
  read_seq_key: string;
  last_read_message_id: string;
}

export interface ThreadFact {
  thread_id: string;
  created_key: string;
  created_at: string;
  title: string | null;
}

export interface FactBatch {
  messages: Map<string, MessageFact>;
  members: Map<string, MemberFact>;
  reads: Map<string, ReadFact>;
  threads: Map<string, ThreadFact>;
}

/** The key of a (thread, user) pair in maps and sets. */
export const pairKey = (threadId: string, userId: string): string => `${threadId}\n${userId}`;

export function splitPair(key: string): [string, string] {
  const i = key.indexOf('\n');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** At most PREVIEW_CHARS code points: a surrogate pair is never split. */
export function previewText(body: string): string {
  if (body.length <= PREVIEW_CHARS) return body;
  let out = '';
  let n = 0;
  for (const ch of body) {
    if (n++ === PREVIEW_CHARS) break;
    out += ch;
  }
  return out;
}

type MessageEvent = EventOf<typeof EVENT.messageCreated | typeof EVENT.messageUpdated | typeof EVENT.messageDeleted>;

function messageFact(e: MessageEvent): MessageFact {
  const base = { message_id: e.payload.id, thread_id: e.payload.threadId, sender_id: e.payload.senderId };
  switch (e.type) {
    case EVENT.messageCreated:
      return {
        ...base, preview: previewText(e.payload.body), attachment_flag: e.payload.attachmentIds.length > 0,
        seq_key: seqSortKey(e.seq), created_at: createdAtOf(e.seq), body_key: seqSortKey(e.seq), deleted: false,
      };
    case EVENT.messageUpdated:
      return {
        ...base, preview: previewText(e.payload.body), attachment_flag: e.payload.attachmentIds.length > 0,
        seq_key: seqSortKey(e.payload.seq as Seq), created_at: e.payload.createdAt, body_key: seqSortKey(e.seq), deleted: false,
      };
    case EVENT.messageDeleted:
      return {
        ...base, preview: '', attachment_flag: false, seq_key: seqSortKey(e.payload.seq as Seq), created_at: e.payload.createdAt,
        body_key: '', deleted: true,
      };
  }
}

export function mergeMessage(a: MessageFact, b: MessageFact): MessageFact {
  const content = b.body_key > a.body_key ? b : a;
  return {
    ...a,
    preview: content.preview,
    attachment_flag: content.attachment_flag,
    body_key: content.body_key,
    deleted: a.deleted || b.deleted,
  };
}

export function mergeMember(a: MemberFact, b: MemberFact): MemberFact {
  return b.seq_key > a.seq_key ? b : a;
}

export function mergeRead(a: ReadFact, b: ReadFact): ReadFact {
  return b.read_seq_key > a.read_seq_key ? b : a;
}

export function mergeThread(a: ThreadFact, b: ThreadFact): ThreadFact {
  return b.created_key < a.created_key ? b : a;
}

export function sameMessage(a: MessageFact, b: MessageFact): boolean {
  return a.body_key === b.body_key && a.deleted === b.deleted && a.preview === b.preview && a.attachment_flag === b.attachment_flag;
}

function put<T>(map: Map<string, T>, key: string, v: T, merge: (a: T, b: T) => T): void {
  const cur = map.get(key);
  map.set(key, cur ? merge(cur, v) : v);
}

export const MESSAGE_EVENTS: ReadonlySet<string> = new Set([EVENT.messageCreated, EVENT.messageUpdated, EVENT.messageDeleted]);
export const MEMBERSHIP_EVENTS: ReadonlySet<string> = new Set([EVENT.threadCreated, EVENT.participantAdded, EVENT.participantRemoved]);

export function emptyFacts(): FactBatch {
  return { messages: new Map(), members: new Map(), reads: new Map(), threads: new Map() };
}

/** Folds one decoded event into `into`; events of other types are ignored. */
export function foldEvent(into: FactBatch, e: DecodedEvent): void {
  switch (e.type) {
    case EVENT.messageCreated:
    case EVENT.messageUpdated:
    case EVENT.messageDeleted: {
      const f = messageFact(e);
      put(into.messages, f.message_id, f, mergeMessage);
      return;
    }
    case EVENT.threadCreated: {
      const d = e.payload;
      put(into.threads, d.id, {
        thread_id: d.id, created_key: seqSortKey(e.seq), created_at: createdAtOf(e.seq), title: d.title || null,
      }, mergeThread);
      for (const u of d.participantIds) {
        put(into.members, pairKey(d.id, u), { thread_id: d.id, user_id: u, active: true, seq_key: seqSortKey(e.seq) }, mergeMember);
      }
      return;
    }
    case EVENT.participantAdded:
    case EVENT.participantRemoved: {
      const { threadId, userId } = e.payload;
      put(into.members, pairKey(threadId, userId), {
        thread_id: threadId, user_id: userId, active: e.type === EVENT.participantAdded, seq_key: seqSortKey(e.seq),
      }, mergeMember);
      return;
    }
    case EVENT.readReceiptUpdated: {
      const d = e.payload;
      put(into.reads, pairKey(d.threadId, d.userId), {
        thread_id: d.threadId, user_id: d.userId, read_seq_key: seqSortKey(d.messageSeq as Seq), last_read_message_id: d.lastReadMessageId,
      }, mergeRead);
      return;
    }
  }
}

/** Folds a batch of decoded events (the runner decoded them; invalid ones never got here). */
export function foldFacts(events: DecodedEvent[]): FactBatch {
  const into = emptyFacts();
  for (const e of events) foldEvent(into, e);
  return into;
}

/** The seq of a seqSortKey (leading zeros dropped): for timestamps and frames. */
export function seqOfKey(key: string): string {
  const i = key.indexOf('-');
  return `${BigInt(key.slice(0, i))}-${BigInt(key.slice(i + 1))}`;
}
