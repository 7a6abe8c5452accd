// An attachment's write-path facts in Redis, beside the thread membership sets they are checked
// with: the final status and uploader (hash, written once by settle-attachment.lua together with
// the uploader's event) and the threads the attachment was posted to (set). Postgres holds the
// pipeline's full state (records.ts); these are what POST /api/messages and the read check need
// without a database round trip.
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { encodeEvent, type NewEvent } from '../../core/events.js';
import { luaScript } from '../../core/lua-script.js';
import { AppError } from '../../core/errors.js';
import type { Seq } from '../../core/seq.js';

const settleScript = luaScript('workers/attachments/lua/settle-attachment.lua');

/** Records the final status and appends `event` (routed to the uploader), once. Null when settled before. */
export async function settle(
  r: RedisClient, tenantId: string, attachmentId: string, uploaderId: string, status: 'ready' | 'rejected', event: NewEvent,
): Promise<Seq | null> {
  const fields = encodeEvent(event);
  const res = await settleScript.run(r, [keys.attachment(tenantId, attachmentId), keys.events(tenantId)],
    [status, uploaderId, fields.length, ...fields]);
  return (res ?? null) as Seq | null;
}

/**
 * A message may reference an attachment that exists in the sender's tenant (the key carries it), is
 * ready, and was uploaded by the sender. Anything else is the contract's 400. The thread is then
 * recorded on each attachment, so that its participants may read it (before the message is written:
 * a post that fails after this only lets that thread's participants see the sender's own file).
 */
export async function checkAndRecordAttachable(r: RedisClient, tenantId: string, senderId: string, threadId: string, ids: string[]): Promise<void> {
  const facts = await Promise.all(ids.map((id) => r.hmget(keys.attachment(tenantId, id), 'status', 'uploader')));
  for (const [i, [status, uploader]] of facts.entries()) {
    const id = ids[i] as string;
    if (status !== 'ready') throw new AppError('invalid_request', `attachmentIds: attachment ${id} does not exist or is not ready`);
    if (uploader !== senderId) throw new AppError('invalid_request', `attachmentIds: attachment ${id} was uploaded by another user`);
  }
  await Promise.all([...new Set(ids)].map((id) => r.sadd(keys.attachmentThreads(tenantId, id), threadId)));
}

/** Whether `userId` currently participates in a thread where the attachment was posted. */
export async function participatesWhereAttached(r: RedisClient, tenantId: string, attachmentId: string, userId: string): Promise<boolean> {
  const threads = await r.smembers(keys.attachmentThreads(tenantId, attachmentId));
  const member = await Promise.all(threads.map((th) => r.sismember(keys.threadMembers(tenantId, th), userId)));
  return member.some((m) => m === 1);
}
