// The projector (group `projector`): persist, counters, inbox and receipts as one consumer group and
// one Postgres transaction per tenant batch. The four read models are derived from the same entries;
// as four groups each entry was read, decoded and acked four times and each batch paid four
// BEGIN/set_config/COMMIT, the largest share of Postgres's statements (benchmarks/RESULTS.md, cost).
// The reducers and their SQL are the groups' own (persist.ts, counters.ts, inbox.ts, receipts.ts):
// the four groups stay registered and give the same rows, so a deployment may run either shape.
// Idempotent and order-tolerant as each part is; inbox.updated is appended after the commit
// (at-least-once: a redelivered batch appends absolute values again, which clients converge on).
import { withTenant } from '../core/db.js';
import { timed } from '../core/metrics.js';
import { inDbSpan } from '../core/tracing/db-span.js';
import type { ProcessorDefinition } from './definition.js';
import { threadsOf } from './counters-reducer.js';
import { COUNTERS_TABLES, applyCounters, publishInboxUpdates, readNotifications } from './counters-store.js';
import { startBackgroundReconciler } from './counters.js';
import { INBOX_TABLES, applyInbox } from './inbox.js';
import { inboxThreadsOf } from './inbox-reducer.js';
import { applyPersist } from './persist.js';
import { reducePersist } from './persist-reducer.js';
import { foldFacts } from './read-model-facts.js';
import { PROJECTOR_GROUP, lockReadModels } from './read-model-sql.js';
import { applyReceipts } from './receipts.js';
import type { Reconciler } from './reconcile.js';

export function projectorProcessor(opts: { reconcile?: boolean } = {}): ProcessorDefinition {
  let reconciler: Reconciler | null = null;
  return {
    name: PROJECTOR_GROUP,
    // Everything is archived (persist), so every type is handled.
    canHandle: () => true,
    async handle({ tenantId, events, sql, redis, log, config }) {
      if (opts.reconcile && !reconciler) reconciler = startBackgroundReconciler(sql, redis, log.child({ tenant_id: undefined }), config.readModels);
      // Both folds validate the whole batch before the transaction starts: a poison entry costs no round trip.
      const ops = reducePersist(events);
      const facts = foldFacts(events);
      const notes = await timed('projector_batch', () => inDbSpan('projector_batch', tenantId, () => withTenant(sql, tenantId, async (tx) => {
        // Locks first, in the one global order, so no statement below waits while holding row locks.
        // Each stage timed by name (chorus_db_query_duration_seconds): the lock stage shows lock waits.
        await timed('projector_locks', () => lockReadModels(tx, tenantId, { counters: threadsOf(facts), inbox: inboxThreadsOf(facts) }));
        await applyPersist(tx, tenantId, ops);
        const notify = await timed('projector_counters', () => applyCounters(tx, COUNTERS_TABLES, tenantId, facts));
        await timed('projector_inbox', () => applyInbox(tx, INBOX_TABLES, tenantId, facts));
        await applyReceipts(tx, tenantId, facts);
        return timed('projector_notifications_read', () => readNotifications(tx, COUNTERS_TABLES, tenantId, notify));
      })));
      await publishInboxUpdates(redis, tenantId, notes);
    },
  };
}

export const projector = projectorProcessor({ reconcile: true });
