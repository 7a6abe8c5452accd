-- Threads, participants, messages and the event archive (seed section 3.1), with row-level
-- security by tenant on every tenant table. seq_key columns hold core/seq.ts seqSortKey values:
-- fixed-width strings that sort like stream ids, used for last-writer-wins by stream position.

create table threads (
  tenant_id   text        not null,
  id          text        not null,
  title       text,
  created_by  text        not null,
  created_at  timestamptz not null,
  seq_key     text        not null,
  primary key (tenant_id, id)
);

create table thread_participants (
  tenant_id   text        not null,
  thread_id   text        not null,
  user_id     text        not null,
  joined_at   timestamptz not null,
  seq_key     text        not null,
  primary key (tenant_id, thread_id, user_id)
);
-- inbox listing and permission checks: the threads of a user
create index thread_participants_user on thread_participants (tenant_id, user_id, thread_id);

create table messages (
  tenant_id          text        not null,
  id                 text        not null,
  thread_id          text        not null,
  sender_id          text        not null,
  body               text        not null,
  client_message_id  text,
  mentions           text[]      not null default '{}',
  attachment_ids     text[]      not null default '{}',
  created_at         timestamptz not null,
  seq                text        not null,
  body_seq_key       text        not null,
  edited_at          timestamptz,
  deleted_at         timestamptz,
  deleted_by         text,
  primary key (tenant_id, id)
);
create index messages_timeline on messages (tenant_id, thread_id, created_at desc, id desc);
create index messages_sender on messages (tenant_id, sender_id, created_at desc);
create index messages_timeline_live on messages (tenant_id, thread_id, created_at desc, id desc) where deleted_at is null;
create unique index messages_client_id on messages (tenant_id, sender_id, client_message_id) where client_message_id is not null;

-- Every stream event, kept beyond the stream's retention: the source for projection rebuilds.
create table event_archive (
  tenant_id  text        not null,
  seq_key    text        not null,
  seq        text        not null,
  type       text        not null,
  thread_id  text,
  users      text[],
  actor      text,
  data       jsonb       not null,
  primary key (tenant_id, seq_key)
);

do $$
declare t text;
begin
  foreach t in array array['threads', 'thread_participants', 'messages', 'event_archive'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = current_setting('chorus.tenant_id', true))
      with check (tenant_id = current_setting('chorus.tenant_id', true))$p$, t);
  end loop;
end $$;
