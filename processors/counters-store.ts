// The state of the unread counters group, in SQL: its facts (counters_* tables) and the counter
// rows derived from them (thread_user_counters), for the live tables or the rebuild twins. Used by
// the live processor (counters.ts), reconciliation (reconcile.ts) and rebuild (rebuild.ts).
import type { Tx } from '../core/db.js';
import { EVENT } from '../core/events/index.js';
import { keys } from '../core/keys.js';
import { countAppend } from '../core/metrics.js';
import type { RedisClient } from '../core/redis.js';
import { appendEvent } from '../core/stream-commands.js';
import { planCounters, type CounterDelta } from './counters-reducer.js';
import { asJson, upsertMessageFacts } from './read-model-sql.js';
import {
  emptyFacts, pairKey,
  type FactBatch, type MemberFact, type MessageFact, type ReadFact, type ThreadFact,
} from './read-model-facts.js';

/** The tables of the counters state: the live ones, or the rebuild twins. */
export interface CountersTables {
  messages: string;
  members: string;
  reads: string;
  threads: string;
  counters: string;
}

export const COUNTERS_TABLES: CountersTables = {
  messages: 'counters_messages', members: 'counters_members', reads: 'counters_reads',
  threads: 'counters_threads', counters: 'thread_user_counters',
};

export const COUNTERS_REBUILD_TABLES: CountersTables = {
  messages: 'counters_messages_rebuild', members: 'counters_members_rebuild', reads: 'counters_reads_rebuild',
  threads: 'counters_threads_rebuild', counters: 'thread_user_counters_rebuild',
};

/** Recipients per inbox.updated entry: bounds the per-recipient personalization work of the gateway. */
const NOTIFY_CHUNK = 100;

interface MessageRow extends Omit<MessageFact, 'created_at'> { created_at: Date }

/** The stored facts for the keys of `batch`. */
export async function loadCounterFacts(tx: Tx, t: CountersTables, tenantId: string, batch: FactBatch): Promise<FactBatch> {
  const stored = emptyFacts();
  const pairs = asJson(tx, [...batch.members.values(), ...batch.reads.values()].map((f) => ({ thread_id: f.thread_id, user_id: f.user_id })));
  const [messages, members, reads, threads] = await Promise.all([
    batch.messages.size
      ? tx<MessageRow[]>`
          select message_id, thread_id, seq_key, sender_id, created_at, preview, attachment_flag, body_key, deleted
          from ${tx(t.messages)}
          where tenant_id = ${tenantId} and message_id = any(${[...batch.messages.keys()]}::text[])`
      : [],
    batch.members.size
      ? tx<MemberFact[]>`
          select m.thread_id, m.user_id, m.active, m.seq_key
          from jsonb_to_recordset(${pairs}::jsonb) as p(thread_id text, user_id text)
          join ${tx(t.members)} m on m.tenant_id = ${tenantId} and m.thread_id = p.thread_id and m.user_id = p.user_id`
      : [],
    batch.reads.size
      ? tx<ReadFact[]>`
          select r.thread_id, r.user_id, r.read_seq_key, r.last_read_message_id
          from jsonb_to_recordset(${pairs}::jsonb) as p(thread_id text, user_id text)
          join ${tx(t.reads)} r on r.tenant_id = ${tenantId} and r.thread_id = p.thread_id and r.user_id = p.user_id`
      : [],
    batch.threads.size
      ? tx<Omit<ThreadFact, 'created_at' | 'title'>[]>`
          select thread_id, created_key from ${tx(t.threads)}
          where tenant_id = ${tenantId} and thread_id = any(${[...batch.threads.keys()]}::text[])`
      : [],
  ]);
  for (const m of messages) stored.messages.set(m.message_id, { ...m, created_at: m.created_at.toISOString() });
  for (const m of members) stored.members.set(pairKey(m.thread_id, m.user_id), { ...m });
  for (const r of reads) stored.reads.set(pairKey(r.thread_id, r.user_id), { ...r });
  for (const th of threads) stored.threads.set(th.thread_id, { ...th, created_at: '', title: null });
  return stored;
}

