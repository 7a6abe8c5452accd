// Thread writes: create, add and remove participants. Each is one Lua script that checks the
// membership sets and appends the event in the same atomic step (ingest/lua/*.lua).
import type { RedisClient } from '../core/redis.js';
import type { Principal } from '../core/auth.js';
import type { Config } from '../config/index.js';
import { keys } from '../core/keys.js';
import { inAppendSpan } from './append-span.js';
import { EVENT, encodeEvent, type Thread } from '../core/events/index.js';
import { AppError } from '../core/errors.js';
import { refused } from '../core/lua-refusals.js';
import { newId } from '../core/ids.js';
import { countAppend } from '../core/metrics.js';
import { runScript } from './scripts.js';
import { registerTenant } from '../core/tenants.js';
import type { Seq } from '../core/seq.js';

export async function createThread(
  r: RedisClient, config: Config, p: Principal,
  input: { title?: string | null; participantIds: string[] }, traceId?: string,
): Promise<{ thread: Thread; seq: Seq }> {
  const participants = [...new Set([p.userId, ...input.participantIds])];
  if (participants.length > config.ingest.maxParticipants) {
    throw new AppError('invalid_request', `participantIds: at most ${config.ingest.maxParticipants} participants`);
  }
  await registerTenant(r, p.tenantId);
  const thread: Thread = {
    id: newId('th'),
    title: input.title || null, // Redis keeps "" for no title: "" and null must read back alike
    createdAt: new Date().toISOString(),
    createdBy: p.userId,
    participantIds: participants,
  };
  const res = await inAppendSpan(EVENT.threadCreated, p.tenantId, () => {
    const fields = encodeEvent({
      type: EVENT.threadCreated, data: { ...thread }, threadId: thread.id, users: participants, actor: p.userId, traceId,
    });
    return runScript(
      r, 'create-thread',
      [keys.events(p.tenantId), keys.thread(p.tenantId, thread.id), keys.threadMembers(p.tenantId, thread.id),
        ...participants.map((u) => keys.userThreads(p.tenantId, u))],
      [thread.id, thread.title ?? '', thread.createdAt, p.userId, fields.length, ...fields, ...participants],
    );
  });
  if (res.status !== 'ok') throw refused(res);
  countAppend(EVENT.threadCreated, p.tenantId);
  return { thread, seq: res.values[0] as Seq };
}

/** The thread as the write path knows it (authoritative, no projection lag). */
export async function getThread(r: RedisClient, p: Principal, threadId: string): Promise<Thread> {
  const [meta, members] = await Promise.all([
    r.hgetall(keys.thread(p.tenantId, threadId)),
    r.smembers(keys.threadMembers(p.tenantId, threadId)),
  ]);
  if (!meta || !meta['id']) throw new AppError('not_found', 'thread not found');
  if (!members.includes(p.userId)) throw new AppError('not_participant', 'not a participant of this thread');
  return {
    id: meta['id'],
    title: meta['title'] ? meta['title'] : null,
    createdAt: meta['createdAt'] ?? '',
    createdBy: meta['createdBy'] ?? '',
    participantIds: members.sort(),
  };
}

export async function changeMembership(
  r: RedisClient, config: Config, p: Principal, threadId: string, userId: string, op: 'add' | 'remove', traceId?: string,
): Promise<Seq | null> {
  const type = op === 'add' ? EVENT.participantAdded : EVENT.participantRemoved;
  const data = op === 'add' ? { threadId, userId, addedBy: p.userId } : { threadId, userId, removedBy: p.userId };
  const res = await inAppendSpan(type, p.tenantId, () => {
    const fields = encodeEvent({ type, data, threadId, users: [userId], actor: p.userId, traceId });
    return runScript(
      r, 'change-membership',
      [keys.events(p.tenantId), keys.thread(p.tenantId, threadId), keys.threadMembers(p.tenantId, threadId),
        keys.userThreads(p.tenantId, userId)],
      [op, p.userId, userId, p.admin ? '1' : '0', threadId, fields.length, ...fields, config.ingest.maxParticipants],
    );
  });
  if (res.status === 'unchanged') return null;
  if (res.status !== 'ok') throw refused(res);
  countAppend(type, p.tenantId);
  return res.values[0] as Seq;
}
