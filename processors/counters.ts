// The unread counters processor (group `counters`): thread_user_counters, one row per current
// participant, maintained from message.created/updated/deleted, read_receipt.updated, thread.created
// and participant.added/removed. It keeps its own facts (counters-store.ts) and depends on no other
// group. Exact under redelivery and reordering: a counter moves only when a stored fact changes, in
// the same transaction as the fact (counters-reducer.ts), and batches of one thread are serialized
// by advisory locks (read-model-sql.ts). After each batch it appends one `inbox.updated` per
// affected thread, routed to the affected users (personalized per recipient by the gateway).
import { withTenant, type Sql } from '../core/db.js';
import { EVENT, type DecodedEvent } from '../core/events/index.js';
import type { Logger } from '../core/logger.js';
import { timed } from '../core/metrics.js';
import type { RedisClient } from '../core/redis.js';
import type { Config } from '../config/index.js';
import type { ProcessorDefinition } from './definition.js';
import { threadsOf } from './counters-reducer.js';
import { COUNTERS_TABLES, applyCounters, publishInboxUpdates, readNotifications } from './counters-store.js';
import { lockTenantShared, lockThreads } from './read-model-sql.js';
import { MEMBERSHIP_EVENTS, MESSAGE_EVENTS, foldFacts } from './read-model-facts.js';
import { startReconciler, type Reconciler } from './reconcile.js';
import { outsideTraces } from '../core/tracing/index.js';

const HANDLED: ReadonlySet<string> = new Set([...MESSAGE_EVENTS, ...MEMBERSHIP_EVENTS, EVENT.readReceiptUpdated]);

/** One live batch: tenant lock shared, thread locks, apply, read what to publish; publish after commit. */
export async function handleCounters(sql: Sql, redis: RedisClient, tenantId: string, events: DecodedEvent[]): Promise<void> {
  const batch = foldFacts(events);
  const notes = await timed('counters_batch', () => withTenant(sql, tenantId, async (tx) => {
    await lockTenantShared(tx, 'counters', tenantId);
    await lockThreads(tx, 'counters', tenantId, threadsOf(batch));
    const notify = await applyCounters(tx, COUNTERS_TABLES, tenantId, batch);
    return readNotifications(tx, COUNTERS_TABLES, tenantId, notify);
  }));
  // Published after the commit; a crash in between redelivers the batch, which changes no counter
  // but publishes again (at-least-once, and every inbox.updated carries absolute values).
  await publishInboxUpdates(redis, tenantId, notes);
}

/**
 * The counters definition. With `reconcile`, the first batch also starts this process's periodic
 * reconciliation (processors/reconcile.ts): the definition is all the role knows of a group.
 */
export function countersProcessor(opts: { reconcile?: boolean } = {}): ProcessorDefinition {
  let reconciler: Reconciler | null = null;
  return {
    name: 'counters',
    // inbox.updated is this group's own output: handling it would loop.
    canHandle: (type) => HANDLED.has(type),
    async handle({ tenantId, events, sql, redis, log, config }) {
      // The tenant binding of this batch's logger is dropped: the reconciler serves every tenant.
      if (opts.reconcile && !reconciler) reconciler = startBackgroundReconciler(sql, redis, log.child({ tenant_id: undefined }), config.readModels);
      await handleCounters(sql, redis, tenantId, events);
    },
  };
}

/** The periodic counter reconciliation of a process, started by the first batch of its counters or projector group. */
export function startBackgroundReconciler(sql: Sql, redis: RedisClient, log: Logger, options: Config['readModels']): Reconciler {
  const { reconcileIntervalMs, reconcileThreshold } = options;
  // Started from inside the first batch's span: its rounds must not belong to that trace.
  return outsideTraces(() => startReconciler({ sql, redis, log, intervalMs: reconcileIntervalMs, threshold: reconcileThreshold }));
}

export const counters = countersProcessor({ reconcile: true });
