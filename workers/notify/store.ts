// Postgres side of the pipeline: the decision log and delivery status (notification_deliveries), the
// in-app feed rows (notifications), and the read positions the already-read check compares with
// (read_receipts, written by the receipts read model). Multi-row statements take their rows as one
// jsonb parameter, like the persist processor, so they stay prepared whatever the batch size.
import { withTenant, type Sql, type Tx } from '../../core/db.js';
import { timed } from '../../core/metrics.js';
import type { Channel } from './channels.js';

export type DeliveryStatus =
  | 'queued' | 'digest_pending' | 'retrying' | 'sent' | 'delivered' | 'opened' | 'bounced' | 'failed' | 'suppressed' | 'cancelled';

export interface DeliveryKey {
  message_id: string;
  user_id: string;
  channel: Channel;
}

export interface IntentRow extends DeliveryKey {
  notification_id: string;
  thread_id: string;
  urgent: boolean;
  status: DeliveryStatus;
  reason: string;
  /** On the in-app row: the other channels that did not notify at intent time, and why (they get no row). */
  skipped: Partial<Record<Channel, string>> | null;
}

export interface DeliveryUpdate extends DeliveryKey {
  status: DeliveryStatus;
  reason: string;
  attempts?: number;
  provider_message_id?: string | null;
  digest_id?: string | null;
  last_error?: string | null;
}

export interface DeliveryRow extends DeliveryKey {
  status: DeliveryStatus;
  urgent: boolean;
}

function asJson(tx: Tx, rows: object[]) {
  return tx.json(rows as unknown as Parameters<Tx['json']>[0]);
}

