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

/** The group that keeps every read model live in one transaction per batch (processors/projector.ts). */
export const PROJECTOR_GROUP = 'projector';

/** The consumer groups that may keep a model's live tables: the projector, or the model's own group. */
export function liveGroupsOf(model: LockedGroup): string[] {
  return [PROJECTOR_GROUP, model];
}

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

/**
 * Upserts message facts into a group's own facts table (counters and inbox each keep one): content
 * wins by body_key (the seq of the create or edit), a deletion is final.
 */
export async function upsertMessageFacts(tx: Tx, table: string, tenantId: string, rows: unknown[]): Promise<void> {
  if (!rows.length) return;
  await tx`
    insert into ${tx(table)} as m (tenant_id, message_id, thread_id, seq_key, sender_id, created_at, preview, attachment_flag, body_key, deleted)
    select ${tenantId}, r.message_id, r.thread_id, r.seq_key, r.sender_id, r.created_at, r.preview, r.attachment_flag, r.body_key, r.deleted
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb) as r(message_id text, thread_id text, seq_key text, sender_id text,
      created_at timestamptz, preview text, attachment_flag boolean, body_key text, deleted boolean)
    on conflict (tenant_id, message_id) do update set
      preview = case when excluded.body_key > m.body_key then excluded.preview else m.preview end,
      attachment_flag = case when excluded.body_key > m.body_key then excluded.attachment_flag else m.attachment_flag end,
      body_key = greatest(m.body_key, excluded.body_key),
      deleted = m.deleted or excluded.deleted`;
}

/**
 * The projector's locks for one batch in two statements: both read models' tenant locks shared,
 * then every thread lock of both, in key order (the same global order the single-model groups use).
 */
export async function lockReadModels(tx: Tx, tenantId: string, threads: Record<LockedGroup, string[]>): Promise<void> {
  await tx`select pg_advisory_xact_lock_shared(hashtextextended(${`counters:${tenantId}`}, 0)),
    pg_advisory_xact_lock_shared(hashtextextended(${`inbox:${tenantId}`}, 0))`;
  const names = [
    ...threads.counters.map((th) => `counters:${tenantId}:${th}`),
    ...threads.inbox.map((th) => `inbox:${tenantId}:${th}`),
  ];
  if (!names.length) return;
  await tx`
    select pg_advisory_xact_lock(k.key)
    from (select distinct hashtextextended(n, 0) as key from jsonb_array_elements_text(${asJson(tx, names)}::jsonb) as n order by 1 offset 0) as k`;
}
