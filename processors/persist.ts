// The persist processor: every stream event into Postgres, one transaction per tenant batch.
// Rows are folded by persist-reducer.ts and written with one multi-row statement per table, each
// taking its rows as a single jsonb parameter (a fixed, prepared statement whatever the batch size).
// Idempotent and order-tolerant: threads and memberships are last-writer-wins by seq_key, message
// content by body_seq_key, and the earliest deletion sticks over any edit.
import { withTenant, type Tx } from '../core/db.js';
import { timed } from '../core/metrics.js';
import type { ProcessorDefinition } from './definition.js';
import { reducePersist, type ArchiveRow, type MessageRow, type ParticipantRow, type PersistOps, type ThreadRow } from './persist-reducer.js';

/** All rows of a statement as one jsonb parameter (postgres.js serializes it). */
function asJson(tx: Tx, rows: object[]) {
  return tx.json(rows as unknown as Parameters<Tx['json']>[0]);
}

function archive(tx: Tx, tenantId: string, rows: ArchiveRow[]) {
  return tx`
    insert into event_archive (tenant_id, seq_key, seq, type, v, thread_id, users, actor, data)
    select ${tenantId}, r.seq_key, r.seq, r.type, r.v, r.thread_id, r.users, r.actor, r.data
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as r(seq_key text, seq text, type text, v int, thread_id text, users text[], actor text, data jsonb)
    on conflict (tenant_id, seq_key) do nothing`;
}

function upsertThreads(tx: Tx, tenantId: string, rows: ThreadRow[]) {
  return tx`
    insert into threads as t (tenant_id, id, title, created_by, created_at, seq_key)
    select ${tenantId}, r.id, r.title, r.created_by, r.created_at, r.seq_key
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as r(id text, title text, created_by text, created_at timestamptz, seq_key text)
    on conflict (tenant_id, id) do update
      set title = excluded.title, created_by = excluded.created_by, created_at = excluded.created_at,
          seq_key = excluded.seq_key
      where excluded.seq_key > t.seq_key`;
}

// A removal is a tombstone row (removed_at set), so an older add delivered later cannot resurrect
// the membership and a newer re-add simply overwrites it.
function upsertParticipants(tx: Tx, tenantId: string, rows: ParticipantRow[]) {
  return tx`
    insert into thread_participants as p (tenant_id, thread_id, user_id, joined_at, removed_at, seq_key)
    select ${tenantId}, r.thread_id, r.user_id, r.joined_at, r.removed_at, r.seq_key
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as r(thread_id text, user_id text, joined_at timestamptz, removed_at timestamptz, seq_key text)
    on conflict (tenant_id, thread_id, user_id) do update
      set joined_at = excluded.joined_at, removed_at = excluded.removed_at, seq_key = excluded.seq_key
      where excluded.seq_key > p.seq_key`;
}

// Mirrors mergeMessage() of persist-reducer.ts. A row whose clientMessageId already belongs to
// another message of the sender is skipped rather than failing the batch on messages_client_id.
function upsertMessages(tx: Tx, tenantId: string, rows: MessageRow[]) {
  return tx`
    insert into messages as m (tenant_id, id, thread_id, sender_id, body, client_message_id, mentions,
      attachment_ids, created_at, seq, body_seq_key, edited_at, deleted_at, deleted_by, deleted_seq_key)
    select ${tenantId}, r.id, r.thread_id, r.sender_id, r.body, r.client_message_id, r.mentions,
      r.attachment_ids, r.created_at, r.seq, r.body_seq_key, r.edited_at, r.deleted_at, r.deleted_by, r.deleted_seq_key
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as r(id text, thread_id text, sender_id text, body text, client_message_id text, mentions text[],
        attachment_ids text[], created_at timestamptz, seq text, body_seq_key text, edited_at timestamptz,
        deleted_at timestamptz, deleted_by text, deleted_seq_key text)
    where r.client_message_id is null or not exists (
      select 1 from messages o
      where o.tenant_id = ${tenantId} and o.sender_id = r.sender_id
        and o.client_message_id = r.client_message_id and o.id <> r.id)
    on conflict (tenant_id, id) do update set
      body = case when excluded.body_seq_key > m.body_seq_key then excluded.body else m.body end,
      mentions = case when excluded.body_seq_key > m.body_seq_key then excluded.mentions else m.mentions end,
      attachment_ids = case when excluded.body_seq_key > m.body_seq_key then excluded.attachment_ids else m.attachment_ids end,
      edited_at = case when excluded.body_seq_key > m.body_seq_key then excluded.edited_at else m.edited_at end,
      body_seq_key = greatest(m.body_seq_key, excluded.body_seq_key),
      client_message_id = coalesce(m.client_message_id, excluded.client_message_id),
      deleted_at = case when excluded.deleted_seq_key < m.deleted_seq_key or m.deleted_seq_key is null
        then coalesce(excluded.deleted_at, m.deleted_at) else m.deleted_at end,
      deleted_by = case when excluded.deleted_seq_key < m.deleted_seq_key or m.deleted_seq_key is null
        then coalesce(excluded.deleted_by, m.deleted_by) else m.deleted_by end,
      deleted_seq_key = least(m.deleted_seq_key, excluded.deleted_seq_key)
    where excluded.body_seq_key > m.body_seq_key
      or (excluded.deleted_seq_key is not null and (m.deleted_seq_key is null or excluded.deleted_seq_key < m.deleted_seq_key))
      or (m.client_message_id is null and excluded.client_message_id is not null)`;
}

/** Writes a batch's rows in `tx`: the persist group's own transaction, or a part of the projector's. */
export async function applyPersist(tx: Tx, tenantId: string, ops: PersistOps): Promise<void> {
  // Fixed table order plus key-sorted rows: concurrent batches lock rows in one global order.
  if (ops.archive.length) await timed('persist_archive', () => archive(tx, tenantId, ops.archive));
  if (ops.threads.length) await timed('persist_threads', () => upsertThreads(tx, tenantId, ops.threads));
  if (ops.participants.length) await timed('persist_participants', () => upsertParticipants(tx, tenantId, ops.participants));
  if (ops.messages.length) await timed('persist_messages', () => upsertMessages(tx, tenantId, ops.messages));
}

export const persist: ProcessorDefinition = {
  name: 'persist',
  // Everything is archived, so every type is handled (projection rebuilds read the archive).
  canHandle: () => true,
  async handle({ tenantId, events, sql }) {
    const ops = reducePersist(events);
    await withTenant(sql, tenantId, (tx) => applyPersist(tx, tenantId, ops));
  },
};
