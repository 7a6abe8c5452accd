// Stages 3 and 4 of the pipeline (seed 5.1) for one channel: a batch of jobs from the channel's
// queue is filtered again with fresh facts (deleted, still a participant, already read, active
// elsewhere, preferences), then handed to the channel: in-app writes the feed row and appends
// notification.created; email and push call their provider behind the circuit breaker, with
// retries (exponential backoff with jitter through the delayed set), the dead letters after the last
// attempt, and idempotency keys so that no redelivery sends twice:
//   outcome marker (checked before sending) → in-flight lease → provider call with a deterministic
//   Message-ID / Idempotency-Key (the provider drops a repeat) → outcome marker set.
import os from 'node:os';
import type { Config } from '../../config/index.js';
import type { NotifyContext } from './context.js';
import { backoffDelay } from '../../core/backoff.js';
import { EVENT, type DigestItem, type Job, type StreamEvent } from '../../core/events/index.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import { SpanKind, activeTraceparent, inSpan } from '../../core/tracing/index.js';
import { deadLetter } from '../../core/stream-commands.js';
import { Breaker } from './breaker.js';
import { INTERRUPTIVE, groupOf, queueOf, type Channel } from './channels.js';
import { render } from './content.js';
import { decide, decideChannel, decideMessage, type Decision } from './decide.js';
import { loadFacts, type DeliveryFacts, type ItemRef } from './facts.js';
import { deliverInApp } from './in-app.js';
import { deliveryKey, emailMessageId, pushIdempotencyKey } from './jobs.js';
import { loadPreferences, type Preferences } from './preferences.js';
import { ProviderError, type Provider } from './providers/provider.js';
import { outcomes, recordOutcome, releaseLease, scheduleJob, takeLease, type Outcome } from './queue.js';
import { msUntilQuietEnd } from './quiet-hours.js';
import { deliveryKeyOf, deliveryRows, recordDeliveries, type DeliveryKey, type DeliveryRow, type DeliveryUpdate } from './store.js';

/** Row statuses after which a job has nothing left to do. */
const FINAL = new Set(['sent', 'delivered', 'opened', 'bounced', 'suppressed', 'cancelled']);
const CONSUMER = `${os.hostname()}-${process.pid}`;

/**
 * How long a consumer holds a delivery while it calls the provider: past the call's timeout, so a
 * live sender is never overtaken; a dead one's lease lapses and the job is taken over.
 */
export function leaseMsOf(sendTimeoutMs: number): number {
  return Math.round(sendTimeoutMs * 1.5) + 1000;
}

export type DeliverContext = NotifyContext;

interface Planned {
  e: StreamEvent;
  job: Job;
  /** The rows this delivery settles: one for a message, one per remaining item for a digest. */
  keys: DeliveryKey[];
  items: DigestItem[];
  prefs: Preferences;
}

function sentReason(job: Job): string {
  const ch = job.channel === 'inApp' ? 'in_app' : job.channel;
  return job.kind === 'digest' ? `sent_via_${ch}_digest` : `sent_via_${ch}`;
}

function priorityOf(job: Job): string {
  return job.kind === 'digest' ? 'digest' : job.urgent ? 'urgent' : 'normal';
}

function keysOf(job: Job, items: DigestItem[] = job.kind === 'digest' ? job.items : []): DeliveryKey[] {
  if (job.kind === 'message') return [{ message_id: job.messageId, user_id: job.userId, channel: job.channel }];
  return items.map((i) => ({ message_id: i.messageId, user_id: job.userId, channel: job.channel }));
}

function itemRefs(job: Job): ItemRef[] {
  const items = job.kind === 'digest' ? job.items : [job];
  return items.map((i) => ({ messageId: i.messageId, threadId: i.threadId, userId: job.userId, seq: i.seq }));
}

function skipped(tenantId: string, key: DeliveryKey, d: Extract<Decision, { notify: false }>): DeliveryUpdate {
  metrics.notifyDecisions.inc({ channel: key.channel, reason: d.reason, tenant: tenantLabels.label(tenantId) });
  return { ...key, status: d.reason === 'message_deleted' ? 'cancelled' : 'suppressed', reason: d.reason };
}

