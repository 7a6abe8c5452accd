// Object storage behind one small interface. Two areas, kept apart: `quarantine` holds uploads
// until they are scanned and validated (never served), `clean` holds what passed (served only
// through short-lived signed URLs). Clean objects are content-addressed per tenant (name = SHA-256),
// so one stored copy serves every attachment with the same bytes.
import type { Readable } from 'node:stream';
import { ID_RE } from '../../core/ids.js';

export type Area = 'quarantine' | 'clean';

export interface ObjectKey {
  readonly area: Area;
  readonly tenantId: string;
  readonly name: string;
}

export interface ObjectInfo {
  size: number;
  /** Hex SHA-256 when the store computed it while receiving the bytes (local store). */
  sha256?: string;
}

/** What a client needs to upload: PUT `url` with `headers`, exactly `size` bytes, before `expiresAt`. */
export interface UploadTarget {
  url: string;
  headers: Record<string, string>;
  expiresAt: string;
}

export interface DownloadOptions {
  contentType: string;
  /** Offered to the browser as the download's file name. */
  filename?: string;
  /** `inline` for thumbnails; everything else downloads as an attachment. */
  inline?: boolean;
  expiresAt: Date;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** A URL accepting one PUT of exactly `size` bytes to a quarantine key (write-once) until `expiresAt`. */
  uploadTarget(key: ObjectKey, o: { contentType: string; size: number; expiresAt: Date }): Promise<UploadTarget>;
  /** A GET URL for a clean object. Throws for quarantine keys: nothing quarantined is ever served. */
  downloadUrl(key: ObjectKey, o: DownloadOptions): Promise<string>;
  /** Size (and hash when known) of a stored object, or null when there is none. */
  stat(key: ObjectKey): Promise<ObjectInfo | null>;
  /** Reads an object; rejects with ObjectMissingError when there is none. */
  open(key: ObjectKey): Promise<Readable>;
  /** Stores a small object (thumbnails) in the clean area. */
  put(key: ObjectKey, body: Buffer, contentType: string): Promise<void>;
  /** Copies a quarantined object to its clean key; idempotent (the clean copy may already exist). */
  promote(from: ObjectKey, to: ObjectKey): Promise<void>;
  /** Deletes an object; deleting a missing object is not an error. */
  remove(key: ObjectKey): Promise<void>;
}

export class ObjectMissingError extends Error {
  constructor(key: ObjectKey) {
    super(`object ${keyPath(key)} does not exist`);
  }
}

/** Names are attachment ids or hex digests with an optional suffix: no dots at the start, no slashes. */
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function isObjectKey(v: { area?: string; tenantId?: string; name?: string }): v is ObjectKey {
  return (v.area === 'quarantine' || v.area === 'clean') && ID_RE.test(v.tenantId ?? '') && NAME_RE.test(v.name ?? '')
    && !(v.name ?? '').includes('..');
}

export function objectKey(area: Area, tenantId: string, name: string): ObjectKey {
  const k = { area, tenantId, name };
  if (!isObjectKey(k)) throw new Error(`invalid object key ${area}/${tenantId}/${name}`);
  return k;
}

/** `area/tenant/name`: the key's path in a bucket, on disk and in URLs. */
export function keyPath(k: ObjectKey): string {
  return `${k.area}/${k.tenantId}/${k.name}`;
}

/** Where an attachment's bytes wait for the pipeline. */
export function quarantineKey(tenantId: string, attachmentId: string): ObjectKey {
  return objectKey('quarantine', tenantId, attachmentId);
}

/** Where bytes that passed live, shared by every attachment of the tenant with the same content. */
export function cleanKey(tenantId: string, sha256: string): ObjectKey {
  return objectKey('clean', tenantId, sha256);
}

const THUMBNAIL_SUFFIX = '.thumb.webp';

export function thumbnailKey(tenantId: string, sha256: string): ObjectKey {
  return objectKey('clean', tenantId, `${sha256}${THUMBNAIL_SUFFIX}`);
}

/** What a clean key holds: the bytes of `sha256`, or their thumbnail. Null for any other name. */
export function cleanContent(key: ObjectKey): { sha256: string; thumbnail: boolean } | null {
  if (key.area !== 'clean') return null;
  const thumbnail = key.name.endsWith(THUMBNAIL_SUFFIX);
  const sha256 = thumbnail ? key.name.slice(0, -THUMBNAIL_SUFFIX.length) : key.name;
  return /^[0-9a-f]{64}$/.test(sha256) ? { sha256, thumbnail } : null;
}

/** Types a browser may render inline from our origin: raster images only (no SVG, HTML, PDF, text). */
const INLINE_SAFE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/**
 * The Content-Disposition a download is served with: `inline` only when asked for (thumbnails) and
 * the type is a raster image; anything else downloads as an attachment, whatever the URL says.
 */
export function servedDisposition(contentType: string, filename: string | undefined, inline = false): string {
  return contentDisposition(filename, inline && INLINE_SAFE_TYPES.has(contentType.toLowerCase()));
}

/** `attachment; filename*=UTF-8''…` (RFC 6266/5987), with an ASCII fallback for old clients. */
export function contentDisposition(filename: string | undefined, inline = false): string {
  const kind = inline ? 'inline' : 'attachment';
  if (!filename) return kind;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
