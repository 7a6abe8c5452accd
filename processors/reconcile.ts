// Reconciliation of the unread counters (seed 3.2): every counter row is recomputed from the
// counters group's facts in Postgres and compared with the stored row; a row whose unread count
// is off by more than the threshold, or that is missing, orphaned or has a stale read position or
// activity, is healed under the group's locks and its user told (inbox.updated). Outcomes are
// counted in `counter_reconcile_total{tenant,outcome}`: healed, tolerated (drift within the
// threshold), clean (a tenant pass that found nothing).
// Runs periodically inside the counters processor (one process per tenant and interval, elected
// with a Redis mark) and on demand: `npm run chorus -- reconcile [--tenant T]`.
import { withTenant, type Sql } from '../core/db.js';
import { keys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import { metrics, timed } from '../core/metrics.js';
import { tenantLabels } from '../core/tenant-label.js';
import type { RedisClient } from '../core/redis.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import { isId } from '../core/ids.js';
import { COUNTERS_TABLES, expectedCounters, publishInboxUpdates, readNotifications, syncPairs } from './counters-store.js';
import { lockTenantShared, lockThreads } from './read-model-sql.js';

export interface Drift {
  thread_id: string;
  user_id: string;
  expected: number | null;
  actual: number | null;
  /** Read position or activity differ (always healed). */
  other: boolean;
}

export interface ReconcileResult {
  tenantId: string;
  checked: number;
  healed: number;
  tolerated: number;
  drifts: Drift[];
}

/** Whether a drift is healed: structural differences always, counts only beyond the threshold. */
export function needsHealing(d: Drift, threshold: number): boolean {
  if (d.expected === null || d.actual === null || d.other) return true;
  return Math.abs(d.expected - d.actual) > threshold;
}

export async function reconcileTenant(
  sql: Sql, redis: RedisClient, tenantId: string, opts: { threshold: number; log: Logger },
): Promise<ReconcileResult> {
  const t = COUNTERS_TABLES;
  // One statement: the facts and the counters are compared in one snapshot, in which they agree
  // unless a row really drifted (facts and counters are committed together).
  const { checked, drifts } = await timed('counters_reconcile_scan', () => withTenant(sql, tenantId, async (tx) => {
    const [row] = await tx<{ checked: number; drifts: Drift[] }[]>`
      with e as (${expectedCounters(tx, t, tenantId, null)}),
      c as (select * from ${tx(t.counters)} where tenant_id = ${tenantId}),
      d as (
        select coalesce(e.thread_id, c.thread_id) as thread_id, coalesce(e.user_id, c.user_id) as user_id,
          e.unread_count as expected, c.unread_count as actual,
          (e.thread_id is not null and c.thread_id is not null and
            (e.last_read_message_id, e.last_read_seq_key, e.activity_key)
              is distinct from (c.last_read_message_id, c.last_read_seq_key, c.activity_key)) as other
        from e full join c on c.thread_id = e.thread_id and c.user_id = e.user_id
        where e.thread_id is null or c.thread_id is null
          or (e.unread_count, e.last_read_message_id, e.last_read_seq_key, e.activity_key)
            is distinct from (c.unread_count, c.last_read_message_id, c.last_read_seq_key, c.activity_key)
      )
      select (select count(*)::int from e) as checked, coalesce((select json_agg(d) from d), '[]'::json) as drifts`;
    return { checked: row?.checked ?? 0, drifts: row?.drifts ?? [] };
  }));

  const heal = drifts.filter((d) => needsHealing(d, opts.threshold));
  const tolerated = drifts.length - heal.length;
  if (heal.length) {
    const notify = new Map<string, Set<string>>();
    for (const d of heal) {
      let s = notify.get(d.thread_id);
      if (!s) notify.set(d.thread_id, (s = new Set()));
      s.add(d.user_id);
    }
    const notes = await withTenant(sql, tenantId, async (tx) => {
      await lockTenantShared(tx, 'counters', tenantId);
      await lockThreads(tx, 'counters', tenantId, [...notify.keys()].sort());
      // Recomputed under the locks, so a batch committed since the scan is taken into account.
      await syncPairs(tx, t, tenantId, heal.map((d) => ({ thread_id: d.thread_id, user_id: d.user_id })));
      return readNotifications(tx, t, tenantId, notify);
    });
    await publishInboxUpdates(redis, tenantId, notes);
    metrics.counterReconcile.inc({ tenant: tenantLabels.peek(tenantId), outcome: 'healed' }, heal.length);
    opts.log.warn({ tenant_id: tenantId, healed: heal.length, sample: heal.slice(0, 5) }, 'unread counters drifted; healed');
  }
  if (tolerated) metrics.counterReconcile.inc({ tenant: tenantLabels.peek(tenantId), outcome: 'tolerated' }, tolerated);
  if (!drifts.length) metrics.counterReconcile.inc({ tenant: tenantLabels.peek(tenantId), outcome: 'clean' });
  return { tenantId, checked, healed: heal.length, tolerated, drifts };
}

/** The tenants to reconcile: every registered tenant (core `chorus:tenants`). */
export async function knownTenants(redis: RedisClient): Promise<string[]> {
  return (await redis.smembers(keys.tenants())).filter(isId).sort();
}

export interface Reconciler {
  stop(): Promise<void>;
}

/**
 * Every intervalMs (with jitter), reconciles each tenant that no other process claimed for this
 * interval (SET NX PX on the tenant's reconcile mark).
 */
export function startReconciler(opts: { sql: Sql; redis: RedisClient; log: Logger; intervalMs: number; threshold: number }): Reconciler {
  const { sql, redis, intervalMs, threshold } = opts;
  const log = opts.log.child({ job: 'reconcile' });
  const abort = new AbortController();
  const loop = (async () => {
    let attempt = 0;
    while (!abort.signal.aborted) {
      const wait = attempt ? Math.max(backoffDelay(attempt), 1000) : intervalMs / 2 + Math.random() * (intervalMs / 2);
      await sleep(wait, abort.signal);
      if (abort.signal.aborted) break;
      try {
        for (const tenantId of await knownTenants(redis)) {
          if (abort.signal.aborted) break;
          const won = await redis.set(keys.reconcileMark(tenantId), String(process.pid), 'PX', Math.max(1000, intervalMs - 1000), 'NX');
          if (won !== 'OK') continue;
          const r = await reconcileTenant(sql, redis, tenantId, { threshold, log });
          log.info({ tenant_id: tenantId, checked: r.checked, healed: r.healed, tolerated: r.tolerated }, 'counters reconciled');
        }
        attempt = 0;
      } catch (err) {
        attempt++;
        log.warn({ err, attempt }, 'counter reconciliation failed; backing off');
      }
    }
  })();
  const timerFree = loop.catch((err) => log.error({ err }, 'reconciler stopped on an error'));
  return {
    async stop() {
      abort.abort();
      await timerFree;
    },
  };
}