export class ChannelDelivery {
  private readonly group: string;
  private readonly stream: (t: string) => string;

  constructor(readonly channel: Channel, private readonly provider?: (config: Config) => Provider) {
    this.group = groupOf(channel);
    this.stream = queueOf(channel);
  }

  async handle(ctx: DeliverContext): Promise<void> {
    const { tenantId, sql, redis } = ctx;
    // The group handles notification.job only: every entry's payload is a job, decoded by the runner.
    const entries = ctx.events.flatMap((e) => (e.type === EVENT.notificationJob ? [{ e, job: e.payload }] : []));
    const updates: DeliveryUpdate[] = [];
    const known = await outcomes(redis, tenantId, entries.map((x) => x.job));
    const live = entries.filter((x, i) => {
      const o = known[i];
      // A finished digest is settled after planning, for the items it still holds (not the ones dropped).
      if (!o || x.job.kind === 'digest') return true;
      // Finished before (a redelivery, or a crash before the status was written): write it again.
      metrics.notifyDuplicates.inc({ channel: this.channel, stage: 'outcome_marker' });
      updates.push(...this.settled(x.job, keysOf(x.job), o));
      return false;
    });
    if (live.length) {
      const jobs = live.map((x) => x.job);
      const [rows, facts, prefs] = await Promise.all([
        deliveryRows(sql, tenantId, jobs.flatMap((j) => keysOf(j))),
        loadFacts(redis, sql, tenantId, jobs.flatMap(itemRefs), { presence: INTERRUPTIVE.has(this.channel) }),
        loadPreferences(sql, tenantId, jobs.map((j) => j.userId)),
      ]);
      const now = new Date();
      const planned: Planned[] = [];
      for (const { e, job } of live) {
        const p = prefs.get(job.userId) as Preferences;
        const plan = job.kind === 'message' ? this.planMessage(tenantId, e, job, p, rows, facts, now, updates)
          : await this.planDigest(ctx, e, job, p, rows, facts, now, updates);
        if (plan) planned.push(plan);
      }
      if (this.channel === 'inApp') await this.deliverInApp(ctx, planned, updates);
      else await Promise.all(planned.map((plan) => this.deliverViaProvider(ctx, plan, updates)));
    }
    await recordDeliveries(sql, tenantId, updates);
  }

  private settled(job: Job, keys: DeliveryKey[], o: Outcome): DeliveryUpdate[] {
    return keys.map((k) => o.kind === 'sent'
      ? { ...k, status: 'sent' as const, reason: sentReason(job), provider_message_id: o.providerId || null, ...(job.kind === 'digest' ? { digest_id: job.digestId } : {}) }
      : { ...k, status: 'failed' as const, reason: 'failed' });
  }

  private planMessage(
    tenantId: string, e: StreamEvent, job: Extract<Job, { kind: 'message' }>, p: Preferences, rows: Map<string, DeliveryRow>, facts: DeliveryFacts,
    now: Date, updates: DeliveryUpdate[],
  ): Planned | null {
    const [key] = keysOf(job) as [DeliveryKey];
    const row = rows.get(deliveryKeyOf(key));
    if (row && FINAL.has(row.status)) {
      metrics.notifyDuplicates.inc({ channel: this.channel, stage: 'row_final' });
      return null;
    }
    const d = decide(this.channel, p, {
      mention: job.mention, direct: job.direct, threadId: job.threadId, deleted: facts.deleted(job.messageId),
      participant: facts.participant(job.threadId, job.userId), read: facts.read({ ...job }), active: facts.active(job.userId),
    }, now);
    if (!d.notify) {
      updates.push(skipped(tenantId, key, d));
      return null;
    }
    return { e, job, keys: [key], items: [], prefs: p };
  }

