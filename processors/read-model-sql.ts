// SQL helpers of the read-model groups: jsonb parameters, and transaction-scoped advisory locks.
//
// Locks. A group's batch takes its tenant lock
// shared, then one exclusive lock per thread it touches (sorted, so two batches never deadlock):
// batches of different threads run in parallel, batches of one thread one after the other, so a
// batch always reads the facts the previous one committed. Rebuild takes the tenant lock exclusive
// to pause the group's live writes of that tenant while it swaps tables. Keys are 64-bit hashes of
// "<group>:<tenant>[:<thread>]"; a collision only makes two unrelated batches wait for each other.
import type { Tx } from '../core/db.js';

/** A list of rows or ids as one jsonb parameter (postgres.js serializes it): one prepared statement whatever its length. */
export function asJson(tx: Tx, value: unknown) {
  return tx.json(value as Parameters<Tx['json']>[0]);
}

export type LockedGroup = 'counters' | 'inbox';

export async function lockTenantShared(tx: Tx, group: LockedGroup, tenantId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock_shared(hashtextextended(${`${group}:${tenantId}`}, 0))`;
}

export async function lockTenantExclusive(tx: Tx, group: LockedGroup, tenantId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${`${group}:${tenantId}`}, 0))`;
}

/** Locks the threads in the order of their keys (the subquery's order is kept by the outer scan). */
export async function lockThreads(tx: Tx, group: LockedGroup, tenantId: string, threadIds: string[]): Promise<void> {
  if (!threadIds.length) return;
  const names = asJson(tx, threadIds.map((th) => `${group}:${tenantId}:${th}`));
  await tx`
    select pg_advisory_xact_lock(k.key)
    from (select distinct hashtextextended(n, 0) as key from jsonb_array_elements_text(${names}::jsonb) as n order by 1 offset 0) as k`;
}