/** Fixed order of rows, so concurrent statements lock in one global order. */
function sorted<T extends DeliveryKey>(rows: T[]): T[] {
  const k = (r: DeliveryKey) => `${r.message_id}\n${r.user_id}\n${r.channel}`;
  return [...rows].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export function deliveryKeyOf(r: DeliveryKey): string {
  return `${r.message_id}\n${r.user_id}\n${r.channel}`;
}

/**
 * Records the decisions of new intents and returns every row as it now stands. A row that exists is
 * kept, except that an urgent intent (an edit added a mention) upgrades a non-urgent row still
 * waiting for its digest or suppressed for it.
 */
export async function upsertIntents(sql: Sql, tenantId: string, rows: IntentRow[]): Promise<DeliveryRow[]> {
  if (!rows.length) return [];
  return timed('notify_intents_upsert', () => withTenant(sql, tenantId, (tx) => tx<DeliveryRow[]>`
    insert into notification_deliveries as d (tenant_id, message_id, user_id, channel, notification_id, thread_id, urgent, status, reason, skipped)
    select ${tenantId}, r.message_id, r.user_id, r.channel, r.notification_id, r.thread_id, r.urgent, r.status, r.reason, r.skipped
    from jsonb_to_recordset(${asJson(tx, sorted(rows))}::jsonb)
      as r(message_id text, user_id text, channel text, notification_id text, thread_id text, urgent boolean, status text, reason text,
        skipped jsonb)
    on conflict (tenant_id, message_id, user_id, channel) do update set
      urgent = d.urgent or excluded.urgent,
      -- A channel that has a row of its own (e.g. an edit's mention made it notify) is read from its row first.
      skipped = case when excluded.skipped is null then d.skipped else coalesce(d.skipped, '{}'::jsonb) || excluded.skipped end,
      status = case when excluded.urgent and not d.urgent and d.status in ('digest_pending', 'suppressed') then excluded.status else d.status end,
      reason = case when excluded.urgent and not d.urgent and d.status in ('digest_pending', 'suppressed') then excluded.reason else d.reason end,
      updated_at = case when excluded.urgent and not d.urgent then now() else d.updated_at end
    returning message_id, user_id, channel, status, urgent`));
}

/** The current rows of the given deliveries (missing ones are absent from the map). */
export async function deliveryRows(sql: Sql, tenantId: string, keys: DeliveryKey[]): Promise<Map<string, DeliveryRow>> {
  const out = new Map<string, DeliveryRow>();
  if (!keys.length) return out;
  const rows = await timed('notify_deliveries_read', () => withTenant(sql, tenantId, (tx) => tx<DeliveryRow[]>`
    select d.message_id, d.user_id, d.channel, d.status, d.urgent
    from jsonb_to_recordset(${asJson(tx, keys)}::jsonb) as k(message_id text, user_id text, channel text)
    join notification_deliveries d
      on d.tenant_id = ${tenantId} and d.message_id = k.message_id and d.user_id = k.user_id and d.channel = k.channel`));
  for (const r of rows) out.set(deliveryKeyOf(r), r);
  return out;
}

/** Applies delivery outcomes, forward only (notify_status_rank); returns how many rows changed. */
export async function recordDeliveries(sql: Sql, tenantId: string, updates: DeliveryUpdate[]): Promise<number> {
  if (!updates.length) return 0;
  // One row per key (the last update wins): an UPDATE … FROM applies only one of several matches.
  const latest = new Map(updates.map((u) => [deliveryKeyOf(u), u]));
  const rows = sorted([...latest.values()]).map((u) => ({
    ...u, attempts: u.attempts ?? null, provider_message_id: u.provider_message_id ?? null, digest_id: u.digest_id ?? null,
    last_error: u.last_error?.slice(0, 1000) ?? null,
  }));
  const res = await timed('notify_deliveries_update', () => withTenant(sql, tenantId, (tx) => tx`
    update notification_deliveries d set
      status = u.status, reason = u.reason,
      attempts = greatest(d.attempts, coalesce(u.attempts, d.attempts)),
      provider_message_id = coalesce(u.provider_message_id, d.provider_message_id),
      digest_id = coalesce(u.digest_id, d.digest_id),
      last_error = coalesce(u.last_error, d.last_error),
      updated_at = now()
    from jsonb_to_recordset(${asJson(tx, rows)}::jsonb)
      as u(message_id text, user_id text, channel text, status text, reason text, attempts int, provider_message_id text,
        digest_id text, last_error text)
    where d.tenant_id = ${tenantId} and d.message_id = u.message_id and d.user_id = u.user_id and d.channel = u.channel
      and notify_status_rank(u.status) >= notify_status_rank(d.status)
      and (d.status, d.reason, d.attempts) is distinct from (u.status, u.reason, greatest(d.attempts, coalesce(u.attempts, d.attempts)))`));
  return res.count;
}

/** message.deleted: every delivery of the message not yet made is cancelled. */
export async function cancelPending(sql: Sql, tenantId: string, messageIds: string[]): Promise<number> {
  if (!messageIds.length) return 0;
  const res = await timed('notify_cancel', () => withTenant(sql, tenantId, (tx) => tx`
    update notification_deliveries set status = 'cancelled', reason = 'message_deleted', updated_at = now()
    where tenant_id = ${tenantId} and message_id = any(${[...new Set(messageIds)].sort()})
      and status in ('queued', 'digest_pending', 'retrying')`));
  return res.count;
}

export interface InAppRow {
  id: string;
  user_id: string;
  message_id: string;
  thread_id: string;
  sender_id: string;
  kind: 'mention' | 'direct' | 'message';
  title: string | null;
  preview: string;
  created_at: string;
}

/** Feed rows of delivered in-app notifications (idempotent: the id is derived from message and recipient). */
export async function insertInApp(sql: Sql, tenantId: string, rows: InAppRow[]): Promise<void> {
  if (!rows.length) return;
  const ordered = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await timed('notify_in_app_insert', () => withTenant(sql, tenantId, (tx) => tx`
    insert into notifications (tenant_id, id, user_id, message_id, thread_id, sender_id, kind, title, preview, created_at)
    select ${tenantId}, r.id, r.user_id, r.message_id, r.thread_id, r.sender_id, r.kind, r.title, r.preview, r.created_at
    from jsonb_to_recordset(${asJson(tx, ordered)}::jsonb)
      as r(id text, user_id text, message_id text, thread_id text, sender_id text, kind text, title text, preview text, created_at timestamptz)
    on conflict (tenant_id, id) do nothing`));
}

/** Read positions (read_receipts.last_read_seq_key) of (user, thread) pairs, keyed `user\nthread`. */
export async function readPositions(sql: Sql, tenantId: string, pairs: { user_id: string; thread_id: string }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!pairs.length) return out;
  const rows = await timed('notify_read_positions', () => withTenant(sql, tenantId, (tx) => tx<{ user_id: string; thread_id: string; k: string }[]>`
    select r.user_id, r.thread_id, r.last_read_seq_key as k
    from jsonb_to_recordset(${asJson(tx, pairs)}::jsonb) as p(user_id text, thread_id text)
    join read_receipts r on r.tenant_id = ${tenantId} and r.user_id = p.user_id and r.thread_id = p.thread_id`));
  for (const r of rows) out.set(`${r.user_id}\n${r.thread_id}`, r.k);
  return out;
}

/** Messages of the list that Postgres knows as deleted (for messages whose Redis metadata expired). */
export async function deletedMessages(sql: Sql, tenantId: string, messageIds: string[]): Promise<Set<string>> {
  if (!messageIds.length) return new Set();
  const rows = await timed('notify_deleted_lookup', () => withTenant(sql, tenantId, (tx) => tx<{ id: string }[]>`
    select id from messages where tenant_id = ${tenantId} and id = any(${messageIds}) and deleted_at is not null`));
  return new Set(rows.map((r) => r.id));
}
