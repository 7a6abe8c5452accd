// Which stream events a user may see, given the threads they participate in. Pure functions, shared by
// live fanout and replay, so a resumed connection sees exactly what a connected one would have seen.
import { EVENT, type StreamEvent } from '../../core/events/index.js';

export type Delivery = 'event' | 'revoked' | null;

/**
 * Decides what `userId` receives for `e` and moves `threads` (the user's membership before `e`)
 * forward to the membership after it. Membership events name the affected user in `users`.
 */
export function applyEvent(threads: Set<string>, userId: string, e: StreamEvent): Delivery {
  const th = e.threadId;
  const targetsUser = e.users?.includes(userId) ?? false;
  switch (e.type) {
    case EVENT.threadCreated:
    case EVENT.participantAdded:
      if (th && targetsUser) {
        threads.add(th);
        return 'event';
      }
      return th && threads.has(th) ? 'event' : null;
    case EVENT.participantRemoved:
      if (th && targetsUser) {
        if (!threads.delete(th)) return null;
        return 'revoked';
      }
      return th && threads.has(th) ? 'event' : null;
    default:
      if (th) return threads.has(th) ? 'event' : null;
      return targetsUser ? 'event' : null;
  }
}

/**
 * Membership before a run of events, from the membership after them: walks backwards undoing
 * each membership change of `userId` (the write path appends an event only when membership changed).
 */
export function membershipBefore(after: Iterable<string>, userId: string, events: StreamEvent[]): Set<string> {
  const threads = new Set(after);
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (!e.threadId || !e.users?.includes(userId)) continue;
    if (e.type === EVENT.threadCreated || e.type === EVENT.participantAdded) threads.delete(e.threadId);
    else if (e.type === EVENT.participantRemoved) threads.add(e.threadId);
  }
  return threads;
}
