// Helpers over delivery jobs: previews, idempotency keys, in-app grouping. The job itself (the
// payload of notification.job, plain JSON with everything the channel needs, so that a job never
// depends on the entry that made it) is an event type of the catalog: core/events/notification.ts.
import crypto from 'node:crypto';
import type { Job, MessageJob } from '../../core/events/index.js';

export const PREVIEW_CHARS = 140;

/** The first `n` characters (code points) of a body, with an ellipsis when cut. */
export function previewOf(body: string, n = PREVIEW_CHARS): string {
  const chars = [...body];
  return chars.length <= n ? body : `${chars.slice(0, n - 1).join('')}…`;
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
