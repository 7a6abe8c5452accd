// Stage 1 and 2 of the pipeline (seed 5.1): message.created (and a message.updated that mentions
// someone) becomes one intent per recipient, filtered by preferences and permissions, and fanned out
// per channel: in-app is delivered at once (workers/notify/in-app.ts), urgent ones (mentions,
// direct threads) go onto the email/push queues, the others into the user's digest of each
// interruptive channel. message.deleted cancels what was not delivered yet. Every decision, sent or
// not, is recorded: a row per channel that notifies, and on the in-app row the channels that did not
// and why (notification_deliveries.skipped).
import type { NotifyContext } from './context.js';
import { EVENT, type StreamEvent } from '../../core/events.js';
import { metrics } from '../../core/metrics.js';
import { CHANNELS, INTERRUPTIVE, type Channel } from './channels.js';
import { decideChannel, decideMessage, isUrgent, type Decision, type SkipReason } from './decide.js';
import { deliverInApp } from './in-app.js';
import { loadFacts, threadInfo } from './facts.js';
import { notificationIdOf, previewOf, type MessageJob } from './jobs.js';
import { loadPreferences, type Preferences } from './preferences.js';
import { addToDigest, enqueueJob } from './queue.js';
import { cancelPending, deliveryKeyOf, recordDeliveries, upsertIntents, type IntentRow } from './store.js';

export class InvalidMessageEventError extends Error {}

interface MessageFacts {
  id: string;
  threadId: string;
  senderId: string;
  body: string;
  mentions: string[];
  seq: string;
  /** From message.updated: only newly relevant mentions are considered. */
  edit: boolean;
}

function parseMessage(e: StreamEvent): MessageFacts {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(e.data) as Record<string, unknown>;
  } catch {
    throw new InvalidMessageEventError(`${e.type} ${e.seq}: payload is not JSON`);
  }
  const { id, threadId, senderId, body, mentions } = d;
  if (typeof id !== 'string' || typeof threadId !== 'string' || typeof senderId !== 'string') {
    throw new InvalidMessageEventError(`${e.type} ${e.seq}: id, threadId and senderId are required`);
  }
  const edit = e.type === EVENT.messageUpdated;
  // message.created takes its seq from the entry id; message.updated carries the message's own.
  const seq = edit && typeof d['seq'] === 'string' ? (d['seq'] as string) : e.seq;
  return {
    id, threadId, senderId, seq, edit,
    body: typeof body === 'string' ? body : '',
    mentions: Array.isArray(mentions) ? mentions.filter((m): m is string => typeof m === 'string') : [],
  };
}

export type IntentContext = NotifyContext;

