// The wire shapes of Chorus protocol v1 that the SDK reads and writes (docs/protocol.md). Unknown
// fields and event types are allowed by the contract: every shape here is open to additions.

export interface Message {
  id: string; threadId: string; senderId: string; body: string; createdAt: string; seq: string;
  clientMessageId?: string; mentions: string[]; attachmentIds: string[]; editedAt?: string;
}
export interface Thread { id: string; title: string | null; createdAt: string; participantIds: string[]; createdBy?: string }
export interface InboxEntry {
  threadId: string; title: string | null; lastMessageId: string | null; lastMessageAt: string | null;
  lastSenderId: string | null; lastPreviewText: string | null; attachmentFlag: boolean; unreadCount: number;
  lastReadMessageId: string | null;
}
export interface InboxPage { threads: InboxEntry[]; nextCursor: string | null }
export interface PresenceState { userId: string; status: PresenceStatus; version: number; lastSeenAt?: string | null; at?: string }
export type PresenceStatus = 'online' | 'away' | 'dnd' | 'offline';
/** `GET /api/sync`: the state as of `seq`; the SDK resumes the websocket from `seq`. */
export interface SyncSnapshot { seq: string; inbox: InboxPage; presence: PresenceState[] }

/** Every server frame: `seq` exactly on events from the tenant's stream. */
export interface ServerFrame<T = any> { type: string; seq?: string; ts: number; data: T }

export interface Hello {
  connectionId: string; userId: string; tenantId: string; headSeq: string; gatewayId?: string;
  heartbeatIntervalMs: number; resumed: boolean; replayed: number;
}

/** The data of the stream events the SDK types; any other type arrives as `unknown` data. */
export interface StreamEvents {
  'message.created': Message;
  'message.updated': Message;
  'message.deleted': { id: string; threadId: string; senderId?: string; createdAt?: string; seq?: string; deletedBy?: string };
  'permission.revoked': { threadId: string; reason: string };
  'thread.created': Thread;
  'participant.added': { threadId: string; userId: string; addedBy?: string };
  'participant.removed': { threadId: string; userId: string; removedBy?: string };
  'read_receipt.updated': { threadId: string; userId: string; lastReadMessageId: string; messageSeq?: string };
  'inbox.updated': Partial<InboxEntry> & { threadId: string; unreadCount: number };
  'attachment.ready': { id: string; status: 'ready'; filename: string; contentType: string; size: number; sha256: string };
  'attachment.rejected': { id: string; status: 'rejected'; filename: string; rejectReason: string };
  'notification.created': Record<string, unknown>;
}

/** A stream event as the SDK emits it: in seq order, each seq once. */
export interface StreamEvent<K extends string = string> {
  type: K; seq: string; ts: number; data: K extends keyof StreamEvents ? StreamEvents[K] : unknown;
}

export type ClientFrame =
  | { type: 'presence.heartbeat'; data: { status: PresenceStatus } }
  | { type: 'presence.subscribe' | 'presence.unsubscribe'; data: { threadIds: string[] } }
  | { type: 'typing'; data: { threadId: string } }
  | { type: 'ack'; data: { seq: string } }
  | { type: 'ping' };
