// Attachments on the HTTP side (contract section 2, Attachments): create (validate the declaration,
// hand out a signed upload URL), complete (hand the upload to the pipeline with an internal
// attachment.uploaded event), and the attachment as its readers see it. Creation never looks at what
// the tenant already stores: a declared sha256 proves nothing, so every attachment is uploaded, and
// identical bytes are shared only once the pipeline has hashed them (docs/attachments.md, Dedupe).
import { z } from 'zod';
import type { Config } from '../config/index.js';
import type { Sql } from '../core/db.js';
import type { RedisClient } from '../core/redis.js';
import type { Principal } from '../core/auth.js';
import { AppError } from '../core/errors.js';
import { EVENT } from '../core/events/index.js';
import { newId } from '../core/ids.js';
import { countAppend } from '../core/metrics.js';
import { appendEvent } from '../core/stream-commands.js';
import { keys } from '../core/keys.js';
import { inAppendSpan } from './append-span.js';
import { registerTenant } from '../core/tenants.js';
import { parseBody } from '../core/validate.js';
import { charCount, StoredText } from '../core/fields.js';
import { participatesWhereAttached } from '../workers/attachments/facts.js';
import {
  getAttachment, insertAttachment, markUploaded, type AttachmentRow, type AttachmentStatus,
} from '../workers/attachments/records.js';
import { cleanKey, quarantineKey, thumbnailKey, type ObjectStore, type UploadTarget } from '../workers/storage/store.js';

export interface AttachmentDeps {
  config: Config;
  redis: RedisClient;
  sql: Sql;
  store: ObjectStore;
}

const MAX_FILENAME_CHARS = 255;

const Filename = StoredText
  .refine((s) => charCount(s) >= 1 && charCount(s) <= MAX_FILENAME_CHARS, `must have 1–${MAX_FILENAME_CHARS} characters`)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f/\\]/.test(s), 'must not contain control characters or slashes')
  .refine((s) => s !== '.' && s !== '..', 'must be a file name');

export const CreateAttachment = z.object({
  filename: Filename,
  contentType: StoredText.min(1).max(255).transform((s) => s.trim().toLowerCase()),
  size: z.number().int('must be an integer').positive('must be at least 1'),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').transform((s) => s.toLowerCase()).optional(),
  tenantId: z.string().optional(),
});

export interface CreatedAttachment {
  attachment: { id: string; status: AttachmentStatus };
  /** Never null (the contract allows null; Chorus does not dedupe before the bytes are proven). */
  upload: UploadTarget & { method: 'PUT' };
}

export async function createAttachment(d: AttachmentDeps, p: Principal, body: unknown): Promise<CreatedAttachment> {
  const input = parseBody(CreateAttachment, body, p);
  const { maxBytes, allowedTypes, uploadUrlTtlS } = d.config.attachments;
  if (!allowedTypes.includes(input.contentType)) {
    throw new AppError('invalid_request', `contentType: ${input.contentType} is not allowed`, {
      allowed: allowedTypes, issues: [{ field: 'contentType', message: 'is not allowed' }],
    });
  }
  if (input.size > maxBytes) {
    throw new AppError('invalid_request', `size: at most ${maxBytes} bytes`, { maxBytes, issues: [{ field: 'size', message: `must be at most ${maxBytes}` }] });
  }
  const id = newId('att');
  // The answer must not depend on what the tenant already holds: deduplicating on a declared hash
  // would hand out bytes the caller never had and tell anyone whether a file exists.
  await insertAttachment(d.sql, {
    tenantId: p.tenantId, id, uploaderId: p.userId, filename: input.filename, contentType: input.contentType,
    size: input.size, declaredSha256: input.sha256 ?? null, status: 'pending_upload',
  });
  const expiresAt = new Date(Date.now() + uploadUrlTtlS * 1000);
  const target = await d.store.uploadTarget(quarantineKey(p.tenantId, id), { contentType: input.contentType, size: input.size, expiresAt });
  return { attachment: { id, status: 'pending_upload' }, upload: { url: target.url, method: 'PUT', headers: target.headers, expiresAt: target.expiresAt } };
}

