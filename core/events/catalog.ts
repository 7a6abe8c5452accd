// The catalog of stream events: one payload type, schema version and decoder per type, and the two
// doors every payload goes through. Producers can only append a payload of its type's shape
// (encodeEvent, typed by NewEvent); consumers get the typed payload from decodeEvent, which parses
// the JSON once, upgrades older shapes and checks the current one. Hand-written checks, no schema
// library: this runs once per entry per consumer on the processors' hot path.
// permission.revoked, presence.* and typing are frames the gateway makes; they are never entries.
import { entryFields, type Routing, type StreamEvent } from './envelope.js';
import { InvalidEventError, fail, type Payload } from './invalid.js';
import { EVENT } from './names.js';
import type { EventSpec } from './spec.js';
import * as attachment from './attachment.js';
import * as inbox from './inbox.js';
import * as message from './message.js';
import * as notification from './notification.js';
import * as readReceipt from './read-receipt.js';
import * as thread from './thread.js';

/** Every stream event type and its payload. */
export interface Payloads {
  [EVENT.threadCreated]: thread.ThreadCreated;
  [EVENT.participantAdded]: thread.ParticipantAdded;
  [EVENT.participantRemoved]: thread.ParticipantRemoved;
  [EVENT.messageCreated]: message.MessageCreated;
  [EVENT.messageUpdated]: message.MessageUpdated;
  [EVENT.messageDeleted]: message.MessageDeleted;
  [EVENT.readReceiptUpdated]: readReceipt.ReadReceiptUpdated;
  [EVENT.inboxUpdated]: inbox.InboxUpdated;
  [EVENT.attachmentUploaded]: attachment.AttachmentUploaded;
  [EVENT.attachmentScanned]: attachment.AttachmentChecked;
  [EVENT.attachmentValidated]: attachment.AttachmentChecked;
  [EVENT.attachmentReady]: attachment.AttachmentReady;
  [EVENT.attachmentRejected]: attachment.AttachmentRejected;
  [EVENT.notificationCreated]: notification.NotificationCreated;
  [EVENT.notificationJob]: notification.Job;
}

export type StreamEventType = keyof Payloads;

const SPECS: { readonly [T in StreamEventType]: EventSpec<Payloads[T]> } = {
  [EVENT.threadCreated]: thread.threadCreated,
  [EVENT.participantAdded]: thread.participantAdded,
  [EVENT.participantRemoved]: thread.participantRemoved,
  [EVENT.messageCreated]: message.messageCreated,
  [EVENT.messageUpdated]: message.messageUpdated,
  [EVENT.messageDeleted]: message.messageDeleted,
  [EVENT.readReceiptUpdated]: readReceipt.readReceiptUpdated,
  [EVENT.inboxUpdated]: inbox.inboxUpdated,
  [EVENT.attachmentUploaded]: attachment.attachmentUploaded,
  [EVENT.attachmentScanned]: attachment.attachmentScanned,
  [EVENT.attachmentValidated]: attachment.attachmentValidated,
  [EVENT.attachmentReady]: attachment.attachmentReady,
  [EVENT.attachmentRejected]: attachment.attachmentRejected,
  [EVENT.notificationCreated]: notification.notificationCreated,
  [EVENT.notificationJob]: notification.notificationJob,
};

const specOf = (type: string): EventSpec<unknown> | undefined =>
  Object.hasOwn(SPECS, type) ? (SPECS[type as StreamEventType] as EventSpec<unknown>) : undefined;

export function isStreamEventType(type: string): type is StreamEventType {
  return specOf(type) !== undefined;
}

/** The schema version new entries of the type are written with. */
export function versionOf(type: StreamEventType): number {
  return SPECS[type].version;
}

/** An entry of type T with its decoded payload (a union of such entries for a union of types). */
export type EventOf<T extends StreamEventType> = T extends StreamEventType
  ? StreamEvent & { readonly type: T; readonly payload: Payloads[T] }
  : never;

/** A decoded entry: a union discriminated by `type`, so `switch (e.type)` narrows `e.payload`. */
export type DecodedEvent = EventOf<StreamEventType>;

/**
 * The typed payload of an entry, or InvalidEventError with the reason: not JSON, not an object, an
 * unknown type, a version newer than this code knows, a missing or malformed field. The entry gets
 * its payload attached (and returned as the decoded event), so an entry is decoded once however
 * many folds of one consumer read it.
 */
export function decodeEvent(e: StreamEvent): DecodedEvent {
  const known = e as StreamEvent & { payload?: unknown };
  if (known.payload !== undefined) return known as DecodedEvent;
  (known as { payload: unknown }).payload = decodePayload(e.type, e.data, e);
  return known as DecodedEvent;
}

/** The payload of a type from its JSON (e.g. a dead letter's `d`), checked like decodeEvent's. */
export function decodePayload<T extends StreamEventType>(
  type: T, json: string, e: Pick<StreamEvent, 'seq' | 'v' | 'threadId' | 'users' | 'actor'>,
): Payloads[T];
export function decodePayload(type: string, json: string, e: Pick<StreamEvent, 'seq' | 'v' | 'threadId' | 'users' | 'actor'>): unknown;
export function decodePayload(type: string, json: string, e: Pick<StreamEvent, 'seq' | 'v' | 'threadId' | 'users' | 'actor'>): unknown {
  const ref = { type, seq: e.seq, threadId: e.threadId, users: e.users, actor: e.actor };
  const spec = specOf(type);
  if (!spec) fail(ref, 'unknown event type');
  if (!(e.v >= 0 && e.v <= spec.version)) fail(ref, `unsupported schema version ${e.v}`);
  let d: unknown;
  try {
    d = JSON.parse(json);
  } catch {
    fail(ref, 'payload is not JSON');
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) fail(ref, 'payload is not an object');
  spec.upgrade?.(d as Payload, ref, e.v);
  return spec.check(d as Payload, ref);
}

/** A new entry: a payload of its type's shape and the routing fields. */
export type NewEvent<T extends StreamEventType = StreamEventType> = { [K in T]: Routing & { type: K; data: Payloads[K] } }[T];

/** Flat field list for XADD, with the type's own schema version. */
export function encodeEvent(e: NewEvent): string[] {
  return entryFields(e.type, versionOf(e.type), JSON.stringify(e.data), e);
}

/** The same, for a payload the caller serialized already (`dataJson` is JSON.stringify(e.data), used elsewhere too). */
export function encodeEventJson(e: NewEvent, dataJson: string): string[] {
  return entryFields(e.type, versionOf(e.type), dataJson, e);
}

export { InvalidEventError };
