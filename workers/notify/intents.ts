// Stage 1 and 2 of the pipeline (seed 5.1): message.created (and a message.updated that mentions
// someone) becomes one intent per recipient, filtered by preferences and permissions, and fanned out
// per channel: in-app is delivered at once (workers/notify/in-app.ts), urgent ones (mentions,
// direct threads) go onto the email/push queues, the others into the user's digest of each
// interruptive channel. message.deleted cancels what was not delivered yet. Every decision, sent or
// not, is recorded: a row per channel that notifies, and on the in-app row the channels that did not
// and why (notification_deliveries.skipped).
import type { NotifyContext } from './context.js';
import { EVENT, type MessageJob } from '../../core/events/index.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import { continueTrace } from '../../core/tracing/index.js';
import { inDbSpan } from '../../core/tracing/db-span.js';
import { CHANNELS, INTERRUPTIVE, type Channel } from './channels.js';
import { decideChannel, decideMessage, isUrgent, type Decision, type SkipReason } from './decide.js';
import { deliverInApp } from './in-app.js';
import { loadFacts, threadInfo } from './facts.js';
import { notificationIdOf, previewOf } from './jobs.js';
import { loadPreferences, type Preferences } from './preferences.js';
import { addToDigest, enqueueJob } from './queue.js';
import { cancelPending, deliveryKeyOf, upsertIntents, type IntentRow } from './store.js';

interface MessageFacts {
  id: string;
  threadId: string;
  senderId: string;
  body: string;
  mentions: string[];
  seq: string;
  /** From message.updated: only newly relevant mentions are considered. */
  edit: boolean;
  /** The entry's W3C context (tracing on): its jobs continue that trace. */
  traceparent?: string;
}

export type IntentContext = NotifyContext;

export async function handleIntents(ctx: IntentContext): Promise<void> {
  const { tenantId, sql, redis, config } = ctx;
  const messages: MessageFacts[] = [];
  const deletions: string[] = [];
  for (const e of ctx.events) {
    switch (e.type) {
      case EVENT.messageDeleted:
        deletions.push(e.payload.id);
        break;
      // message.created takes its seq from the entry id; message.updated carries the message's own.
      case EVENT.messageCreated:
        messages.push({ ...e.payload, seq: e.seq, edit: false, traceparent: e.traceparent });
        break;
      case EVENT.messageUpdated:
        messages.push({ ...e.payload, edit: true, traceparent: e.traceparent });
        break;
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
      if (!d.notify) metrics.notifyDecisions.inc({ channel, reason: d.reason, tenant: tenantLabels.label(ctx.tenantId) });
      // The in-app row is the decision log's anchor; another channel that does not notify is one
      // entry in it, not a row of its own.
      if (!d.notify && channel !== 'inApp') {
        skipped[channel] = d.reason;
        continue;
      }
      // An in-app decision to notify is written as sent: its delivery follows the upsert in this
      // batch (and again on redelivery, deduplicated by the publish script's markers).
      const inAppNow = d.notify && channel === 'inApp';
      const row: IntentRow = {
        message_id: m.id, user_id: userId, channel, notification_id: notificationId, thread_id: m.threadId, urgent,
        status: inAppNow ? 'sent' : d.notify ? (waits ? 'digest_pending' : 'queued') : d.reason === 'message_deleted' ? 'cancelled' : 'suppressed',
        reason: inAppNow ? 'sent_via_in_app' : d.notify ? (waits ? 'digest' : urgent ? 'urgent' : 'in_app') : d.reason,
        skipped: null,
        ...(inAppNow ? { attempts: 1 } : {}),
      };
      rows.push(row);
      if (channel === 'inApp') inAppRow = row;
      jobs.set(deliveryKeyOf({ message_id: m.id, user_id: userId, channel }), {
        kind: 'message', channel, userId, attempt: 0, enqueuedAt: now.getTime(), notificationId, messageId: m.id,
        threadId: m.threadId, seq: m.seq, senderId: m.senderId, preview: previewOf(m.body), urgent, mention, direct, title,
        ...traceOf(m),
      });
    }
    if (inAppRow && Object.keys(skipped).length) inAppRow.skipped = skipped;
  }

  // The rows as they stand after the upsert decide what is (still) to enqueue, so a batch that
  // failed between the upsert and the enqueue enqueues on redelivery; the markers stop doubles.
  const current = await inDbSpan('notify_intents_upsert', tenantId, () => upsertIntents(sql, tenantId, rows));
  // In-app is delivered here, with the facts and preferences just read: the in-app channel queue was
  // one more append, read, decode, re-check and ack per recipient for the same decision. Every row
  // of the batch that stands as sent is published: the script's markers drop what was published
  // before (a redelivered batch), and a crash between the upsert and the publish is made good by the
  // redelivery.
  const inApp = current.filter((row) => row.channel === 'inApp' && row.status === 'sent').map((row) => jobs.get(deliveryKeyOf(row)))
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

/** The job's trace: the batch span when it is in the message's trace, else the message's own context. */
function traceOf(m: MessageFacts): { trace?: string } {
  const trace = continueTrace(m.traceparent);
  return trace ? { trace } : {};
}

/** Publishes the in-app notifications of a batch (their rows were written as sent). */
async function deliverInAppNow(ctx: IntentContext, jobs: MessageJob[]): Promise<void> {
  if (!jobs.length) return;
  const published = await deliverInApp(ctx, jobs);
  const now = Date.now();
  for (const { job, seq } of published) {
    if (!seq) continue;
    metrics.notifyDispatchLatency.observe({ channel: 'inApp', priority: job.urgent ? 'urgent' : 'normal' }, (now - job.enqueuedAt) / 1000);
    metrics.notifyDecisions.inc({ channel: 'inApp', reason: 'sent_via_in_app', tenant: tenantLabels.label(ctx.tenantId) });
  }
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
