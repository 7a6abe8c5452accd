// The attachments table (migrations/004_attachments.sql): the pipeline's durable state. Every
// transition is one conditional UPDATE that only moves forward, so redelivered or concurrent stage
// runs cannot regress a row, and a stage finding its work already recorded skips it.
import { withTenant, type Sql, type Tx } from '../../core/db.js';
import { timed } from '../../core/metrics.js';

export const STATUSES = ['pending_upload', 'uploaded', 'scanning', 'processing', 'ready', 'rejected'] as const;
export type AttachmentStatus = (typeof STATUSES)[number];
export type RejectReason = 'infected' | 'type_mismatch' | 'too_large' | 'corrupt';

export function isFinal(s: AttachmentStatus): boolean {
  return s === 'ready' || s === 'rejected';
}

export interface AttachmentRow {
  tenantId: string;
  id: string;
  uploaderId: string;
  filename: string;
  contentType: string;
  size: number;
  declaredSha256: string | null;
  sha256: string | null;
  status: AttachmentStatus;
  rejectReason: RejectReason | null;
  rejectDetail: string | null;
  thumbWidth: number | null;
  thumbHeight: number | null;
  createdAt: Date;
  uploadedAt: Date | null;
  scannedAt: Date | null;
  validatedAt: Date | null;
  finishedAt: Date | null;
}

export type NewAttachment = Pick<AttachmentRow, 'tenantId' | 'id' | 'uploaderId' | 'filename' | 'contentType' | 'size' | 'declaredSha256'>
  & { status: 'pending_upload' };

interface DbRow {
  tenant_id: string; id: string; uploader_id: string; filename: string; content_type: string; size: string | number;
  declared_sha256: string | null; sha256: string | null; status: AttachmentStatus; reject_reason: RejectReason | null;
  reject_detail: string | null; thumb_width: number | null; thumb_height: number | null; created_at: Date;
  uploaded_at: Date | null; scanned_at: Date | null; validated_at: Date | null; finished_at: Date | null;
}

function fromDb(r: DbRow): AttachmentRow {
  return {
    tenantId: r.tenant_id, id: r.id, uploaderId: r.uploader_id, filename: r.filename, contentType: r.content_type,
    size: Number(r.size), declaredSha256: r.declared_sha256, sha256: r.sha256, status: r.status, rejectReason: r.reject_reason,
    rejectDetail: r.reject_detail, thumbWidth: r.thumb_width, thumbHeight: r.thumb_height, createdAt: r.created_at,
    uploadedAt: r.uploaded_at, scannedAt: r.scanned_at, validatedAt: r.validated_at, finishedAt: r.finished_at,
  };
}

function one(rows: DbRow[]): AttachmentRow | null {
  return rows[0] ? fromDb(rows[0]) : null;
}

function inTenant<T>(sql: Sql, tenantId: string, statement: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return timed(statement, () => withTenant(sql, tenantId, fn));
}

export async function insertAttachment(sql: Sql, a: NewAttachment): Promise<void> {
  await inTenant(sql, a.tenantId, 'attachment_insert', (tx) => tx`
    insert into attachments (tenant_id, id, uploader_id, filename, content_type, size, declared_sha256, status)
    values (${a.tenantId}, ${a.id}, ${a.uploaderId}, ${a.filename}, ${a.contentType}, ${a.size}, ${a.declaredSha256}, ${a.status})`);
}

export async function getAttachment(sql: Sql, tenantId: string, id: string): Promise<AttachmentRow | null> {
  return one(await inTenant(sql, tenantId, 'attachment_get', (tx) => tx<DbRow[]>`
    select * from attachments where tenant_id = ${tenantId} and id = ${id}`));
}

/** How the tenant's clean object of these bytes may be served, as the pipeline verified it: null when no ready attachment has them. */
export interface VerifiedObject {
  /** The real type the validate stage confirmed (one per content: a type is judged from the bytes). */
  contentType: string;
  thumbnail: boolean;
}

