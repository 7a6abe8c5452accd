// Message writes: post (idempotent on clientMessageId), edit (sender only), soft delete (sender or
// admin). A 202 is answered only after the XADD returned, and Redis runs with appendfsync always:
// the message is durable from then on.
import type { RedisClient } from '../core/redis.js';
import type { Sql } from '../core/db.js';
import { withTenant } from '../core/db.js';
import type { Principal } from '../core/auth.js';
import type { Config } from '../config/index.js';
import { keys } from '../core/keys.js';
import { EVENT, createdAtOf, encodeEvent, encodeEventJson, type Message, type MessageCreated, type MessageUpdated } from '../core/events/index.js';
import { bucketPair } from '../core/rate-limit.js';
import { AppError } from '../core/errors.js';
import { refused } from '../core/lua-refusals.js';
import { newId } from '../core/ids.js';
import { countAppend } from '../core/metrics.js';
import type { Seq } from '../core/seq.js';
import { runScript } from './scripts.js';
import { inAppendSpan } from './append-span.js';
import { registerTenant } from '../core/tenants.js';
import { checkAndRecordAttachable } from '../workers/attachments/facts.js';

function toMessage(data: MessageCreated, seq: string): Message {
  return { ...data, seq, createdAt: createdAtOf(seq as Seq) };
}

export async function postMessage(
  r: RedisClient, config: Config, p: Principal,
  input: { threadId: string; body: string; clientMessageId?: string; mentions?: string[]; attachmentIds?: string[] },
  traceId?: string,
): Promise<{ message: Message; duplicate: boolean }> {
  if (input.attachmentIds?.length) {
    // Participation first (the script re-checks atomically): a refused post must not make the
    // attachments readable in that thread. Then each must be ready and of this tenant; else 400.
    const [exists, member] = await Promise.all([
      r.exists(keys.thread(p.tenantId, input.threadId)),
      r.sismember(keys.threadMembers(p.tenantId, input.threadId), p.userId),
    ]);
    if (!exists) throw new AppError('not_found', 'thread not found');
    if (!member) throw new AppError('not_participant', 'not a participant of this thread');
    await checkAndRecordAttachable(r, p.tenantId, p.userId, input.threadId, input.attachmentIds);
  }
  await registerTenant(r, p.tenantId);
  const data: MessageCreated = {
    id: newId('m'),
    threadId: input.threadId,
    senderId: p.userId,
    body: input.body,
    ...(input.clientMessageId ? { clientMessageId: input.clientMessageId } : {}),
    mentions: [...new Set(input.mentions ?? [])],
    attachmentIds: input.attachmentIds ?? [],
  };
  // Serialized once: the same JSON is the entry's payload and the meta hash's copy.
  const json = JSON.stringify(data);
  const limits = bucketPair(p.tenantId, p.userId, 'msg', config.rateLimits.messageUser, config.rateLimits.messageTenant);
  const k = [keys.events(p.tenantId), keys.thread(p.tenantId, input.threadId),
    keys.threadMembers(p.tenantId, input.threadId), keys.message(p.tenantId, data.id), ...limits.keys];
  if (input.clientMessageId) k.push(keys.idempotency(p.tenantId, p.userId, input.clientMessageId));
  const res = await inAppendSpan(EVENT.messageCreated, p.tenantId, () => {
    const fields = encodeEventJson({ type: EVENT.messageCreated, data, threadId: input.threadId, actor: p.userId, traceId }, json);
    return runScript(r, 'post-message', k,
      [p.userId, config.ingest.idempotencyTtlS, config.ingest.messageMetaTtlS, json, ...limits.args, fields.length, ...fields]);
  });
  if (res.status === 'dup') {
    const value = String(res.values[0]);
    const nl = value.indexOf('\n');
    return { message: toMessage(JSON.parse(value.slice(nl + 1)) as MessageCreated, value.slice(0, nl)), duplicate: true };
  }
  if (res.status !== 'ok') throw refused(res);
  countAppend(EVENT.messageCreated, p.tenantId);
  return { message: toMessage(data, String(res.values[0])), duplicate: false };
}

interface StoredMessage {
  data: MessageCreated;
  seq: string;
  deleted: boolean;
}