  private async planDigest(
    ctx: DeliverContext, e: StreamEvent, job: Extract<Job, { kind: 'digest' }>, p: Preferences, rows: Map<string, DeliveryRow>,
    facts: DeliveryFacts, now: Date, updates: DeliveryUpdate[],
  ): Promise<Planned | null> {
    // Items upgraded to urgent (an edit added a mention) or cancelled meanwhile are no longer the digest's.
    let items = job.items.filter((i) => rows.get(deliveryKeyOf({ message_id: i.messageId, user_id: job.userId, channel: this.channel }))?.status === 'digest_pending');
    const kept: DigestItem[] = [];
    for (const i of items) {
      const d = decideMessage(p, {
        mention: false, direct: false, threadId: i.threadId, deleted: facts.deleted(i.messageId),
        participant: facts.participant(i.threadId, job.userId), read: facts.read({ ...i, userId: job.userId }), active: false,
      }, now);
      if (d.notify) kept.push(i);
      else updates.push(skipped(ctx.tenantId, { message_id: i.messageId, user_id: job.userId, channel: this.channel }, d));
    }
    items = kept;
    if (!items.length) return null;
    const ch = decideChannel(this.channel, p, { active: facts.active(job.userId) }, now);
    if (!ch.notify) {
      if (ch.reason === 'quiet_hours' && p.quietHours) {
        // A digest is deferred by nature: it waits for the end of the quiet period rather than being dropped.
        await scheduleJob(ctx.redis, ctx.tenantId, job, now.getTime() + msUntilQuietEnd(p.quietHours, now));
        metrics.notifyRetries.inc({ channel: this.channel, cause: 'quiet_hours' });
        return null;
      }
      for (const i of items) updates.push(skipped(ctx.tenantId, { message_id: i.messageId, user_id: job.userId, channel: this.channel }, ch));
      return null;
    }
    // `total` keeps counting only what the digest could not hold (its cap), not what was filtered out.
    const trimmed = { ...job, items, total: items.length + Math.max(0, job.total - job.items.length) };
    return { e, job: trimmed, keys: keysOf(trimmed, items), items, prefs: p };
  }

  private async deliverInApp(ctx: DeliverContext, planned: Planned[], updates: DeliveryUpdate[]): Promise<void> {
    const jobs = planned.flatMap((p) => (p.job.kind === 'message' ? [p.job] : []));
    for (const { job, seq } of await deliverInApp(ctx, jobs)) {
      if (seq) {
        metrics.notifyDispatchLatency.observe({ channel: this.channel, priority: priorityOf(job) }, (Date.now() - job.enqueuedAt) / 1000);
        metrics.notifyDecisions.inc({ channel: this.channel, reason: sentReason(job), tenant: tenantLabels.label(ctx.tenantId) });
      }
      updates.push({ ...(keysOf(job)[0] as DeliveryKey), status: 'sent', reason: sentReason(job), attempts: 1, ...(seq ? { provider_message_id: seq } : {}) });
    }
  }

  private async deliverViaProvider(ctx: DeliverContext, plan: Planned, updates: DeliveryUpdate[]): Promise<void> {
    const { tenantId, redis, config, log } = ctx;
    const { job, keys } = plan;
    const n = config.notify;
    const lease = await takeLease(redis, tenantId, job, leaseMsOf(n.sendTimeoutMs));
    if (!('token' in lease)) {
      // Another consumer is sending it right now (a claimed or duplicated job): look again once its lease ran out.
      await scheduleJob(redis, tenantId, job, Date.now() + lease.heldForMs + 50);
      metrics.notifyRetries.inc({ channel: this.channel, cause: 'lease_held' });
      return;
    }
    const { token } = lease;
    try {
      const [o] = await outcomes(redis, tenantId, [job]);
      if (o) {
        metrics.notifyDuplicates.inc({ channel: this.channel, stage: 'outcome_marker' });
        updates.push(...this.settled(job, keys, o));
        return;
      }
      // Asked last, so that a probe the breaker lets through is always a real call.
      const provider = (this.provider as (c: Config) => Provider)(config);
      const breaker = new Breaker(redis, provider.name, { ...n.breaker, probeMs: n.sendTimeoutMs + 1000 }, log);
      const verdict = await breaker.allow();
      if (!verdict.call) {
        // Not the job's failure: no attempt is spent while the provider is given a rest.
        await scheduleJob(redis, tenantId, job, Date.now() + verdict.waitMs + Math.floor(Math.random() * 100));
        metrics.notifyRetries.inc({ channel: this.channel, cause: 'circuit_open' });
        for (const k of keys) updates.push({ ...k, status: 'retrying', reason: 'circuit_open' });
        return;
      }
      await this.attempt(ctx, plan, provider, breaker, updates);
    } finally {
      await releaseLease(redis, tenantId, job, token);
    }
  }