/** Writes facts; the SQL repeats the merge rules so that a row never moves backwards. */
async function upsertFacts(tx: Tx, t: CountersTables, tenantId: string, up: ReturnType<typeof planCounters>['upsert']): Promise<void> {
  await upsertMessageFacts(tx, t.messages, tenantId, up.messages);
  if (up.members.length) {
    await tx`
      insert into ${tx(t.members)} as m (tenant_id, thread_id, user_id, active, seq_key)
      select ${tenantId}, r.thread_id, r.user_id, r.active, r.seq_key
      from jsonb_to_recordset(${asJson(tx, up.members)}::jsonb) as r(thread_id text, user_id text, active boolean, seq_key text)
      on conflict (tenant_id, thread_id, user_id) do update set active = excluded.active, seq_key = excluded.seq_key
        where excluded.seq_key > m.seq_key`;
  }
  if (up.reads.length) {
    await tx`
      insert into ${tx(t.reads)} as r (tenant_id, thread_id, user_id, read_seq_key, last_read_message_id)
      select ${tenantId}, x.thread_id, x.user_id, x.read_seq_key, x.last_read_message_id
      from jsonb_to_recordset(${asJson(tx, up.reads)}::jsonb) as x(thread_id text, user_id text, read_seq_key text, last_read_message_id text)
      on conflict (tenant_id, thread_id, user_id) do update
        set read_seq_key = excluded.read_seq_key, last_read_message_id = excluded.last_read_message_id
        where excluded.read_seq_key > r.read_seq_key`;
  }
  if (up.threads.length) {
    await tx`
      insert into ${tx(t.threads)} as th (tenant_id, thread_id, created_key)
      select ${tenantId}, x.thread_id, x.created_key
      from jsonb_to_recordset(${asJson(tx, up.threads)}::jsonb) as x(thread_id text, created_key text)
      on conflict (tenant_id, thread_id) do update set created_key = excluded.created_key
        where excluded.created_key < th.created_key`;
  }
}

/**
 * One UPDATE per touched row, not one per concern: +1/-1 on the rows of the other participants who
 * had not read past the message (the deltas), and every row of the threads whose activity moved
 * gets its activity key (last live message, else creation). As two statements each participant's
 * row was rewritten twice per message.
 */
async function applyDeltasAndActivity(tx: Tx, t: CountersTables, tenantId: string, deltas: CounterDelta[], threads: string[]): Promise<void> {
  if (!deltas.length && !threads.length) return;
  await tx`
    with d as (
      select c2.thread_id, c2.user_id, sum(d.delta)::int as n
      from jsonb_to_recordset(${asJson(tx, deltas)}::jsonb) as d(thread_id text, seq_key text, sender_id text, delta int)
      join ${tx(t.counters)} c2 on c2.tenant_id = ${tenantId} and c2.thread_id = d.thread_id
        and c2.user_id <> d.sender_id and d.seq_key > coalesce(c2.last_read_seq_key, '')
      group by c2.thread_id, c2.user_id
    ), a as (
      select x.thread_id, coalesce((select f.seq_key from ${tx(t.messages)} f
          where f.tenant_id = ${tenantId} and f.thread_id = x.thread_id and not f.deleted
          order by f.seq_key desc limit 1), th.created_key, '') as k
      from jsonb_array_elements_text(${asJson(tx, threads)}::jsonb) as x(thread_id)
      left join ${tx(t.threads)} th on th.tenant_id = ${tenantId} and th.thread_id = x.thread_id
    ), target as (
      select c3.thread_id, c3.user_id, d.n, a.k
      from a join ${tx(t.counters)} c3 on c3.tenant_id = ${tenantId} and c3.thread_id = a.thread_id
      left join d on d.thread_id = c3.thread_id and d.user_id = c3.user_id
      union all
      select d.thread_id, d.user_id, d.n, null from d where not exists (select 1 from a where a.thread_id = d.thread_id)
    )
    update ${tx(t.counters)} as c
    set unread_count = c.unread_count + coalesce(x.n, 0), activity_key = coalesce(x.k, c.activity_key), updated_at = now()
    from target as x
    where c.tenant_id = ${tenantId} and c.thread_id = x.thread_id and c.user_id = x.user_id
      and (coalesce(x.n, 0) <> 0 or (x.k is not null and c.activity_key <> x.k))`;
}

/**
 * The counter rows the facts imply, for the given (thread, user) pairs or (null) for every active
 * membership of the tenant: live messages of others after the read position, the read position,
 * and the activity key (last live message, else creation).
 */
