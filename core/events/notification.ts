// Notification events: notification.created on the tenant stream (one recipient's feed entry, or
// several recipients' of one message with their own fields under perUser), and notification.job,
// one delivery job on a channel queue (keys.notifyQueue), written by TypeScript and by the queue
// scripts (workers/notify/lua/tick.lua builds digest jobs).
import { fail, str, type EntryRef, type Payload } from './invalid.js';
import type { EventSpec } from './spec.js';

/** The notification channels (workers/notify/channels.ts lists them with their queues and groups). */
export type NotifyChannel = 'inApp' | 'email' | 'push';
const CHANNELS: ReadonlySet<string> = new Set<NotifyChannel>(['inApp', 'email', 'push']);

/** The fields of a notification.created every recipient of the message shares. */
export interface NotificationShared {
  messageId: string;
  threadId: string;
  senderId: string;
  readAt: null;
}

/** The fields of a notification.created that are the recipient's own. */
export interface NotificationOwn {
  id: string;
  kind: 'mention' | 'direct' | 'message';
}

/**
 * What the message gives every recipient alike. A grouped entry stores it once beside perUser
 * (entries written before 2026-12-03 repeat it inside each recipient's fields, which the gateway's
 * splice lets win: both read the same).
 */
export interface NotificationContent {
  title: string | null;
  preview: string;
  createdAt: string;
}

export type NotificationCreated = NotificationShared & (
  | (NotificationOwn & NotificationContent)
  | (Partial<NotificationContent> & { perUser: Record<string, NotificationOwn & Partial<NotificationContent>> })
);

export const notificationCreated: EventSpec<NotificationCreated> = {
  version: 1,
  check(d, e) {
    str(e, d, 'messageId');
    str(e, d, 'threadId');
    const per = d['perUser'];
    if (per === undefined) str(e, d, 'id');
    else if (!per || typeof per !== 'object' || Array.isArray(per)) fail(e, 'perUser must be an object');
    return d as unknown as NotificationCreated;
  },
};

export interface DigestItem {
  notificationId: string;
  messageId: string;
  threadId: string;
  /** The message's seq (read checks). */
  seq: string;
  senderId: string;
  /** The start of the message body. */
  preview: string;
}

interface JobBase {
  channel: NotifyChannel;
  userId: string;
  /** Provider attempts made so far (0 for a fresh job). */
  attempt: number;
  /** When the work was first enqueued (ms): dispatch lag is measured from here. */
  enqueuedAt: number;
  /**
   * The W3C traceparent of the span that made the job (tracing on only): the provider call's span
   * continues it, across retries. Absent in digests and in jobs made with tracing off.
   */
  trace?: string;
}

/** One message for one recipient, delivered now (mentions, direct threads; and every in-app one). */
export interface MessageJob extends JobBase, DigestItem {
  kind: 'message';
  urgent: boolean;
  mention: boolean;
  direct: boolean;
  title: string | null;
}

/** One user's low-priority items of one digest window, sent together. */
export interface DigestJob extends JobBase {
  kind: 'digest';
  digestId: string;
  /** Items ever added to the window (items beyond the digest cap are only counted). */
  total: number;
  items: DigestItem[];
}

/** notification.job: a delivery job, plain JSON with everything its channel needs. */
export type Job = MessageJob | DigestJob;

function checkJob(d: Payload, e: EntryRef): Job {
  str(e, d, 'userId');
  if (!CHANNELS.has(d['channel'] as string)) fail(e, 'channel must be a notification channel');
  if (d['kind'] === 'message') {
    str(e, d, 'notificationId');
    str(e, d, 'messageId');
  } else if (d['kind'] === 'digest') {
    str(e, d, 'digestId');
    if (!Array.isArray(d['items'])) fail(e, 'items must be an array');
  } else {
    fail(e, `unknown job kind ${String(d['kind'])}`);
  }
  return d as unknown as Job;
}

export const notificationJob: EventSpec<Job> = {
  version: 1,
  upgrade(d) {
    if (d['attempt'] === undefined) d['attempt'] = 0;
    if (d['kind'] === 'digest' && d['total'] === undefined && Array.isArray(d['items'])) d['total'] = d['items'].length;
  },
  check: checkJob,
};
