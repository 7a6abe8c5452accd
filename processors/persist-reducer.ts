// The pure half of the persist processor: a batch of stream events becomes row operations, folded
// so that each row appears once per statement (Postgres refuses to upsert one row twice in a
// statement). The fold uses the same last-writer-wins rules as the SQL of persist.ts, so applying
// a batch at once or entry by entry, in any order, gives the same rows.
import { EVENT, createdAtOf, versionOf, type DecodedEvent, type EventOf } from '../core/events/index.js';
import { seqSortKey, type Seq } from '../core/seq.js';

/** Column names are the table's: the rows travel to Postgres as one jsonb_to_recordset parameter. */
export interface ArchiveRow {
  seq_key: string;
  seq: string;
  type: string;
  v: number;
  thread_id: string | null;
  users: string[] | null;
  actor: string | null;
  data: unknown;
}

export interface ThreadRow {
  id: string;
  title: string | null;
  created_by: string;
  created_at: string;
  seq_key: string;
}

/** The latest membership event of (thread, user): an add (removed_at null) or a removal tombstone. */
export interface ParticipantRow {
  thread_id: string;
  user_id: string;
  joined_at: string | null;
  removed_at: string | null;
  seq_key: string;
}

export interface MessageRow {
  id: string;
  thread_id: string;
  sender_id: string;
  created_at: string;
  seq: string;
  /** Content fields win together by body_seq_key; '' means no content seen (a deletion came first). */
  body: string;
  mentions: string[];
  attachment_ids: string[];
  edited_at: string | null;
  body_seq_key: string;
  /** The first non-null value sticks. */
  client_message_id: string | null;
  /** Set once, never cleared: the earliest deletion by stream position wins, and over every edit. */
  deleted_at: string | null;
  deleted_by: string | null;
  deleted_seq_key: string | null;
}

export interface PersistOps {
  archive: ArchiveRow[];
  threads: ThreadRow[];
  participants: ParticipantRow[];
  messages: MessageRow[];
}

/** Merges two versions of one message row exactly like the ON CONFLICT clause of persist.ts. */
export function mergeMessage(row: MessageRow, next: MessageRow): MessageRow {
  const out = { ...row };
  if (next.body_seq_key > row.body_seq_key) {
    out.body = next.body;
    out.mentions = next.mentions;
    out.attachment_ids = next.attachment_ids;
    out.edited_at = next.edited_at;
    out.body_seq_key = next.body_seq_key;
  }
  out.client_message_id = row.client_message_id ?? next.client_message_id;
  if (next.deleted_seq_key !== null && (row.deleted_seq_key === null || next.deleted_seq_key < row.deleted_seq_key)) {
    out.deleted_at = next.deleted_at;
    out.deleted_by = next.deleted_by;
    out.deleted_seq_key = next.deleted_seq_key;
  }
  return out;
}

type MessageEvent = EventOf<typeof EVENT.messageCreated | typeof EVENT.messageUpdated | typeof EVENT.messageDeleted>;

function messageRow(e: MessageEvent): MessageRow {
  const d = e.payload;
  const base = {
    id: d.id,
    thread_id: d.threadId,
    sender_id: d.senderId,
    client_message_id: null as string | null,
    body: '',
    mentions: [] as string[],
    attachment_ids: [] as string[],
    edited_at: null as string | null,
    body_seq_key: '',
    deleted_at: null as string | null,
    deleted_by: null as string | null,
    deleted_seq_key: null as string | null,
  };
  switch (e.type) {
    case EVENT.messageCreated:
    case EVENT.messageUpdated: {
      const m = e.payload;
      const content = {
        body: m.body, client_message_id: m.clientMessageId ?? null, mentions: m.mentions, attachment_ids: m.attachmentIds,
        body_seq_key: seqSortKey(e.seq),
      };
      // seq and createdAt of a new message are its entry id, never stored in the payload.
      if (e.type === EVENT.messageCreated) return { ...base, ...content, edited_at: null, created_at: createdAtOf(e.seq), seq: e.seq };
      return { ...base, ...content, edited_at: e.payload.editedAt, created_at: e.payload.createdAt, seq: e.payload.seq };
    }
    case EVENT.messageDeleted:
      return {
        ...base,
        created_at: e.payload.createdAt,
        seq: e.payload.seq,
        deleted_at: createdAtOf(e.seq),
        deleted_by: e.payload.deletedBy,
        deleted_seq_key: seqSortKey(e.seq),
      };
  }
}