export function expectedCounters(tx: Tx, t: CountersTables, tenantId: string, pairs: ReturnType<typeof asJson> | null) {
  const source = pairs === null
    ? tx`${tx(t.members)} m`
    : tx`jsonb_to_recordset(${pairs}::jsonb) as p(thread_id text, user_id text)
         join ${tx(t.members)} m on m.tenant_id = ${tenantId} and m.thread_id = p.thread_id and m.user_id = p.user_id`;
  return tx`
    select m.thread_id, m.user_id,
      (select count(*)::int from ${tx(t.messages)} f
        where f.tenant_id = ${tenantId} and f.thread_id = m.thread_id and not f.deleted
          and f.sender_id <> m.user_id and f.seq_key > coalesce(r.read_seq_key, '')) as unread_count,
      r.last_read_message_id, r.read_seq_key as last_read_seq_key,
      coalesce((select f.seq_key from ${tx(t.messages)} f
        where f.tenant_id = ${tenantId} and f.thread_id = m.thread_id and not f.deleted
        order by f.seq_key desc limit 1), th.created_key, '') as activity_key
    from ${source}
    left join ${tx(t.reads)} r on r.tenant_id = ${tenantId} and r.thread_id = m.thread_id and r.user_id = m.user_id
    left join ${tx(t.threads)} th on th.tenant_id = ${tenantId} and th.thread_id = m.thread_id
    where m.tenant_id = ${tenantId} and m.active`;
}

/** Recomputes the rows of `pairs` from the facts; removes those whose membership is not active. */
export async function syncPairs(tx: Tx, t: CountersTables, tenantId: string, pairs: { thread_id: string; user_id: string }[]): Promise<void> {
  if (!pairs.length) return;
  const p = asJson(tx, pairs);
  await tx`
    delete from ${tx(t.counters)} c
    using jsonb_to_recordset(${p}::jsonb) as p(thread_id text, user_id text)
    where c.tenant_id = ${tenantId} and c.thread_id = p.thread_id and c.user_id = p.user_id
      and not exists (select 1 from ${tx(t.members)} m
        where m.tenant_id = ${tenantId} and m.thread_id = p.thread_id and m.user_id = p.user_id and m.active)`;
  await tx`
    insert into ${tx(t.counters)} as c (tenant_id, thread_id, user_id, unread_count, last_read_message_id, last_read_seq_key, activity_key)
    select ${tenantId}, e.thread_id, e.user_id, e.unread_count, e.last_read_message_id, e.last_read_seq_key, e.activity_key
    from (${expectedCounters(tx, t, tenantId, p)}) as e
    on conflict (tenant_id, thread_id, user_id) do update set
      unread_count = excluded.unread_count, last_read_message_id = excluded.last_read_message_id,
      last_read_seq_key = excluded.last_read_seq_key, activity_key = excluded.activity_key, updated_at = now()
    where (c.unread_count, c.last_read_message_id, c.last_read_seq_key, c.activity_key)
      is distinct from (excluded.unread_count, excluded.last_read_message_id, excluded.last_read_seq_key, excluded.activity_key)`;
}

export interface Notification {
  threadId: string;
  last: { message_id: string; created_at: Date; sender_id: string; preview: string; attachment_flag: boolean } | null;
  users: { user_id: string; unread_count: number; last_read_message_id: string | null }[];
}

/** What to tell whom: the current rows of the notified users, and each thread's last live message. */
export async function readNotifications(
  tx: Tx, t: CountersTables, tenantId: string, notify: Map<string, 'all' | Set<string>>,
): Promise<Notification[]> {
  if (!notify.size) return [];
  const threads = asJson(tx, [...notify.keys()]);
  const [rows, lasts] = await Promise.all([
    tx<{ thread_id: string; user_id: string; unread_count: number; last_read_message_id: string | null }[]>`
      select c.thread_id, c.user_id, c.unread_count, c.last_read_message_id
      from ${tx(t.counters)} c
      where c.tenant_id = ${tenantId} and c.thread_id = any(${[...notify.keys()]}::text[])`,
    tx<{ thread_id: string; message_id: string | null; created_at: Date | null; sender_id: string | null; preview: string | null; attachment_flag: boolean | null }[]>`
      select x.thread_id, l.message_id, l.created_at, l.sender_id, l.preview, l.attachment_flag
      from jsonb_array_elements_text(${threads}::jsonb) as x(thread_id)
      left join lateral (
        select f.message_id, f.created_at, f.sender_id, f.preview, f.attachment_flag from ${tx(t.messages)} f
        where f.tenant_id = ${tenantId} and f.thread_id = x.thread_id and not f.deleted
        order by f.seq_key desc limit 1) as l on true`,
  ]);
  const out = new Map<string, Notification>();
  for (const l of lasts) {
    out.set(l.thread_id, {
      threadId: l.thread_id,
      last: l.message_id === null ? null : {
        message_id: l.message_id, created_at: l.created_at as Date, sender_id: l.sender_id as string,
        preview: l.preview as string, attachment_flag: Boolean(l.attachment_flag),
      },
      users: [],
    });
  }
  for (const r of rows) {
    const who = notify.get(r.thread_id);
    if (who === 'all' || who?.has(r.user_id)) out.get(r.thread_id)?.users.push({ ...r });
  }
  return [...out.values()].filter((n) => n.users.length);
}