export async function verifiedObject(sql: Sql, tenantId: string, sha256: string): Promise<VerifiedObject | null> {
  const rows = await inTenant(sql, tenantId, 'attachment_verified_object', (tx) => tx<{ content_type: string; thumb_width: number | null }[]>`
    select content_type, thumb_width from attachments
    where tenant_id = ${tenantId} and sha256 = ${sha256} and status = 'ready'
    order by finished_at limit 1`);
  const r = rows[0];
  return r ? { contentType: r.content_type, thumbnail: r.thumb_width !== null } : null;
}

/** Whether the attachment still waits for its bytes (its upload URL may be used). */
export async function awaitsUpload(sql: Sql, tenantId: string, id: string): Promise<boolean> {
  const rows = await inTenant(sql, tenantId, 'attachment_awaits_upload', (tx) => tx<{ status: AttachmentStatus }[]>`
    select status from attachments where tenant_id = ${tenantId} and id = ${id}`);
  return rows[0]?.status === 'pending_upload';
}

/** pending_upload → uploaded (the client completed the upload). Null when it was not pending. */
export async function markUploaded(sql: Sql, tenantId: string, id: string, sha256: string | undefined): Promise<AttachmentRow | null> {
  return one(await inTenant(sql, tenantId, 'attachment_uploaded', (tx) => tx<DbRow[]>`
    update attachments set status = 'uploaded', uploaded_at = coalesce(uploaded_at, now()), sha256 = coalesce(sha256, ${sha256 ?? null})
    where tenant_id = ${tenantId} and id = ${id} and status = 'pending_upload'
    returning *`));
}

/**
 * → scanning, from any state before processing: the attachment.uploaded event proves the upload was
 * completed even when a crash kept the row at pending_upload. Null when the scan is already done.
 */
export async function startScan(sql: Sql, tenantId: string, id: string): Promise<AttachmentRow | null> {
  return one(await inTenant(sql, tenantId, 'attachment_scanning', (tx) => tx<DbRow[]>`
    update attachments set status = 'scanning', uploaded_at = coalesce(uploaded_at, now())
    where tenant_id = ${tenantId} and id = ${id} and status in ('pending_upload', 'uploaded', 'scanning')
    returning *`));
}

/** The scan passed: → processing with the hash of the scanned bytes. */
export async function markScanned(sql: Sql, tenantId: string, id: string, sha256: string): Promise<void> {
  await inTenant(sql, tenantId, 'attachment_scanned', (tx) => tx`
    update attachments set status = 'processing', sha256 = ${sha256}, scanned_at = now()
    where tenant_id = ${tenantId} and id = ${id} and status in ('pending_upload', 'uploaded', 'scanning')`);
}

/** The real type matched: recorded once (validated_at); the row stays processing. */
export async function markValidated(sql: Sql, tenantId: string, id: string): Promise<void> {
  await inTenant(sql, tenantId, 'attachment_validated', (tx) => tx`
    update attachments set status = 'processing', validated_at = now()
    where tenant_id = ${tenantId} and id = ${id} and validated_at is null and status not in ('ready', 'rejected')`);
}

/** → ready with the scanned bytes' hash and the thumbnail's size. The row when this call made it ready, else null. */
export async function markReady(
  sql: Sql, tenantId: string, id: string, sha256: string, thumb: { width: number; height: number } | null,
): Promise<AttachmentRow | null> {
  return one(await inTenant(sql, tenantId, 'attachment_ready', (tx) => tx<DbRow[]>`
    update attachments set status = 'ready', finished_at = now(), sha256 = ${sha256}, validated_at = coalesce(validated_at, now()),
      scanned_at = coalesce(scanned_at, now()), thumb_width = ${thumb?.width ?? null}, thumb_height = ${thumb?.height ?? null}
    where tenant_id = ${tenantId} and id = ${id} and status not in ('ready', 'rejected')
    returning *`));
}

/** → rejected. Returns the row when this call rejected it, else null (already final). */
export async function markRejected(sql: Sql, tenantId: string, id: string, reason: RejectReason, detail: string): Promise<AttachmentRow | null> {
  return one(await inTenant(sql, tenantId, 'attachment_rejected', (tx) => tx<DbRow[]>`
    update attachments set status = 'rejected', reject_reason = ${reason}, reject_detail = ${detail.slice(0, 500)}, finished_at = now()
    where tenant_id = ${tenantId} and id = ${id} and status not in ('ready', 'rejected')
    returning *`));
}
