// Event types of the tenant stream and of the websocket, their priority classes and the stream
// envelope. One versioned schema per event: `v` is bumped when a payload changes incompatibly.
import type { Seq } from './seq.js';
import { seqMillis } from './seq.js';

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

/** Current schema version of every stream event. */
export const EVENT_VERSION = 1;

/**
 * A stream entry as written by the write path. Field names are short because they are stored per entry.
 * - t: event type        - v: schema version   - d: JSON payload (without seq/createdAt, which come from the id)
 * - th: thread id (routing to thread participants)   - u: comma-separated user ids (routing to users)
 * - a: actor user id     - tr: trace id
 */
export interface StreamEvent {
  seq: Seq;
  type: string;
  v: number;
  data: string;
  threadId?: string;
  users?: string[];
  actor?: string;
  traceId?: string;
}

export interface NewEvent {
  type: EventType;
  data: Record<string, unknown>;
  threadId?: string;
  users?: string[];
  actor?: string;
  traceId?: string;
}

/** Flat field list for XADD. */
export function encodeEvent(e: NewEvent): string[] {
  return encodeEventJson(e, JSON.stringify(e.data));
}

/** The same, for a payload the caller has serialized already (and uses elsewhere too). */
export function encodeEventJson(e: Omit<NewEvent, 'data'>, dataJson: string): string[] {
  const f = ['t', e.type, 'v', String(EVENT_VERSION), 'd', dataJson];
  if (e.threadId) f.push('th', e.threadId);
  if (e.users && e.users.length) f.push('u', e.users.join(','));
  if (e.actor) f.push('a', e.actor);
  if (e.traceId) f.push('tr', e.traceId);
  return f;
}

/** Parses one XRANGE/XREAD entry `[id, [k, v, k, v…]]`. */
export function decodeEvent(id: string, fields: string[]): StreamEvent {
  const e: StreamEvent = { seq: id as Seq, type: '', v: 0, data: '{}' };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const val = fields[i + 1] as string;
    switch (k) {
      case 't': e.type = val; break;
      case 'v': e.v = Number(val); break;
      case 'd': e.data = val; break;
      case 'th': e.threadId = val; break;
      case 'u': e.users = val.split(','); break;
      case 'a': e.actor = val; break;
      case 'tr': e.traceId = val; break;
    }
  }
  return e;
}

export function createdAtOf(seq: Seq): string {
  return new Date(seqMillis(seq)).toISOString();
}

/**
 * The public payload of an event: message events carry the message object with `seq` and `createdAt`
 * (derived from the entry id) added; every other event carries its data as written.
 */
export function publicData(e: StreamEvent): string {
  if (e.type === EVENT.messageCreated) {
    // Splice instead of parse+stringify: this runs once per event on the fanout hot path.
    const head = `{"seq":"${e.seq}","createdAt":"${createdAtOf(e.seq)}"`;
    return e.data === '{}' ? `${head}}` : `${head},${e.data.slice(1)}`;
  }
  return e.data;
}

/**
 * Events that carry per-recipient fields (e.g. inbox.updated's unread counts) store them under
 * `perUser: {userId: {...}}` in one entry for all recipients; each recipient's frame merges its own.
 */
export function hasPerUser(e: StreamEvent): boolean {
  return e.data.includes('"perUser"');
}

/**
 * The payload of a per-user event split once for all its recipients: the shared fields serialized
 * once, each recipient's own fields spliced in (a recipient's own field wins over a shared one of
 * the same name, as JSON parsers keep the last). One parse per event, not one per recipient.
 */
export function personalizer(e: StreamEvent): (userId: string) => string {
  const d = JSON.parse(e.data) as Record<string, unknown> & { perUser?: Record<string, Record<string, unknown>> };
  const per = d.perUser ?? {};
  delete d.perUser;
  const base = JSON.stringify(d);
  const open = base === '{}' ? '{' : `${base.slice(0, -1)},`;
  return (userId) => {
    const own = Object.hasOwn(per, userId) ? per[userId] : undefined;
    if (!own) return base;
    const fields = JSON.stringify(own);
    return fields === '{}' ? base : open + fields.slice(1);
  };
}

/** One recipient's payload of a per-user event (personalizer, for a single recipient). */
export function personalData(e: StreamEvent, userId: string): string {
  return personalizer(e)(userId);
}

/** A complete websocket frame for a stream event: `{"type","seq","ts","data"}`. */
export function streamFrame(type: string, e: StreamEvent, data: string = publicData(e)): string {
  return `{"type":"${type}","seq":"${e.seq}","ts":${seqMillis(e.seq)},"data":${data}}`;
}

/** A websocket frame that does not come from the stream (no seq). */
export function controlFrame(type: string, data: unknown): string {
  return JSON.stringify({ type, ts: Date.now(), data });
}
