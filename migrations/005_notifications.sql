-- Notifications (docs/notifications.md): preferences, the in-app feed, and per (message, recipient,
-- channel) the decision and delivery status, which is also the decision log behind
-- GET /api/notifications/explain. Tenant-scoped with row-level security like 001_core.sql.

create table notification_preferences (
  tenant_id   text        not null,
  user_id     text        not null,
  -- the validated document of PUT /api/notification-preferences (workers/notify/preferences.ts)
  prefs       jsonb       not null,
  updated_at  timestamptz not null default now(),
  primary key (tenant_id, user_id)
);

-- The in-app feed: one row per (message, recipient) that the in-app channel delivered. The id is
-- derived from (message, recipient), so redelivered work finds the same row.
create table notifications (
  tenant_id   text        not null,
  id          text        not null,
  user_id     text        not null,
  message_id  text        not null,
  thread_id   text        not null,
  sender_id   text        not null,
  kind        text        not null check (kind in ('mention', 'direct', 'message')),
  title       text,
  preview     text        not null default '',
  -- the message's time: the feed's order
  created_at  timestamptz not null,
  read_at     timestamptz,
  primary key (tenant_id, id)
);
create index notifications_feed on notifications (tenant_id, user_id, created_at desc, id desc);

-- One row per recipient and channel of every message: the decision (reason) and where the delivery
-- stands (status). Statuses only move forward (see workers/notify/store.ts).
create table notification_deliveries (
  tenant_id            text        not null,
  message_id           text        not null,
  user_id              text        not null,
  channel              text        not null check (channel in ('inApp', 'email', 'push')),
  notification_id      text        not null,
  thread_id            text        not null,
  urgent               boolean     not null,
  status               text        not null check (status in ('queued', 'digest_pending', 'retrying', 'sent', 'delivered',
                                     'opened', 'bounced', 'failed', 'suppressed', 'cancelled')),
  reason               text        not null,
  attempts             integer     not null default 0,
  provider_message_id  text,
  digest_id            text,
  last_error           text,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  primary key (tenant_id, message_id, user_id, channel)
);
-- provider callbacks and the feed's per-channel status address rows by notification
create index notification_deliveries_notification on notification_deliveries (tenant_id, notification_id, channel);
-- callbacks of a digest name its digest id
create index notification_deliveries_digest on notification_deliveries (tenant_id, digest_id) where digest_id is not null;

-- Statuses move forward only: an update applies when the new status ranks at least as high as the
-- current one. failed ranks with retrying so a replayed dead letter may retry; a provider callback
-- (delivered, opened, bounced) outranks sent, so a late 'sent' never overwrites it.
create function notify_status_rank(status text) returns integer language sql immutable as $$
  select case status
    when 'queued' then 1 when 'digest_pending' then 1
    when 'retrying' then 2 when 'failed' then 2
    when 'suppressed' then 3 when 'cancelled' then 3
    when 'sent' then 4
    else 5 end
$$;

do $$
declare t text;
begin
  foreach t in array array['notification_preferences', 'notifications', 'notification_deliveries'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = current_setting('chorus.tenant_id', true))
      with check (tenant_id = current_setting('chorus.tenant_id', true))$p$, t);
  end loop;
end $$;
