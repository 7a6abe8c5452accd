// Event types of the tenant streams and of the websocket: names and priorities (names.ts), the
// stream entry (envelope.ts), the typed catalog with one versioned payload and decoder per type
// (catalog.ts and a file per domain), the one InvalidEventError (invalid.ts), and the frames the
// gateway builds from entries (frames.ts). May import core/seq and core/ids only.
export { EVENT, FRAME, priorityOf, type EventType, type Priority } from './names.js';
export { createdAtOf, decodeEntry, type Routing, type StreamEvent } from './envelope.js';
export { InvalidEventError } from './invalid.js';
export {
  decodeEvent, decodePayload, encodeEvent, encodeEventJson, isStreamEventType, versionOf,
  type DecodedEvent, type EventOf, type NewEvent, type Payloads, type StreamEventType,
} from './catalog.js';
export { controlFrame, hasPerUser, personalData, personalizer, publicData, streamFrame } from './frames.js';
export type { Message, MessageCreated, MessageDeleted, MessageUpdated } from './message.js';
export type { ParticipantAdded, ParticipantRemoved, Thread, ThreadCreated } from './thread.js';
export type { ReadReceiptUpdated } from './read-receipt.js';
export type { AttachmentChecked, AttachmentReady, AttachmentRejected, AttachmentUploaded } from './attachment.js';
export type { InboxUpdated, InboxUserFields } from './inbox.js';
export type {
  DigestItem, DigestJob, Job, MessageJob, NotificationContent, NotificationCreated, NotificationOwn, NotificationShared, NotifyChannel,
} from './notification.js';
