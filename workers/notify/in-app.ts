// In-app delivery of message jobs: the feed rows (notifications), then one notification.created per
// message for up to IN_APP_GROUP of its recipients, their own fields under perUser (the gateway gives
// each recipient its own frame). Idempotent: feed rows are keyed by notification id and each job's
// outcome marker is set in the same script as the append, so a redelivered job is never published twice.
// Called by the intents stage for the in-app decisions it has just made (no queue round trip) and by
// the in-app channel group for jobs still on its queue (replayed dead letters, older deployments).
import type { Config } from '../../config/index.js';
import type { Sql } from '../../core/db.js';
import { EVENT, createdAtOf, type MessageJob } from '../../core/events/index.js';
import { countAppend, metrics } from '../../core/metrics.js';
import type { RedisClient } from '../../core/redis.js';
import type { Seq } from '../../core/seq.js';
import { groupsOf } from './jobs.js';
import { publishInApp } from './queue.js';
import { insertInApp, type InAppRow } from './store.js';

/** The fields of a notification.created that every recipient of the message shares. */
function shared(r: InAppRow) {
  return { messageId: r.message_id, threadId: r.thread_id, senderId: r.sender_id, readAt: null };
}

/** What the message gives each recipient alike: stored once per grouped entry, not per recipient. */
function content(r: InAppRow) {
  return { title: r.title, preview: r.preview, createdAt: r.created_at };
}

/** The fields of a notification.created that are the recipient's own. */
function own(r: InAppRow) {
  return { id: r.id, kind: r.kind };
}

/** A recipient's own fields, with the content only where it differs from the group's (it never does for one message). */
function ownIn(r: InAppRow, first: InAppRow) {
  const differs = r.title !== first.title || r.preview !== first.preview || r.created_at !== first.created_at;
  return differs ? { ...own(r), ...content(r) } : own(r);
}

export interface InAppPublished {
  job: MessageJob;
  /** The notification.created entry, or null when an earlier delivery of the job published it. */
  seq: Seq | null;
}

export async function deliverInApp(
  d: { tenantId: string; sql: Sql; redis: RedisClient; config: Pick<Config, 'streams'> }, jobs: MessageJob[],
): Promise<InAppPublished[]> {
  if (!jobs.length) return [];
  const { tenantId, sql, redis } = d;
  // The once-only markers live as long as the replay window: a message's entry, and so any
  // redelivery of it, is gone from the stream after the retention (nine markers a message must not
  // outlive it: issue 12, bounded Redis memory).
  const markerTtlMs = d.config.streams.retentionMs;
  const rows: InAppRow[] = jobs.map((j) => ({
    id: j.notificationId, user_id: j.userId, message_id: j.messageId, thread_id: j.threadId, sender_id: j.senderId,
    kind: j.mention ? 'mention' : j.direct ? 'direct' : 'message', title: j.title, preview: j.preview, created_at: createdAtOf(j.seq as Seq),
  }));
  // Row before event: a client reacting to notification.created finds it in GET /api/notifications.
  await insertInApp(sql, tenantId, rows);
  const out: InAppPublished[] = [];
  const published = (i: number, seq: Seq | null) => {
    const job = jobs[i] as MessageJob;
    if (seq) countAppend(EVENT.notificationCreated, tenantId);
    else metrics.notifyDuplicates.inc({ channel: 'inApp', stage: 'publish' });
    out.push({ job, seq });
  };
  const alone = async (i: number) => {
    const r = rows[i] as InAppRow;
    const seq = await publishInApp(redis, tenantId, [jobs[i] as MessageJob],
      { type: EVENT.notificationCreated, data: { ...own(r), ...content(r), ...shared(r) }, users: [r.user_id], actor: r.sender_id }, markerTtlMs);
    return seq === 'partial' ? null : seq; // one job is published or not: never partial
  };
  await Promise.all(groupsOf(jobs).map(async (group) => {
    if (group.length === 1) return published(group[0] as number, await alone(group[0] as number));
    const rs = group.map((i) => rows[i] as InAppRow);
    const first = rs[0] as InAppRow;
    const data = { ...shared(first), ...content(first), perUser: Object.fromEntries(rs.map((r) => [r.user_id, ownIn(r, first)])) };
    const seq = await publishInApp(redis, tenantId, group.map((i) => jobs[i] as MessageJob),
      { type: EVENT.notificationCreated, data, users: rs.map((r) => r.user_id), actor: first.sender_id }, markerTtlMs);
    if (seq !== 'partial') return group.forEach((i) => published(i, seq));
    // Some were published before (a batch formed differently on redelivery): each one alone, deduped by its marker.
    for (const i of group) published(i, await alone(i));
  }));
  return out;
}