/** Recent messages come from the Redis meta hash; older ones from Postgres. */
async function loadMessage(r: RedisClient, sql: Sql, tenantId: string, messageId: string): Promise<StoredMessage | null> {
  const meta = await r.hgetall(keys.message(tenantId, messageId));
  if (meta && meta['data'] && meta['seq']) {
    return { data: JSON.parse(meta['data']) as MessageCreated, seq: meta['seq'], deleted: meta['deleted'] === '1' };
  }
  const rows = await withTenant(sql, tenantId, (tx) => tx<{
    id: string; thread_id: string; sender_id: string; body: string; client_message_id: string | null;
    mentions: string[]; attachment_ids: string[]; seq: string; deleted_at: Date | null;
  }[]>`
    select id, thread_id, sender_id, body, client_message_id, mentions, attachment_ids, seq, deleted_at
    from messages where tenant_id = ${tenantId} and id = ${messageId}`);
  const row = rows[0];
  if (!row) return null;
  return {
    data: {
      id: row.id, threadId: row.thread_id, senderId: row.sender_id, body: row.body,
      ...(row.client_message_id ? { clientMessageId: row.client_message_id } : {}),
      mentions: row.mentions, attachmentIds: row.attachment_ids,
    },
    seq: row.seq,
    deleted: row.deleted_at !== null,
  };
}

export async function editMessage(
  r: RedisClient, sql: Sql, p: Principal, messageId: string, body: string, traceId?: string,
): Promise<{ message: Message; seq: Seq }> {
  const stored = await loadMessage(r, sql, p.tenantId, messageId);
  if (!stored) throw new AppError('not_found', 'message not found');
  if (stored.deleted) throw new AppError('message_deleted', 'message was deleted');
  if (stored.data.senderId !== p.userId) throw new AppError('forbidden', 'only the sender may edit a message');
  const newData: MessageCreated = { ...stored.data, body };
  // editedAt is the edit's own acceptance time; the event carries the whole message so that
  // consumers never need the original entry (it may be trimmed or processed out of order).
  const editedAt = new Date().toISOString();
  const message: MessageUpdated = { ...toMessage(newData, stored.seq), editedAt };
  const res = await inAppendSpan(EVENT.messageUpdated, p.tenantId, () => {
    const fields = encodeEvent({
      type: EVENT.messageUpdated, data: { ...message }, threadId: stored.data.threadId, actor: p.userId, traceId,
    });
    return runScript(r, 'change-message',
      [keys.events(p.tenantId), keys.threadMembers(p.tenantId, stored.data.threadId), keys.message(p.tenantId, messageId)],
      [p.userId, '1', 'edit', JSON.stringify(newData), fields.length, ...fields]);
  });
  if (res.status !== 'ok') throw refused(res);
  countAppend(EVENT.messageUpdated, p.tenantId);
  return { message, seq: res.values[0] as Seq };
}

export async function deleteMessage(
  r: RedisClient, sql: Sql, p: Principal, messageId: string, traceId?: string,
): Promise<{ seq: Seq | null }> {
  const stored = await loadMessage(r, sql, p.tenantId, messageId);
  if (!stored) throw new AppError('not_found', 'message not found');
  if (stored.data.senderId !== p.userId && !p.admin) {
    throw new AppError('forbidden', 'only the sender or an admin may delete a message');
  }
  if (stored.deleted) return { seq: null }; // deleting twice is the same soft delete: idempotent 202
  const data = {
    id: messageId, threadId: stored.data.threadId, senderId: stored.data.senderId,
    createdAt: createdAtOf(stored.seq as Seq), seq: stored.seq, deletedBy: p.userId,
  };
  const res = await inAppendSpan(EVENT.messageDeleted, p.tenantId, () => {
    const fields = encodeEvent({ type: EVENT.messageDeleted, data, threadId: stored.data.threadId, actor: p.userId, traceId });
    return runScript(r, 'change-message',
      [keys.events(p.tenantId), keys.threadMembers(p.tenantId, stored.data.threadId), keys.message(p.tenantId, messageId)],
      [p.userId, p.admin ? '0' : '1', 'delete', '', fields.length, ...fields]);
  });
  if (res.status === 'message_deleted') return { seq: null }; // deleted meanwhile: the same idempotent 202
  if (res.status !== 'ok') throw refused(res);
  countAppend(EVENT.messageDeleted, p.tenantId);
  return { seq: res.values[0] as Seq };
}