export async function handleIntents(ctx: IntentContext): Promise<void> {
  const { tenantId, sql, redis, config } = ctx;
  const messages: MessageFacts[] = [];
  const deletions: string[] = [];
  for (const e of ctx.events) {
    if (e.type === EVENT.messageDeleted) {
      const id = (JSON.parse(e.data) as { id?: unknown }).id;
      if (typeof id === 'string') deletions.push(id);
    } else if (e.type === EVENT.messageCreated || e.type === EVENT.messageUpdated) {
      messages.push(parseMessage(e));
    }
  }
  if (deletions.length) await cancelPending(sql, tenantId, deletions);
  if (!messages.length) return;

  const threads = await threadInfo(redis, tenantId, [...new Set(messages.map((m) => m.threadId))]);
  const targets: { m: MessageFacts; userId: string; direct: boolean; title: string | null }[] = [];
  for (const m of messages) {
    const t = threads.get(m.threadId);
    if (!t) continue;
    const members = new Set(t.members);
    // An edit notifies only whom it mentions (a mention the original may not have had); the rest was decided at creation.
    const recipients = m.edit ? m.mentions.filter((u) => members.has(u)) : t.members;
    for (const userId of new Set(recipients)) {
      if (userId !== m.senderId) targets.push({ m, userId, direct: members.size === 2, title: t.title });
    }
  }
  if (!targets.length) return;

  const now = new Date();
  const [prefs, facts] = await Promise.all([
    loadPreferences(sql, tenantId, targets.map((t) => t.userId)),
    loadFacts(redis, sql, tenantId, targets.map((t) => ({ messageId: t.m.id, threadId: t.m.threadId, userId: t.userId, seq: t.m.seq })),
      { presence: false }),
  ]);

  const rows: IntentRow[] = [];
  const jobs = new Map<string, MessageJob>();
  for (const { m, userId, direct, title } of targets) {
    const p = prefs.get(userId) as Preferences;
    const mention = m.mentions.includes(userId);
    const urgent = isUrgent({ mention, direct });
    const notificationId = notificationIdOf(m.id, userId);
    const msgDecision = decideMessage(p, {
      mention, direct, threadId: m.threadId, deleted: facts.deleted(m.id), participant: true,
      read: facts.read({ messageId: m.id, threadId: m.threadId, userId, seq: m.seq }), active: false,
    }, now);
    const skipped: Partial<Record<Channel, SkipReason>> = {};
    let inAppRow: IntentRow | undefined;
    for (const channel of CHANNELS) {
      const d: Decision = msgDecision.notify ? intentChannelDecision(channel, p, urgent, now) : msgDecision;
      const waits = INTERRUPTIVE.has(channel) && !urgent;
      if (!d.notify) metrics.notifyDecisions.inc({ channel, reason: d.reason });
      // The in-app row is the decision log's anchor; another channel that does not notify is one
      // entry in it, not a row of its own.
      if (!d.notify && channel !== 'inApp') {
        skipped[channel] = d.reason;
        continue;
      }
      const row: IntentRow = {
        message_id: m.id, user_id: userId, channel, notification_id: notificationId, thread_id: m.threadId, urgent,
        status: d.notify ? (waits ? 'digest_pending' : 'queued') : d.reason === 'message_deleted' ? 'cancelled' : 'suppressed',
        reason: d.notify ? (waits ? 'digest' : urgent ? 'urgent' : 'in_app') : d.reason,
        skipped: null,
      };
      rows.push(row);
      if (channel === 'inApp') inAppRow = row;
      jobs.set(deliveryKeyOf({ message_id: m.id, user_id: userId, channel }), {
        kind: 'message', channel, userId, attempt: 0, enqueuedAt: now.getTime(), notificationId, messageId: m.id,
        threadId: m.threadId, seq: m.seq, senderId: m.senderId, preview: previewOf(m.body), urgent, mention, direct, title,
      });
    }
    if (inAppRow && Object.keys(skipped).length) inAppRow.skipped = skipped;
  }

  // The rows as they stand after the upsert decide what is (still) to enqueue, so a batch that
  // failed between the upsert and the enqueue enqueues on redelivery; the markers stop doubles.
  const current = await upsertIntents(sql, tenantId, rows);
  // In-app is delivered here, with the facts and preferences just read: the in-app channel queue was
  // one more append, read, decode, re-check and ack per recipient for the same decision.
  const inApp = current.filter((row) => row.channel === 'inApp' && row.status === 'queued').map((row) => jobs.get(deliveryKeyOf(row)))
    .filter((j): j is MessageJob => j !== undefined);
  await Promise.all([
    deliverInAppNow(ctx, inApp),
    ...current.map(async (row) => {
      const job = jobs.get(deliveryKeyOf(row));
      if (!job || row.channel === 'inApp') return;
      if (row.status === 'queued') await enqueueJob(redis, tenantId, job, row.urgent ? 'urgent' : 'now');
      else if (row.status === 'digest_pending') {
        await addToDigest(redis, tenantId, job.channel, job.userId, {
          notificationId: job.notificationId, messageId: job.messageId, threadId: job.threadId, seq: job.seq,
          senderId: job.senderId, preview: job.preview,
        }, config.notify.digestWindowMs);
      }
    }),
  ]);
}

/** Publishes the in-app notifications of a batch and records them sent (the row goes queued → sent). */
async function deliverInAppNow(ctx: IntentContext, jobs: MessageJob[]): Promise<void> {
  if (!jobs.length) return;
  const published = await deliverInApp(ctx, jobs);
  const now = Date.now();
  for (const { job, seq } of published) {
    if (!seq) continue;
    metrics.notifyDispatchLatency.observe({ channel: 'inApp', priority: job.urgent ? 'urgent' : 'normal' }, (now - job.enqueuedAt) / 1000);
    metrics.notifyDecisions.inc({ channel: 'inApp', reason: 'sent_via_in_app' });
  }
  await recordDeliveries(ctx.sql, ctx.tenantId, published.map(({ job, seq }) => ({
    message_id: job.messageId, user_id: job.userId, channel: 'inApp' as const, status: 'sent' as const, reason: 'sent_via_in_app',
    attempts: 1, ...(seq ? { provider_message_id: seq } : {}),
  })));
}

/**
 * The channel rules when the intent is made. Quiet hours suppress urgent interruptive notifications
 * now; low-priority ones only wait for their digest, which is held until the quiet period ends.
 * Activity is judged right before delivery.
 */
function intentChannelDecision(channel: Channel, p: Preferences, urgent: boolean, now: Date): Decision {
  const quietless = urgent ? p : { ...p, quietHours: null };
  return decideChannel(channel, quietless, { active: false }, now);
}
