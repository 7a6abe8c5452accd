// The read side of notifications for the API: the in-app feed with each notification's status per
// channel, marking one read, and the decision log of one message for one user (/explain).
import { withTenant, type Sql } from '../../core/db.js';
import { AppError } from '../../core/errors.js';
import { keys } from '../../core/keys.js';
import { timed } from '../../core/metrics.js';
import type { RedisClient } from '../../core/redis.js';
import { decodeCursor, encodeCursor, pageLimit } from '../../projections/cursor.js';
import { CHANNELS, type Channel } from './channels.js';

export interface NotificationItem {
  id: string;
  kind: 'mention' | 'direct' | 'message';
  messageId: string;
  threadId: string;
  senderId: string;
  title: string | null;
  preview: string;
  createdAt: string;
  readAt: string | null;
  /** Delivery status per channel (absent: no decision recorded for that channel). */
  status: Partial<Record<Channel, string>>;
}

interface FeedRow {
  id: string; kind: NotificationItem['kind']; message_id: string; thread_id: string; sender_id: string; title: string | null;
  preview: string; created_at: Date; read_at: Date | null; statuses: Record<string, string> | null;
  skipped: Record<string, string> | null;
}

/** The status of a channel that did not notify at intent time and has no row (kept on the in-app row's `skipped`). */
function skippedStatus(reason: string): string {
  return reason === 'message_deleted' ? 'cancelled' : 'suppressed';
}

export async function listNotifications(
  sql: Sql, tenantId: string, userId: string, opts: { limit?: unknown; cursor?: string | null },
): Promise<{ notifications: NotificationItem[]; nextCursor: string | null }> {
  const limit = pageLimit(opts.limit);
  const after = opts.cursor === undefined || opts.cursor === null ? null : decodeCursor(opts.cursor);
  const rows = await timed('notify_feed', () => withTenant(sql, tenantId, (tx) => tx<FeedRow[]>`
    select n.id, n.kind, n.message_id, n.thread_id, n.sender_id, n.title, n.preview, n.created_at, n.read_at,
      (select jsonb_object_agg(d.channel, d.status) from notification_deliveries d
        where d.tenant_id = n.tenant_id and d.message_id = n.message_id and d.user_id = n.user_id) as statuses,
      (select d.skipped from notification_deliveries d
        where d.tenant_id = n.tenant_id and d.message_id = n.message_id and d.user_id = n.user_id and d.channel = 'inApp') as skipped
    from notifications n
    where n.tenant_id = ${tenantId} and n.user_id = ${userId}
      and (${after === null} or (n.created_at, n.id) < (${after?.at ?? null}::timestamptz, ${after?.id ?? null}::text))
    order by n.created_at desc, n.id desc
    limit ${limit + 1}`));
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    notifications: page.map((r) => ({
      id: r.id, kind: r.kind, messageId: r.message_id, threadId: r.thread_id, senderId: r.sender_id, title: r.title, preview: r.preview,
      createdAt: r.created_at.toISOString(), readAt: r.read_at?.toISOString() ?? null,
      status: { ...Object.fromEntries(Object.entries(r.skipped ?? {}).map(([c, reason]) => [c, skippedStatus(reason)])), ...r.statuses },
    })),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.created_at.toISOString(), id: last.id }) : null,
  };
}

/** Marks one of the user's notifications read (idempotent); false when the user has no such notification. */
export async function markNotificationRead(sql: Sql, tenantId: string, userId: string, id: string): Promise<boolean> {
  const res = await timed('notify_mark_read', () => withTenant(sql, tenantId, (tx) => tx`
    update notifications set read_at = coalesce(read_at, now())
    where tenant_id = ${tenantId} and id = ${id} and user_id = ${userId}`));
  return res.count > 0;
}

export interface ExplainEntry {
  channel: Channel;
  /** True when the channel notified the user (sent, delivered or opened). */
  notified: boolean;
  status: string;
  /** sent_via_<channel>[_digest], muted, quiet_hours, preference_none, preference_mentions, channel_disabled,
   *  no_address, already_read, active_elsewhere, not_participant, message_deleted, failed, … */
  reason: string;
  urgent: boolean | null;
  attempts: number;
  updatedAt: string | null;
  digestId?: string;
}

export interface Explanation {
  messageId: string;
  threadId: string;
  userId: string;
  /** One entry per channel: inApp, email, push. */
  channels: Record<Channel, ExplainEntry>;
}

/** The message's thread and sender: Redis metadata while it lasts, else Postgres; null when unknown. */
async function messageHeader(r: RedisClient, sql: Sql, tenantId: string, messageId: string): Promise<{ threadId: string; senderId: string } | null> {
  const raw = await r.hget(keys.message(tenantId, messageId), 'data');
  if (raw) {
    const d = JSON.parse(raw) as { threadId?: unknown; senderId?: unknown };
    if (typeof d.threadId === 'string' && typeof d.senderId === 'string') return { threadId: d.threadId, senderId: d.senderId };
  }
  const rows = await withTenant(sql, tenantId, (tx) => tx<{ thread_id: string; sender_id: string }[]>`
    select thread_id, sender_id from messages where tenant_id = ${tenantId} and id = ${messageId}`);
  return rows[0] ? { threadId: rows[0].thread_id, senderId: rows[0].sender_id } : null;
}

const NOTIFIED = new Set(['sent', 'delivered', 'opened']);

/** Why each channel did or did not notify the user of a message: 404 unknown message, 403 not a participant of its thread. */
export async function explain(r: RedisClient, sql: Sql, tenantId: string, userId: string, messageId: string): Promise<Explanation> {
  const header = await messageHeader(r, sql, tenantId, messageId);
  if (!header) throw new AppError('not_found', 'message not found');
  if (!(await r.sismember(keys.threadMembers(tenantId, header.threadId), userId))) {
    throw new AppError('not_participant', 'not a participant of this thread');
  }
  const rows = await timed('notify_explain', () => withTenant(sql, tenantId, (tx) => tx<{
    channel: Channel; status: string; reason: string; urgent: boolean; attempts: number; updated_at: Date; digest_id: string | null;
    skipped: Record<string, string> | null;
  }[]>`
    select channel, status, reason, urgent, attempts, updated_at, digest_id, skipped from notification_deliveries
    where tenant_id = ${tenantId} and message_id = ${messageId} and user_id = ${userId}`));
  const byChannel = new Map(rows.map((x) => [x.channel, x]));
  const anchor = byChannel.get('inApp');
  return {
    messageId, threadId: header.threadId, userId,
    channels: Object.fromEntries(CHANNELS.map((channel): [Channel, ExplainEntry] => {
      const x = byChannel.get(channel);
      if (x) {
        return [channel, {
          channel, notified: NOTIFIED.has(x.status), status: x.status, reason: x.reason, urgent: x.urgent, attempts: x.attempts,
          updatedAt: x.updated_at.toISOString(), ...(x.digest_id ? { digestId: x.digest_id } : {}),
        }];
      }
      const reason = anchor?.skipped?.[channel];
      if (anchor && reason) {
        return [channel, {
          channel, notified: false, status: skippedStatus(reason), reason, urgent: anchor.urgent, attempts: 0, updatedAt: anchor.updated_at.toISOString(),
        }];
      }
      // The sender is never notified of their own message; anyone else is not decided yet.
      const own = header.senderId === userId;
      return [channel, { channel, notified: false, status: own ? 'none' : 'pending', reason: own ? 'sender' : 'not_processed_yet', urgent: null, attempts: 0, updatedAt: null }];
    })) as Record<Channel, ExplainEntry>,
  };
}