/** Folds a batch into the facts only (rebuild's bulk phase; the counters are derived afterwards). */
export async function applyCounterFacts(tx: Tx, t: CountersTables, tenantId: string, batch: FactBatch): Promise<void> {
  const plan = planCounters(batch, await loadCounterFacts(tx, t, tenantId, batch));
  await upsertFacts(tx, t, tenantId, plan.upsert);
}

/** Replaces every counter row of the tenant with the rows the facts imply. */
export async function deriveAllCounters(tx: Tx, t: CountersTables, tenantId: string): Promise<void> {
  await tx`delete from ${tx(t.counters)} where tenant_id = ${tenantId}`;
  await tx`
    insert into ${tx(t.counters)} (tenant_id, thread_id, user_id, unread_count, last_read_message_id, last_read_seq_key, activity_key)
    select ${tenantId}, e.thread_id, e.user_id, e.unread_count, e.last_read_message_id, e.last_read_seq_key, e.activity_key
    from (${expectedCounters(tx, t, tenantId, null)}) as e`;
}

/**
 * Applies a batch to the counters state in `tx` (locks are the caller's): facts, counter deltas,
 * recomputed pairs, activity. Returns who is to be told.
 */
export async function applyCounters(tx: Tx, t: CountersTables, tenantId: string, batch: FactBatch): Promise<Map<string, 'all' | Set<string>>> {
  const stored = await loadCounterFacts(tx, t, tenantId, batch);
  const plan = planCounters(batch, stored);
  await upsertFacts(tx, t, tenantId, plan.upsert);
  // Deltas and activity before the recomputed pairs: a pair recomputed in this batch ends exact
  // either way (syncPairs derives its unread count and activity key from the facts).
  await applyDeltasAndActivity(tx, t, tenantId, plan.deltas, plan.activityThreads);
  await syncPairs(tx, t, tenantId, plan.pairs);
  return plan.notify;
}

/**
 * Appends one inbox.updated per thread (more for threads with over NOTIFY_CHUNK recipients), to the
 * users who are participants right now in Redis, the write path's authority: a user removed since
 * is never sent the thread's preview, whatever the order in which the counters saw the events.
 */
export async function publishInboxUpdates(redis: RedisClient, tenantId: string, notes: Notification[]): Promise<number> {
  // All appends of a batch go out together (auto-pipelined: one write, one AOF fsync) instead of
  // one round trip and one fsync each; they are independent (absolute values, distinct recipients).
  const appends: Promise<unknown>[] = [];
  const members = await Promise.all(notes.map((n) => redis.smembers(keys.threadMembers(tenantId, n.threadId))));
  for (const [i, n] of notes.entries()) {
    const current = new Set(members[i]);
    const users = n.users.filter((u) => current.has(u.user_id));
    for (let k = 0; k < users.length; k += NOTIFY_CHUNK) {
      const chunk = users.slice(k, k + NOTIFY_CHUNK);
      const perUser: Record<string, { unreadCount: number; lastReadMessageId: string | null }> = {};
      for (const u of chunk) perUser[u.user_id] = { unreadCount: u.unread_count, lastReadMessageId: u.last_read_message_id };
      appends.push(appendEvent(redis, tenantId, {
        type: EVENT.inboxUpdated,
        users: chunk.map((u) => u.user_id),
        data: {
          threadId: n.threadId,
          lastMessageId: n.last?.message_id ?? null,
          lastMessageAt: n.last ? n.last.created_at.toISOString() : null,
          lastSenderId: n.last?.sender_id ?? null,
          lastPreviewText: n.last?.preview ?? null,
          attachmentFlag: n.last?.attachment_flag ?? false,
          perUser,
        },
      }));
    }
  }
  await Promise.all(appends);
  const appended = appends.length;
  if (appended) countAppend(EVENT.inboxUpdated, tenantId, appended);
  return appended;
}

