// Message events: message.created, message.updated (the whole message after the edit), and
// message.deleted (a soft delete). The message object itself is the contract's (PROTOCOL.md).
import { createdAtOf } from './envelope.js';
import { fail, fillFrom, iso, optStr, seqField, str, strList, type EntryRef, type Payload } from './invalid.js';
import type { EventSpec } from './spec.js';

/** The contract's message object (202 body of POST /api/messages, timeline items), editedAt once edited. */
export interface Message {
  id: string;
  threadId: string;
  senderId: string;
  body: string;
  createdAt: string;
  seq: string;
  clientMessageId?: string;
  mentions: string[];
  attachmentIds: string[];
  editedAt?: string;
}

/** message.created: the message but seq and createdAt, which are its entry id and that id's time. */
export type MessageCreated = Omit<Message, 'seq' | 'createdAt' | 'editedAt'>;

/** message.updated: the whole message after the edit, so that no consumer needs the original entry. */
export type MessageUpdated = Message & { editedAt: string };

/** message.deleted: who deleted which message; createdAt and seq are the message's own. */
export interface MessageDeleted {
  id: string;
  threadId: string;
  senderId: string;
  createdAt: string;
  seq: string;
  deletedBy: string;
}

/** Older shapes routed the thread by the envelope only and left empty lists out. */
function upgradeContent(d: Payload, e: EntryRef): void {
  fillFrom(d, 'threadId', e.threadId);
  if (d['mentions'] === undefined || d['mentions'] === null) d['mentions'] = [];
  if (d['attachmentIds'] === undefined || d['attachmentIds'] === null) d['attachmentIds'] = [];
  if (d['clientMessageId'] === null) delete d['clientMessageId'];
}

function checkContent(d: Payload, e: EntryRef): MessageCreated {
  str(e, d, 'id');
  str(e, d, 'threadId');
  str(e, d, 'senderId');
  if (typeof d['body'] !== 'string') fail(e, 'body must be a string');
  optStr(e, d, 'clientMessageId');
  strList(e, d, 'mentions');
  strList(e, d, 'attachmentIds');
  return d as unknown as MessageCreated;
}

export const messageCreated: EventSpec<MessageCreated> = {
  version: 1,
  upgrade: upgradeContent,
  check: checkContent,
};

export const messageUpdated: EventSpec<MessageUpdated> = {
  version: 1,
  upgrade(d, e) {
    upgradeContent(d, e);
    // Edits before editedAt was written: the edit's own entry time is when it was accepted.
    if (d['editedAt'] === undefined || d['editedAt'] === null) d['editedAt'] = createdAtOf(e.seq);
  },
  check(d, e) {
    checkContent(d, e);
    iso(e, d, 'createdAt');
    seqField(e, d, 'seq');
    iso(e, d, 'editedAt');
    return d as unknown as MessageUpdated;
  },
};

export const messageDeleted: EventSpec<MessageDeleted> = {
  version: 1,
  upgrade(d, e) {
    fillFrom(d, 'threadId', e.threadId);
    fillFrom(d, 'deletedBy', e.actor);
  },
  check(d, e) {
    str(e, d, 'id');
    str(e, d, 'threadId');
    str(e, d, 'senderId');
    iso(e, d, 'createdAt');
    seqField(e, d, 'seq');
    str(e, d, 'deletedBy');
    return d as unknown as MessageDeleted;
  },
};
