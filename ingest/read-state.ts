// Read positions: POST /api/threads/:threadId/read appends one read_receipt.updated. The message must
// belong to the thread (Redis message meta, else Postgres for messages older than its TTL) and the
// reader must participate, checked again atomically with the XADD (ingest/lua/read-receipt.lua).
// The event carries the read message's seq: consumers keep the furthest position by it.
import { z } from 'zod';
import type { RedisClient } from '../core/redis.js';
import { withTenant, type Sql } from '../core/db.js';
import type { Principal } from '../core/auth.js';
import { keys } from '../core/keys.js';
import { inAppendSpan } from './append-span.js';
import { EVENT, encodeEvent, type ReadReceiptUpdated } from '../core/events/index.js';
import { AppError } from '../core/errors.js';
import { refused } from '../core/lua-refusals.js';
import { countAppend, timed } from '../core/metrics.js';
import { isSeq, type Seq } from '../core/seq.js';
import { Id } from '../core/fields.js';
import { runScript } from './scripts.js';

export const MarkRead = z.object({ lastReadMessageId: Id, tenantId: z.string().optional() });

/** The 202 body: the appended read_receipt.updated payload and the receipt's own position in the stream. */
export interface ReadReceipt extends ReadReceiptUpdated {
  seq: string;
}

/** The seq of a message of the thread, or null when the thread has no such message. */
async function messageSeqIn(r: RedisClient, sql: Sql, tenantId: string, threadId: string, messageId: string): Promise<Seq | null> {
  const [data, seq] = await r.hmget(keys.message(tenantId, messageId), 'data', 'seq');
  if (data && isSeq(seq)) {
    const meta = JSON.parse(data) as { threadId?: unknown };
    return meta.threadId === threadId ? seq : null;
  }
  const rows = await timed('read_message_lookup', () => withTenant(sql, tenantId, (tx) => tx<{ thread_id: string; seq: string }[]>`
    select thread_id, seq from messages where tenant_id = ${tenantId} and id = ${messageId}`));
  const row = rows[0];
  return row && row.thread_id === threadId && isSeq(row.seq) ? row.seq : null;
}

export async function markRead(
  r: RedisClient, sql: Sql, p: Principal, threadId: string, lastReadMessageId: string, traceId?: string,
): Promise<ReadReceipt> {
  // Participation first: a non-participant learns nothing about the thread's messages.
  const [exists, member] = await Promise.all([
    r.exists(keys.thread(p.tenantId, threadId)),
    r.sismember(keys.threadMembers(p.tenantId, threadId), p.userId),
  ]);
  if (!exists) throw new AppError('not_found', 'thread not found');
  if (!member) throw new AppError('not_participant', 'not a participant of this thread');
  const messageSeq = await messageSeqIn(r, sql, p.tenantId, threadId, lastReadMessageId);
  if (!messageSeq) throw new AppError('not_found', 'message not found in this thread');
  const data: ReadReceiptUpdated = { threadId, userId: p.userId, lastReadMessageId, messageSeq };
  const res = await inAppendSpan(EVENT.readReceiptUpdated, p.tenantId, () => {
    const fields = encodeEvent({ type: EVENT.readReceiptUpdated, data, threadId, actor: p.userId, traceId });
    return runScript(r, 'read-receipt',
      [keys.events(p.tenantId), keys.thread(p.tenantId, threadId), keys.threadMembers(p.tenantId, threadId)],
      [p.userId, fields.length, ...fields]);
  });
  if (res.status !== 'ok') throw refused(res);
  countAppend(EVENT.readReceiptUpdated, p.tenantId);
  return { ...data, seq: String(res.values[0]) };
}
