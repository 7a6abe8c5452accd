// A delivery job as it travels on a channel queue (and in the delayed set and the dead letters):
// plain JSON with everything the channel needs, so a job never depends on the entry that made it.
import crypto from 'node:crypto';
import type { Channel } from './channels.js';

export interface DigestItem {
  notificationId: string;
  messageId: string;
  threadId: string;
  /** The message's seq (read checks). */
  seq: string;
  senderId: string;
  /** The start of the message body (at most PREVIEW_CHARS characters). */
  preview: string;
}

export const PREVIEW_CHARS = 140;

/** The first `n` characters (code points) of a body, with an ellipsis when cut. */
export function previewOf(body: string, n = PREVIEW_CHARS): string {
  const chars = [...body];
  return chars.length <= n ? body : `${chars.slice(0, n - 1).join('')}…`;
}

interface JobBase {
  channel: Channel;
  userId: string;
  /** Provider attempts made so far (0 for a fresh job). */
  attempt: number;
  /** When the work was first enqueued (ms): dispatch lag is measured from here. */
  enqueuedAt: number;
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

export type Job = MessageJob | DigestJob;

export class InvalidJobError extends Error {}

export function parseJob(data: string): Job {
  let j: unknown;
  try {
    j = JSON.parse(data);
  } catch {
    throw new InvalidJobError('job payload is not JSON');
  }
  const o = j as Partial<Job> | null;
  if (!o || typeof o !== 'object' || typeof o.userId !== 'string' || typeof o.channel !== 'string') {
    throw new InvalidJobError('job payload lacks userId/channel');
  }
  if (o.kind === 'message' && typeof o.notificationId === 'string' && typeof o.messageId === 'string') return { attempt: 0, ...o } as Job;
  if (o.kind === 'digest' && typeof o.digestId === 'string' && Array.isArray(o.items)) return { attempt: 0, total: o.items.length, ...o } as Job;
  throw new InvalidJobError(`unknown job kind ${String(o.kind)}`);
}

/** What a job's idempotency keys (outcome marker, lease, Message-ID) are built from. */
export function deliveryKey(job: Job): string {
  return job.kind === 'digest' ? job.digestId : job.notificationId;
}

/** The notification of one message for one recipient: deterministic, so every redelivery finds the same one. */
export function notificationIdOf(messageId: string, userId: string): string {
  return `n_${crypto.createHash('sha256').update(`${messageId}\n${userId}`).digest('hex').slice(0, 32)}`;
}

/**
 * The RFC 5322 Message-ID of one delivery: deterministic per notification (or digest) and channel, so
 * a retried or redelivered send carries the same id and the provider drops the duplicate.
 */
export function emailMessageId(tenantId: string, job: Job): string {
  return `<${deliveryKey(job)}.${job.channel}@${tenantId}.chorus.invalid>`;
}

/** Idempotency-Key header of one push delivery (same rule as the Message-ID). */
export function pushIdempotencyKey(tenantId: string, job: Job): string {
  return `${tenantId}:${deliveryKey(job)}:${job.channel}`;
}

/** Recipients per notification.created entry: each recipient's frame parses the entry once. */
export const IN_APP_GROUP = 50;

/**
 * Indices of `jobs` grouped by message, at most IN_APP_GROUP per group and each user once per group
 * (a duplicated job gets a group of its own, deduplicated by its outcome marker).
 */
export function groupsOf(jobs: readonly MessageJob[]): number[][] {
  const open = new Map<string, { users: Set<string>; idx: number[] }>();
  const out: number[][] = [];
  for (const [i, j] of jobs.entries()) {
    let g = open.get(j.messageId);
    if (g?.users.has(j.userId)) {
      out.push([i]);
      continue;
    }
    if (!g || g.idx.length >= IN_APP_GROUP) {
      g = { users: new Set(), idx: [] };
      open.set(j.messageId, g);
      out.push(g.idx);
    }
    g.users.add(j.userId);
    g.idx.push(i);
  }
  return out;
}
