// An attachment's write-path facts in Redis, beside the thread membership sets they are checked
// with: the final status and uploader (hash, written once by settle-attachment.lua together with
// the uploader's event) and the threads the attachment was posted to (set). Postgres holds the
// pipeline's full state (records.ts); these are what POST /api/messages and the read check need
// without a database round trip.
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { encodeEvent, type NewEvent } from '../../core/events/index.js';
import { statusScript } from '../../core/lua-script.js';
import { AppError } from '../../core/errors.js';
import type { Seq } from '../../core/seq.js';

const settleScript = statusScript('workers/attachments/lua/settle-attachment.lua', ['ok', 'dup']);

/** Records the final status and appends `event` (routed to the uploader), once. Null when settled before. */
export async function settle(
  r: RedisClient, tenantId: string, attachmentId: string, uploaderId: string, status: 'ready' | 'rejected', event: NewEvent,
): Promise<Seq | null> {
  const fields = encodeEvent(event);
  const res = await settleScript.run(r, [keys.attachment(tenantId, attachmentId), keys.events(tenantId)],
    [status, uploaderId, fields.length, ...fields]);
  return res.status === 'ok' ? (res.values[0] as Seq) : null;
}

/**
 * A message may reference an attachment that exists in the sender's tenant (the key carries it) and
 * is ready (contract: "each `ready` and of the same tenant"). Anything else is the contract's 400.
 * The thread is then recorded on each attachment, so that its participants may read it; callers
 * check participation first. Attachment ids are unguessable (UUIDv7 with 74 random bits): within a
 * tenant, an id works as a capability to share the file.
 */
export async function checkAndRecordAttachable(r: RedisClient, tenantId: string, senderId: string, threadId: string, ids: string[]): Promise<void> {
  void senderId; // any member of the tenant may share a ready attachment whose id they were given
  const facts = await Promise.all(ids.map((id) => r.hget(keys.attachment(tenantId, id), 'status')));
  for (const [i, status] of facts.entries()) {
    const id = ids[i] as string;
    if (status !== 'ready') throw new AppError('invalid_request', `attachmentIds: attachment ${id} does not exist or is not ready`);
  }
  await Promise.all([...new Set(ids)].map((id) => r.sadd(keys.attachmentThreads(tenantId, id), threadId)));
}

/** Whether `userId` currently participates in a thread where the attachment was posted. */
export async function participatesWhereAttached(r: RedisClient, tenantId: string, attachmentId: string, userId: string): Promise<boolean> {
  const threads = await r.smembers(keys.attachmentThreads(tenantId, attachmentId));
  const member = await Promise.all(threads.map((th) => r.sismember(keys.threadMembers(tenantId, th), userId)));
  return member.some((m) => m === 1);
}
