// The one map from the refusals Lua scripts return (core/lua-script.ts) to the client's error.
// A refusal name means one thing in every script that returns it; its values (after the status)
// are the same in each, as their headers say.
import { AppError } from './errors.js';
import type { ReplyValue, ScriptReply } from './lua-script.js';
import { rateLimited } from './rate-limit.js';

const REFUSALS = {
  /** The thread does not exist (in the caller's tenant). */
  no_thread: () => new AppError('not_found', 'thread not found'),
  /** A new thread's id is taken already (practically never: ids are UUIDv7). */
  thread_exists: () => new AppError('conflict', 'thread already exists'),
  /** The actor does not participate in the thread. */
  not_participant: () => new AppError('not_participant', 'not a participant of this thread'),
  /** Removing another participant without being an admin. */
  remove_not_allowed: () => new AppError('forbidden', 'only the participant themself or an admin may remove a participant'),
  /** The thread has as many participants as it may have: {'thread_full', max}. */
  thread_full: ([max]) => new AppError('conflict', `a thread has at most ${max} participants`),
  /** The message was deleted. */
  message_deleted: () => new AppError('message_deleted', 'message was deleted'),
  /** A rate-limit bucket is empty: {'limited', retry_ms, whose ('user' | 'tenant')}. */
  limited: ([retryMs, who]) => rateLimited(who === 'tenant' ? 'tenant' : 'user', Number(retryMs)),
} satisfies Record<string, (values: ReplyValue[]) => AppError>;

export type ScriptRefusal = keyof typeof REFUSALS;

/** The error a refusal means to the client (its status and code from the catalog). */
export function refused(reply: ScriptReply<ScriptRefusal>): AppError {
  return REFUSALS[reply.status](reply.values);
}