/** 404 for unknown ids (other tenants' rows are invisible under RLS), 403 for someone else's upload. */
async function ownAttachment(d: AttachmentDeps, p: Principal, id: string): Promise<AttachmentRow> {
  const row = await getAttachment(d.sql, p.tenantId, id);
  if (!row) throw new AppError('not_found', 'attachment not found');
  if (row.uploaderId !== p.userId) throw new AppError('forbidden', 'only the uploader may complete an attachment');
  return row;
}

export async function completeAttachment(d: AttachmentDeps, p: Principal, id: string, traceId?: string): Promise<{ attachment: { id: string; status: AttachmentStatus } }> {
  const row = await ownAttachment(d, p, id);
  if (row.status !== 'pending_upload') throw new AppError('conflict', `attachment is ${row.status}, not pending_upload`, { status: row.status });
  const info = await d.store.stat(quarantineKey(p.tenantId, id));
  if (!info) throw new AppError('conflict', 'nothing was uploaded yet: PUT the bytes to upload.url first');
  if (info.size !== row.size) throw new AppError('conflict', `uploaded ${info.size} bytes, declared ${row.size}`);
  await registerTenant(d.redis, p.tenantId);
  // Event before state: if the update below is lost, the scan stage still starts from the event.
  await inAppendSpan(EVENT.attachmentUploaded, p.tenantId,
    () => appendEvent(d.redis, p.tenantId, { type: EVENT.attachmentUploaded, data: { id }, actor: p.userId, traceId }, keys.attachmentWork));
  countAppend(EVENT.attachmentUploaded, p.tenantId);
  await markUploaded(d.sql, p.tenantId, id, info.sha256);
  return { attachment: { id, status: 'uploaded' } };
}

export interface AttachmentView {
  id: string;
  status: AttachmentStatus;
  filename: string;
  contentType: string;
  size: number;
  sha256: string | null;
  thumbnail?: { url: string; width: number; height: number };
  downloadUrl?: string;
  rejectReason?: string;
}

/**
 * The uploader, and the current participants of threads where the attachment was posted, may read
 * it; other users of the tenant get 403, other tenants 404. URLs exist only for ready attachments.
 */
export async function readAttachment(d: AttachmentDeps, p: Principal, id: string): Promise<{ attachment: AttachmentView }> {
  const row = await getAttachment(d.sql, p.tenantId, id);
  if (!row) throw new AppError('not_found', 'attachment not found');
  if (row.uploaderId !== p.userId && !(await participatesWhereAttached(d.redis, p.tenantId, id, p.userId))) {
    throw new AppError('forbidden', 'only the uploader and participants of threads where it was posted may read an attachment');
  }
  const view: AttachmentView = {
    id: row.id, status: row.status, filename: row.filename, contentType: row.contentType, size: row.size,
    sha256: row.sha256 ?? row.declaredSha256,
  };
  if (row.status === 'rejected' && row.rejectReason) view.rejectReason = row.rejectReason;
  if (row.status === 'ready' && row.sha256) {
    const expiresAt = new Date(Date.now() + d.config.attachments.downloadUrlTtlS * 1000);
    view.downloadUrl = await d.store.downloadUrl(cleanKey(p.tenantId, row.sha256), { contentType: row.contentType, filename: row.filename, expiresAt });
    if (row.thumbWidth && row.thumbHeight) {
      const url = await d.store.downloadUrl(thumbnailKey(p.tenantId, row.sha256), { contentType: 'image/webp', inline: true, expiresAt });
      view.thumbnail = { url, width: row.thumbWidth, height: row.thumbHeight };
    }
  }
  return { attachment: view };
}
