// read_receipt.updated: a user's read position in a thread, as the seq of the last message read.
// Consumers keep the furthest position by that seq, whatever order receipts arrive in.
import { fillFrom, seqField, str } from './invalid.js';
import type { EventSpec } from './spec.js';

export interface ReadReceiptUpdated {
  threadId: string;
  userId: string;
  lastReadMessageId: string;
  /** The read message's seq. */
  messageSeq: string;
}

export const readReceiptUpdated: EventSpec<ReadReceiptUpdated> = {
  version: 1,
  upgrade(d, e) {
    fillFrom(d, 'threadId', e.threadId);
    fillFrom(d, 'userId', e.actor);
  },
  check(d, e) {
    str(e, d, 'threadId');
    str(e, d, 'userId');
    str(e, d, 'lastReadMessageId');
    seqField(e, d, 'messageSeq');
    return d as unknown as ReadReceiptUpdated;
  },
};
