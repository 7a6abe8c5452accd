// The names of everything a websocket client is sent, and their priority classes: stream event types
// (the catalog, catalog.ts, holds their payloads) plus the frames that never come from the stream.
export const EVENT = {
  threadCreated: 'thread.created',
  participantAdded: 'participant.added',
  participantRemoved: 'participant.removed',
  messageCreated: 'message.created',
  messageUpdated: 'message.updated',
  messageDeleted: 'message.deleted',
  permissionRevoked: 'permission.revoked',
  readReceiptUpdated: 'read_receipt.updated',
  inboxUpdated: 'inbox.updated',
  attachmentUploaded: 'attachment.uploaded',
  /** Internal (no th/u, never sent to clients): the bytes passed the virus scan. */
  attachmentScanned: 'attachment.scanned',
  /** Internal (no th/u, never sent to clients): the real type matched the declared one. */
  attachmentValidated: 'attachment.validated',
  attachmentReady: 'attachment.ready',
  attachmentRejected: 'attachment.rejected',
  notificationCreated: 'notification.created',
  /** Internal (notification channel queues only, never on a tenant event stream): one delivery job. */
  notificationJob: 'notification.job',
  presenceBatch: 'presence.batch',
  presenceSummary: 'presence.summary',
  typing: 'typing',
} as const;
export type EventType = (typeof EVENT)[keyof typeof EVENT];

/** Server-only frames that never come from the stream. */
export const FRAME = {
  hello: 'hello',
  error: 'error',
  pong: 'pong',
  resyncRequired: 'resync.required',
  reconnect: 'reconnect',
} as const;

export type Priority = 'critical' | 'important' | 'best_effort';

const PRIORITY: Record<string, Priority> = {
  [EVENT.messageCreated]: 'critical',
  [EVENT.messageUpdated]: 'critical',
  [EVENT.messageDeleted]: 'critical',
  [EVENT.permissionRevoked]: 'critical',
  [EVENT.threadCreated]: 'critical',
  [EVENT.participantAdded]: 'critical',
  [EVENT.participantRemoved]: 'critical',
  [EVENT.readReceiptUpdated]: 'important',
  [EVENT.inboxUpdated]: 'important',
  [EVENT.attachmentReady]: 'important',
  [EVENT.attachmentRejected]: 'important',
  [EVENT.notificationCreated]: 'important',
  [EVENT.presenceBatch]: 'best_effort',
  [EVENT.presenceSummary]: 'best_effort',
  [EVENT.typing]: 'best_effort',
};

/** Frames not in the table (hello, error, resync, reconnect) are control frames: treated as critical. */
export function priorityOf(type: string): Priority {
  return PRIORITY[type] ?? 'critical';
}
