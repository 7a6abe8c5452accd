-- Order-tolerant persistence (processors/persist.ts). Delivery is at-least-once and parallel, so:
-- * a membership removal is a tombstone (removed_at set, joined_at null) on the participant row,
--   last-writer-wins by seq_key: an older add delivered late cannot resurrect it, a newer re-add
--   overwrites it. Members are the rows with removed_at is null.
-- * the earliest deletion of a message wins deterministically: its seq_key is kept beside it.
-- * archived events keep their schema version, which projection rebuilds need.
alter table thread_participants alter column joined_at drop not null;
alter table thread_participants add column removed_at timestamptz;
drop index thread_participants_user;
create index thread_participants_user on thread_participants (tenant_id, user_id, thread_id) where removed_at is null;

alter table messages add column deleted_seq_key text;

alter table event_archive add column v integer not null default 1;
