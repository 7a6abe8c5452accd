// inbox.updated: a thread's inbox row for up to a chunk of its participants, absolute values (a
// redelivered batch appends the same values again). Each recipient's own fields are under perUser;
// the gateway merges them into that recipient's frame (frames.ts personalizer).
import { fail, str } from './invalid.js';
import type { EventSpec } from './spec.js';

export interface InboxUserFields {
  unreadCount: number;
  lastReadMessageId: string | null;
}

export interface InboxUpdated {
  threadId: string;
  lastMessageId: string | null;
  lastMessageAt: string | null;
  lastSenderId: string | null;
  lastPreviewText: string | null;
  attachmentFlag: boolean;
  perUser: Record<string, InboxUserFields>;
}

export const inboxUpdated: EventSpec<InboxUpdated> = {
  version: 1,
  check(d, e) {
    str(e, d, 'threadId');
    const per = d['perUser'];
    if (!per || typeof per !== 'object' || Array.isArray(per)) fail(e, 'perUser must be an object');
    return d as unknown as InboxUpdated;
  },
};
