// A thread's timeline from Postgres (the persist processor's rows): newest first, keyset pagination
// on (created_at desc, id desc) over the partial index messages_timeline_live (deleted rows are not
// in it). Two fixed statements, first page and next pages, so both stay prepared.
import { withTenant, type Sql } from '../core/db.js';
import { timed } from '../core/metrics.js';
import type { Message } from '../core/events/index.js';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.js';

export interface TimelinePage {
  messages: Message[];
  nextCursor: string | null;
}

interface Row {
  id: string;
  thread_id: string;
  sender_id: string;
  body: string;
  client_message_id: string | null;
  mentions: string[];
  attachment_ids: string[];
  created_at: Date;
  seq: string;
  edited_at: Date | null;
}

/** The contract's message object (202 body of POST /api/messages), plus editedAt once edited. */
function toMessage(r: Row): Message {
  return {
    id: r.id,
    threadId: r.thread_id,
    senderId: r.sender_id,
    body: r.body,
    createdAt: r.created_at.toISOString(),
    seq: r.seq,
    ...(r.client_message_id !== null ? { clientMessageId: r.client_message_id } : {}),
    mentions: r.mentions,
    attachmentIds: r.attachment_ids,
    ...(r.edited_at !== null ? { editedAt: r.edited_at.toISOString() } : {}),
  };
}

/**
 * Reads one page. `limit` is the raw query value (absent → 50, above 50 → 50, otherwise a positive
 * integer or AppError invalid_request); `cursor` is a previous nextCursor (else AppError invalid_cursor).
 * Participation is the caller's check: this only reads.
 */
export async function readTimeline(
  sql: Sql, tenantId: string, threadId: string, opts: { limit?: unknown; cursor?: string | null } = {},
): Promise<TimelinePage> {
  const limit = pageLimit(opts.limit);
  const after = opts.cursor === undefined || opts.cursor === null ? null : decodeCursor(opts.cursor);
  // One row more than the page tells whether a next page exists.
  const rows = await timed('timeline', () => withTenant(sql, tenantId, (tx) => after
    ? tx<Row[]>`
        select id, thread_id, sender_id, body, client_message_id, mentions, attachment_ids, created_at, seq, edited_at
        from messages
        where tenant_id = ${tenantId} and thread_id = ${threadId} and deleted_at is null
          and (created_at, id) < (${after.at}::timestamptz, ${after.id}::text)
        order by created_at desc, id desc
        limit ${limit + 1}`
    : tx<Row[]>`
        select id, thread_id, sender_id, body, client_message_id, mentions, attachment_ids, created_at, seq, edited_at
        from messages
        where tenant_id = ${tenantId} and thread_id = ${threadId} and deleted_at is null
        order by created_at desc, id desc
        limit ${limit + 1}`));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    messages: page.map(toMessage),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.created_at.toISOString(), id: last.id }) : null,
  };
}