  private async attempt(ctx: DeliverContext, plan: Planned, provider: Provider, breaker: Breaker, updates: DeliveryUpdate[]): Promise<void> {
    const { tenantId, redis, config, log } = ctx;
    const { job, keys, items, prefs, e } = plan;
    const to = (this.channel === 'email' ? prefs.email : prefs.pushEndpoint) as string;
    const content = render(job, items);
    const idempotencyKey = this.channel === 'email' ? emailMessageId(tenantId, job) : pushIdempotencyKey(tenantId, job);
    const data: Record<string, string> = job.kind === 'message'
      ? { Kind: job.mention ? 'mention' : job.direct ? 'direct' : 'message', Thread: job.threadId, Message: job.messageId }
      : { Kind: 'digest', Items: String(items.length) };
    const end = metrics.notifySendDuration.startTimer({ channel: this.channel });
    const attempt = job.attempt + 1;
    try {
      const { providerId } = await inSpan(`send ${this.channel}`, {
        kind: SpanKind.CLIENT, parent: job.trace,
        attributes: { 'chorus.provider': provider.name, 'chorus.notification_id': deliveryKey(job), 'chorus.attempt': attempt, 'chorus.tenant_id': tenantId },
      }, () => provider.send({
        tenantId, idempotencyKey, to, subject: content.subject, text: content.text, notificationId: deliveryKey(job), data,
        traceparent: activeTraceparent(),
      }));
      end({ outcome: 'ok' });
      await recordOutcome(redis, tenantId, job, { kind: 'sent', providerId, at: Date.now() });
      await breaker.success();
      metrics.notifyDispatchLatency.observe({ channel: this.channel, priority: priorityOf(job) }, (Date.now() - job.enqueuedAt) / 1000);
      metrics.notifyDecisions.inc({ channel: this.channel, reason: sentReason(job), tenant: tenantLabels.label(tenantId, keys.length) }, keys.length);
      for (const k of keys) {
        updates.push({ ...k, status: 'sent', reason: sentReason(job), attempts: attempt, provider_message_id: providerId, ...(job.kind === 'digest' ? { digest_id: job.digestId } : {}) });
      }
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      end({ outcome: err.transient ? 'transient' : 'permanent' });
      if (err.transient) await breaker.failure();
      const fields = { channel: this.channel, delivery: deliveryKey(job), user_id: job.userId, attempt, code: err.code, err: err.message };
      if (!err.transient || attempt >= config.notify.retry.maxAttempts) {
        const detail = {
          code: err.transient ? 'max_attempts' : 'permanent_failure', channel: this.channel, provider: provider.name,
          attempts: attempt, lastError: err.message, errorCode: err.code ?? null, deliveryKey: deliveryKey(job), userId: job.userId,
        };
        await deadLetter(redis, tenantId, this.group, e, { error: err.message, deliveries: attempt, consumer: CONSUMER, detail }, this.stream);
        await recordOutcome(redis, tenantId, job, { kind: 'dead', providerId: '', at: Date.now() });
        metrics.deadLettered.inc({ queue: this.group, tenant: tenantLabels.label(tenantId) });
        metrics.notifyDecisions.inc({ channel: this.channel, reason: 'failed', tenant: tenantLabels.label(tenantId, keys.length) }, keys.length);
        log.error(fields, 'notification dead-lettered');
        for (const k of keys) updates.push({ ...k, status: 'failed', reason: 'failed', attempts: attempt, last_error: err.message });
        return;
      }
      const delay = backoffDelay(attempt, config.notify.retry);
      await scheduleJob(redis, tenantId, { ...job, attempt }, Date.now() + delay);
      metrics.notifyRetries.inc({ channel: this.channel, cause: 'failure' });
      log.warn({ ...fields, retry_in_ms: delay }, 'notification delivery failed; retrying');
      for (const k of keys) updates.push({ ...k, status: 'retrying', reason: 'retrying', attempts: attempt, last_error: err.message });
    }
  }
}
