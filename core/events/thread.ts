// Thread and membership events. Membership sets in Redis change in the same script as these appends;
// every other view of membership (Postgres participants, read models) is derived from them.
import { fail, fillFrom, iso, optStr, str, type Payload } from './invalid.js';
import type { EventSpec } from './spec.js';

/** The contract's thread object; thread.created carries it whole. */
export interface Thread {
  id: string;
  title: string | null;
  createdAt: string;
  createdBy: string;
  participantIds: string[];
}

export type ThreadCreated = Thread;

export interface ParticipantAdded {
  threadId: string;
  userId: string;
  addedBy?: string;
}

export interface ParticipantRemoved {
  threadId: string;
  userId: string;
  removedBy?: string;
}

export const threadCreated: EventSpec<ThreadCreated> = {
  version: 1,
  upgrade(d, e) {
    fillFrom(d, 'id', e.threadId);
    if (d['title'] === undefined || d['title'] === '') d['title'] = null;
  },
  check(d, e) {
    str(e, d, 'id');
    optStr(e, d, 'title');
    str(e, d, 'createdBy');
    iso(e, d, 'createdAt');
    const ids = d['participantIds'];
    if (!Array.isArray(ids)) fail(e, 'participantIds must be an array of ids');
    for (const u of ids) if (typeof u !== 'string' || u === '') fail(e, 'participantIds must be an array of ids');
    return d as unknown as ThreadCreated;
  },
};

/** Older shapes named the thread and the user only in the routing fields (th, u). */
function upgradeMembership(d: Payload, e: { threadId?: string; users?: string[] }): void {
  fillFrom(d, 'threadId', e.threadId);
  fillFrom(d, 'userId', e.users?.[0]);
}

function membership<P>(by: 'addedBy' | 'removedBy'): EventSpec<P> {
  return {
    version: 1,
    upgrade: upgradeMembership,
    check(d, e) {
      str(e, d, 'threadId');
      str(e, d, 'userId');
      optStr(e, d, by);
      return d as unknown as P;
    },
  };
}

export const participantAdded = membership<ParticipantAdded>('addedBy');
export const participantRemoved = membership<ParticipantRemoved>('removedBy');
