// The inbox projection (group `inbox`): thread_inbox_projection, one row per thread with its title,
// creation and last live message (id, time, sender, preview ≤ 200 characters, attachment flag).
// It keeps its own message facts (inbox_messages), so an edit of the last message updates the
// preview and a deletion of it falls back to the previous live message, without depending on the
// persist group. Batches of one thread are serialized by advisory locks; rows are recomputed from
// the facts, so redelivery and reordering change nothing.
import { withTenant, type Tx } from '../core/db.js';
import { EVENT } from '../core/events/index.js';
import { timed } from '../core/metrics.js';
import type { ProcessorDefinition } from './definition.js';
import { inboxThreadsOf, planInbox } from './inbox-reducer.js';
import { asJson, lockTenantShared, lockThreads, upsertMessageFacts } from './read-model-sql.js';
import { MESSAGE_EVENTS, foldFacts, type FactBatch, type MessageFact } from './read-model-facts.js';

export interface InboxTables {
  messages: string;
  projection: string;
}

export const INBOX_TABLES: InboxTables = { messages: 'inbox_messages', projection: 'thread_inbox_projection' };
export const INBOX_REBUILD_TABLES: InboxTables = { messages: 'inbox_messages_rebuild', projection: 'thread_inbox_projection_rebuild' };

const HANDLED: ReadonlySet<string> = new Set([...MESSAGE_EVENTS, EVENT.threadCreated]);

/** The stored facts of the batch's messages (exported for the EXPLAIN test). */
export async function loadInboxFacts(tx: Tx, t: InboxTables, tenantId: string, batch: FactBatch): Promise<Map<string, MessageFact>> {
  const stored = new Map<string, MessageFact>();
  if (!batch.messages.size) return stored;
  const rows = await tx<(Omit<MessageFact, 'created_at'> & { created_at: Date })[]>`
    select message_id, thread_id, seq_key, sender_id, created_at, preview, attachment_flag, body_key, deleted
    from ${tx(t.messages)}
    where tenant_id = ${tenantId} and message_id = any(${[...batch.messages.keys()]}::text[])`;
  for (const r of rows) stored.set(r.message_id, { ...r, created_at: r.created_at.toISOString() });
  return stored;
}

/** Recomputes the last live message of each thread into its projection row (created if missing). */
export async function syncProjection(tx: Tx, t: InboxTables, tenantId: string, threads: string[] | null): Promise<void> {
  if (threads !== null && !threads.length) return;
  const scope = threads === null
    ? tx`(select distinct thread_id from ${tx(t.messages)} where tenant_id = ${tenantId}
          union select thread_id from ${tx(t.projection)} where tenant_id = ${tenantId})`
    : tx`(select jsonb_array_elements_text(${asJson(tx, threads)}::jsonb))`;
  await tx`
    insert into ${tx(t.projection)} as p (tenant_id, thread_id, last_message_id, last_message_at, last_sender_id,
      last_preview_text, attachment_flag, last_seq_key)
    select ${tenantId}, x.thread_id, l.message_id, l.created_at, l.sender_id, l.preview, coalesce(l.attachment_flag, false), l.seq_key
    from ${scope} as x(thread_id)
    left join lateral (
      select f.message_id, f.created_at, f.sender_id, f.preview, f.attachment_flag, f.seq_key from ${tx(t.messages)} f
      where f.tenant_id = ${tenantId} and f.thread_id = x.thread_id and not f.deleted
      order by f.seq_key desc limit 1) as l on true
    on conflict (tenant_id, thread_id) do update set
      last_message_id = excluded.last_message_id, last_message_at = excluded.last_message_at,
      last_sender_id = excluded.last_sender_id, last_preview_text = excluded.last_preview_text,
      attachment_flag = excluded.attachment_flag, last_seq_key = excluded.last_seq_key, updated_at = now()
    where (p.last_message_id, p.last_preview_text, p.attachment_flag, p.last_seq_key)
      is distinct from (excluded.last_message_id, excluded.last_preview_text, excluded.attachment_flag, excluded.last_seq_key)`;
}

/** Applies a batch to the inbox state in `tx` (locks are the caller's). */
export async function applyInbox(tx: Tx, t: InboxTables, tenantId: string, batch: FactBatch): Promise<void> {
  const plan = planInbox(batch, await loadInboxFacts(tx, t, tenantId, batch));
  await upsertMessageFacts(tx, t.messages, tenantId, plan.messages);
  if (plan.threads.length) {
    // The earliest thread.created of a thread wins (there is one; a replayed copy changes nothing).
    await tx`
      insert into ${tx(t.projection)} as p (tenant_id, thread_id, title, created_at, created_key)
      select ${tenantId}, r.thread_id, r.title, r.created_at, r.created_key
      from jsonb_to_recordset(${asJson(tx, plan.threads)}::jsonb) as r(thread_id text, title text, created_at timestamptz, created_key text)
      on conflict (tenant_id, thread_id) do update set
        title = excluded.title, created_at = excluded.created_at, created_key = excluded.created_key, updated_at = now()
      where p.created_key is null or excluded.created_key < p.created_key`;
  }
  await syncProjection(tx, t, tenantId, plan.recompute);
}

export const inbox: ProcessorDefinition = {
  name: 'inbox',
  canHandle: (type) => HANDLED.has(type),
  async handle({ tenantId, events, sql }) {
    const batch = foldFacts(events);
    await timed('inbox_batch', () => withTenant(sql, tenantId, async (tx) => {
      await lockTenantShared(tx, 'inbox', tenantId);
      await lockThreads(tx, 'inbox', tenantId, inboxThreadsOf(batch));
      await applyInbox(tx, INBOX_TABLES, tenantId, batch);
    }));
  },
};
