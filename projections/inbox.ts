// A user's inbox: the threads they participate in, newest activity first, with preview and unread
// count. One statement over thread_user_counters_inbox (tenant, user, activity_key desc, thread
// desc): the counters group keeps one row per current participant and the thread's activity key
// (its last live message's seq, else its creation's), so a page is one index range of the user's
// rows, joined by primary key to thread_inbox_projection. Keyset cursor on (activity_key, thread);
// two fixed statements, first and next pages, so both stay prepared.
import { withTenant, type Sql } from '../core/db.js';
import { AppError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { timed } from '../core/metrics.js';
import { decodeCursorObject, pageLimit } from './cursor.js';

export interface InboxThread {
  threadId: string;
  title: string | null;
  lastMessageId: string | null;
  lastMessageAt: string | null;
  lastSenderId: string | null;
  lastPreviewText: string | null;
  attachmentFlag: boolean;
  unreadCount: number;
  lastReadMessageId: string | null;
}

export interface InboxPage {
  threads: InboxThread[];
  nextCursor: string | null;
}

interface Row {
  thread_id: string;
  activity_key: string;
  title: string | null;
  last_message_id: string | null;
  last_message_at: Date | null;
  last_sender_id: string | null;
  last_preview_text: string | null;
  attachment_flag: boolean | null;
  unread_count: number;
  last_read_message_id: string | null;
}

interface InboxPosition {
  key: string;
  threadId: string;
}

const ACTIVITY_RE = /^(\d{15}-\d{19})?$/;

export function encodeInboxCursor(p: InboxPosition): string {
  return Buffer.from(JSON.stringify({ k: p.key, i: p.threadId })).toString('base64url');
}

/** Throws AppError('invalid_cursor') for anything encodeInboxCursor could not have produced. */
export function decodeInboxCursor(cursor: unknown): InboxPosition {
  const invalid = () => new AppError('invalid_cursor', 'cursor is not valid');
  const o = decodeCursorObject(cursor, invalid);
  if (Object.keys(o).length !== 2 || typeof o['k'] !== 'string' || !ACTIVITY_RE.test(o['k']) || !isId(o['i'])) throw invalid();
  return { key: o['k'], threadId: o['i'] };
}

function toThread(r: Row): InboxThread {
  return {
    threadId: r.thread_id,
    title: r.title,
    lastMessageId: r.last_message_id,
    lastMessageAt: r.last_message_at ? r.last_message_at.toISOString() : null,
    lastSenderId: r.last_sender_id,
    lastPreviewText: r.last_preview_text,
    attachmentFlag: r.attachment_flag ?? false,
    unreadCount: r.unread_count,
    lastReadMessageId: r.last_read_message_id,
  };
}

/**
 * One page of the user's inbox. `limit` is the raw query value (absent → 50, above 50 → 50);
 * `cursor` a previous nextCursor (else AppError invalid_cursor). A thread whose projection row
 * is not written yet is listed with null preview fields rather than hidden.
 */
export async function readInbox(
  sql: Sql, tenantId: string, userId: string, opts: { limit?: unknown; cursor?: string | null } = {},
): Promise<InboxPage> {
  const limit = pageLimit(opts.limit);
  const after = opts.cursor === undefined || opts.cursor === null ? null : decodeInboxCursor(opts.cursor);
  const rows = await timed('inbox_page', () => withTenant(sql, tenantId, (tx) => after
    ? tx<Row[]>`
        select c.thread_id, c.activity_key, p.title, p.last_message_id, p.last_message_at, p.last_sender_id,
          p.last_preview_text, p.attachment_flag, c.unread_count, c.last_read_message_id
        from thread_user_counters c
        left join thread_inbox_projection p on p.tenant_id = c.tenant_id and p.thread_id = c.thread_id
        where c.tenant_id = ${tenantId} and c.user_id = ${userId}
          and (c.activity_key, c.thread_id) < (${after.key}::text, ${after.threadId}::text)
        order by c.activity_key desc, c.thread_id desc
        limit ${limit + 1}`
    : tx<Row[]>`
        select c.thread_id, c.activity_key, p.title, p.last_message_id, p.last_message_at, p.last_sender_id,
          p.last_preview_text, p.attachment_flag, c.unread_count, c.last_read_message_id
        from thread_user_counters c
        left join thread_inbox_projection p on p.tenant_id = c.tenant_id and p.thread_id = c.thread_id
        where c.tenant_id = ${tenantId} and c.user_id = ${userId}
        order by c.activity_key desc, c.thread_id desc
        limit ${limit + 1}`));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    threads: page.map(toThread),
    nextCursor: rows.length > limit && last ? encodeInboxCursor({ key: last.activity_key, threadId: last.thread_id }) : null,
  };
}