/** Keeps the newer of two rows by seq_key (ties keep the first: they are the same entry). */
function newest<T extends { seq_key: string }>(map: Map<string, T>, key: string, row: T): void {
  const cur = map.get(key);
  if (!cur || row.seq_key > cur.seq_key) map.set(key, row);
}

const byKey = <T>(key: (r: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * Folds a tenant batch of decoded entries into row operations. Every event is archived, whatever
 * its type, in its type's current schema (the decoder upgraded older shapes). Rows come out sorted
 * by key so that concurrent transactions lock them in the same order (no deadlocks).
 */
export function reducePersist(events: DecodedEvent[]): PersistOps {
  const archive = new Map<string, ArchiveRow>();
  const threads = new Map<string, ThreadRow>();
  const participants = new Map<string, ParticipantRow>();
  const messages = new Map<string, MessageRow>();
  const member = (row: ParticipantRow) => newest(participants, `${row.thread_id}\n${row.user_id}`, row);

  for (const e of events) {
    const seqKey = seqSortKey(e.seq);
    archive.set(seqKey, {
      seq_key: seqKey, seq: e.seq, type: e.type, v: versionOf(e.type), thread_id: e.threadId ?? null,
      users: e.users ?? null, actor: e.actor ?? null, data: e.payload,
    });
    switch (e.type) {
      case EVENT.threadCreated: {
        const d = e.payload;
        const row: ThreadRow = { id: d.id, title: d.title, created_by: d.createdBy, created_at: d.createdAt, seq_key: seqKey };
        newest(threads, row.id, row);
        for (const userId of new Set(d.participantIds)) {
          member({ thread_id: row.id, user_id: userId, joined_at: d.createdAt, removed_at: null, seq_key: seqKey });
        }
        break;
      }
      case EVENT.participantAdded:
      case EVENT.participantRemoved: {
        const at = createdAtOf(e.seq);
        const added = e.type === EVENT.participantAdded;
        member({
          thread_id: e.payload.threadId, user_id: e.payload.userId,
          joined_at: added ? at : null, removed_at: added ? null : at, seq_key: seqKey,
        });
        break;
      }
      case EVENT.messageCreated:
      case EVENT.messageUpdated:
      case EVENT.messageDeleted: {
        const row = messageRow(e);
        const cur = messages.get(row.id);
        messages.set(row.id, cur ? mergeMessage(cur, row) : row);
        break;
      }
    }
  }

  // Two messages claiming one (sender, clientMessageId) would violate messages_client_id: the
  // earliest created keeps it, the other rows are dropped (persist.ts does the same against the table).
  const owner = new Map<string, MessageRow>();
  for (const m of [...messages.values()].sort(byKey((r) => seqSortKey(r.seq as Seq)))) {
    if (m.client_message_id === null) continue;
    const k = `${m.sender_id}\n${m.client_message_id}`;
    if (owner.has(k)) messages.delete(m.id);
    else owner.set(k, m);
  }

  return {
    archive: [...archive.values()].sort(byKey((r) => r.seq_key)),
    threads: [...threads.values()].sort(byKey((r) => r.id)),
    participants: [...participants.values()].sort(byKey((r) => `${r.thread_id}\n${r.user_id}`)),
    messages: [...messages.values()].sort(byKey((r) => r.id)),
  };
}
