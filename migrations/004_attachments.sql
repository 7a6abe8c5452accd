-- Attachments (docs/attachments.md): one row per attachment, moved through the pipeline's states by
-- the attachment-* processors with monotonic updates (a state never moves backwards). Ready rows are
-- the deduplication index: clean objects are content-addressed by (tenant, sha256).
create table attachments (
  tenant_id        text        not null,
  id               text        not null,
  uploader_id      text        not null,
  filename         text        not null,
  -- the declared type; a row reaches `ready` only when the bytes' real type is this one
  content_type     text        not null,
  -- the declared size; an upload must have exactly this many bytes
  size             bigint      not null check (size > 0),
  declared_sha256  text,
  -- computed server-side from the bytes (while receiving them, and again while scanning)
  sha256           text,
  status           text        not null check (status in ('pending_upload', 'uploaded', 'scanning', 'processing', 'ready', 'rejected')),
  reject_reason    text        check (reject_reason in ('infected', 'type_mismatch', 'too_large', 'corrupt')),
  -- why, for operators (virus name, decoder error); never shown to clients
  reject_detail    text,
  thumb_width      integer,
  thumb_height     integer,
  created_at       timestamptz not null default now(),
  uploaded_at      timestamptz,
  scanned_at       timestamptz,
  validated_at     timestamptz,
  finished_at      timestamptz,
  primary key (tenant_id, id),
  check ((status = 'rejected') = (reject_reason is not null))
);
create index attachments_clean on attachments (tenant_id, sha256, content_type) where status = 'ready';

alter table attachments enable row level security;
alter table attachments force row level security;
create policy tenant_isolation on attachments
  using (tenant_id = current_setting('chorus.tenant_id', true))
  with check (tenant_id = current_setting('chorus.tenant_id', true));
