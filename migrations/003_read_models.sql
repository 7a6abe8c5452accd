-- Read models (docs/read-models.md): read receipts, unread counters, the inbox projection.
-- Each consumer group owns its tables and writes nothing else, so it never depends on another
-- group's progress. Every table is tenant-scoped with row-level security like 001_core.sql, and
-- seq_key columns hold core/seq.ts seqSortKey values (fixed width, sort like stream ids).

-- group `receipts`: a user's read position per thread, last-writer-wins by the read message's seq,
-- so a late, older receipt never moves it backwards.
create table read_receipts (
  tenant_id             text        not null,
  user_id               text        not null,
  thread_id             text        not null,
  last_read_message_id  text        not null,
  last_read_seq_key     text        not null,
  updated_at            timestamptz not null default now(),
  primary key (tenant_id, user_id, thread_id)
);

-- group `counters`: facts folded from the stream (messages, memberships, read positions, thread
-- creation), and the counters derived from them. The facts make the counters exact under
-- redelivery and reordering: an event changes a counter only when it changes a fact.
create table counters_messages (
  tenant_id        text        not null,
  message_id       text        not null,
  thread_id        text        not null,
  seq_key          text        not null,
  sender_id        text        not null,
  created_at       timestamptz not null,
  preview          text        not null default '',
  attachment_flag  boolean     not null default false,
  body_key         text        not null default '',
  deleted          boolean     not null default false,
  primary key (tenant_id, message_id)
);
-- unread counts (live messages after a read position) and the thread's last live message
create index counters_messages_live on counters_messages (tenant_id, thread_id, seq_key) include (sender_id) where not deleted;

create table counters_members (
  tenant_id  text    not null,
  thread_id  text    not null,
  user_id    text    not null,
  active     boolean not null,
  seq_key    text    not null,
  primary key (tenant_id, thread_id, user_id)
);

create table counters_reads (
  tenant_id             text not null,
  thread_id             text not null,
  user_id               text not null,
  read_seq_key          text not null,
  last_read_message_id  text not null,
  primary key (tenant_id, thread_id, user_id)
);

create table counters_threads (
  tenant_id    text not null,
  thread_id    text not null,
  created_key  text not null,
  primary key (tenant_id, thread_id)
);

-- One row per current participant. activity_key is the seq_key of the thread's last live message,
-- else of its creation: the inbox order, kept here so that a user's inbox page is one index range.
create table thread_user_counters (
  tenant_id             text        not null,
  thread_id             text        not null,
  user_id               text        not null,
  unread_count          integer     not null default 0,
  last_read_message_id  text,
  last_read_seq_key     text,
  activity_key          text        not null default '',
  updated_at            timestamptz not null default now(),
  primary key (tenant_id, thread_id, user_id)
);
create index thread_user_counters_inbox on thread_user_counters (tenant_id, user_id, activity_key desc, thread_id desc);

-- group `inbox`: its own message facts (to fall back to the previous live message when the last
-- one is deleted) and the per-thread preview row.
create table inbox_messages (
  tenant_id        text        not null,
  message_id       text        not null,
  thread_id        text        not null,
  seq_key          text        not null,
  sender_id        text        not null,
  created_at       timestamptz not null,
  preview          text        not null default '',
  attachment_flag  boolean     not null default false,
  body_key         text        not null default '',
  deleted          boolean     not null default false,
  primary key (tenant_id, message_id)
);
create index inbox_messages_live on inbox_messages (tenant_id, thread_id, seq_key desc) where not deleted;

create table thread_inbox_projection (
  tenant_id          text        not null,
  thread_id          text        not null,
  title              text,
  created_at         timestamptz,
  created_key        text,
  last_message_id    text,
  last_message_at    timestamptz,
  last_sender_id     text,
  last_preview_text  text,
  attachment_flag    boolean     not null default false,
  last_seq_key       text,
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, thread_id)
);

-- Rebuild targets (processors/rebuild.ts): a tenant's state is replayed into these twins, then
-- moved into the live tables in one transaction.
create table counters_messages_rebuild (like counters_messages including all);
create table counters_members_rebuild (like counters_members including all);
create table counters_reads_rebuild (like counters_reads including all);
create table counters_threads_rebuild (like counters_threads including all);
create table thread_user_counters_rebuild (like thread_user_counters including all);
create table inbox_messages_rebuild (like inbox_messages including all);
create table thread_inbox_projection_rebuild (like thread_inbox_projection including all);

do $$
declare t text;
begin
  foreach t in array array['read_receipts',
    'counters_messages', 'counters_members', 'counters_reads', 'counters_threads', 'thread_user_counters',
    'inbox_messages', 'thread_inbox_projection',
    'counters_messages_rebuild', 'counters_members_rebuild', 'counters_reads_rebuild', 'counters_threads_rebuild',
    'thread_user_counters_rebuild', 'inbox_messages_rebuild', 'thread_inbox_projection_rebuild'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = current_setting('chorus.tenant_id', true))
      with check (tenant_id = current_setting('chorus.tenant_id', true))$p$, t);
  end loop;
end $$;
