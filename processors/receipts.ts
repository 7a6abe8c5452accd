// The read receipts processor (group `receipts`): read_receipts, a user's read position per thread.
// Last-writer-wins by the read message's seq (not by arrival): a late, older receipt never moves a
// position backwards, so redelivery and reordering leave the same rows.
import { withTenant, type Tx } from '../core/db.js';
import { EVENT } from '../core/events/index.js';
import { timed } from '../core/metrics.js';
import type { ProcessorDefinition } from './definition.js';
import { foldFacts, type FactBatch } from './read-model-facts.js';
import { asJson } from './read-model-sql.js';

/** Upserts the batch's furthest read positions in `tx` (the receipts group's transaction, or the projector's). */
export async function applyReceipts(tx: Tx, tenantId: string, batch: FactBatch): Promise<void> {
  // Folded to the furthest position per (user, thread): one row per key and statement.
  const rows = [...batch.reads.values()].sort((a, b) =>
    a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : a.thread_id < b.thread_id ? -1 : a.thread_id > b.thread_id ? 1 : 0);
  if (!rows.length) return;
  await timed('receipts_upsert', () => tx`
    insert into read_receipts as r (tenant_id, user_id, thread_id, last_read_message_id, last_read_seq_key)
    select ${tenantId}, x.user_id, x.thread_id, x.last_read_message_id, x.read_seq_key
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as x(user_id text, thread_id text, last_read_message_id text, read_seq_key text)
    on conflict (tenant_id, user_id, thread_id) do update
      set last_read_message_id = excluded.last_read_message_id, last_read_seq_key = excluded.last_read_seq_key, updated_at = now()
      where excluded.last_read_seq_key > r.last_read_seq_key`);
}

export const receipts: ProcessorDefinition = {
  name: 'receipts',
  canHandle: (type) => type === EVENT.readReceiptUpdated,
  async handle({ tenantId, events, sql }) {
    const batch = foldFacts(events);
    if (!batch.reads.size) return;
    await withTenant(sql, tenantId, (tx) => applyReceipts(tx, tenantId, batch));
  },
};
