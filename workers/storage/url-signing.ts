// Signed object URLs of the local store: an HMAC-SHA256 over one object, one method, an expiry and,
// for uploads, the exact size (for downloads, the served type and file name). Anything changed in
// the URL (another key, tenant, method, size, a later expiry) breaks the signature. Pure functions.
import crypto from 'node:crypto';
import { keyPath, type ObjectKey } from './store.js';

export type GrantMethod = 'GET' | 'PUT';

export interface Grant {
  method: GrantMethod;
  key: ObjectKey;
  /** Unix seconds after which the URL is refused. */
  expiresAt: number;
  /** PUT: the exact number of bytes the upload must have. */
  size?: number;
  /** GET: served as Content-Type. */
  contentType?: string;
  /** GET: offered as the download's file name. */
  filename?: string;
  /** GET: Content-Disposition inline (thumbnails) instead of attachment. */
  inline?: boolean;
}

export type GrantCheck = { ok: true; grant: Grant } | { ok: false; reason: 'malformed' | 'expired' | 'bad_signature' };

function canonical(g: Grant): string {
  // JSON of a fixed-order array: unambiguous whatever the field values contain.
  return JSON.stringify(['chorus-object-v1', g.method, keyPath(g.key), g.expiresAt, g.size ?? null,
    g.contentType ?? null, g.filename ?? null, g.inline ? 1 : 0]);
}

function mac(secret: string, g: Grant): Buffer {
  return crypto.createHmac('sha256', secret).update(canonical(g)).digest();
}

/** The query string (without `?`) that authorizes `g`. */
export function signGrant(secret: string, g: Grant): string {
  const q = new URLSearchParams({ e: String(g.expiresAt) });
  if (g.size !== undefined) q.set('n', String(g.size));
  if (g.contentType !== undefined) q.set('t', g.contentType);
  if (g.filename !== undefined) q.set('f', g.filename);
  if (g.inline) q.set('d', 'inline');
  q.set('s', mac(secret, g).toString('base64url'));
  return q.toString();
}

const UINT_RE = /^\d{1,15}$/;

/** Checks a request's method, key and query against the signature, at `nowS` (unix seconds). */
export function verifyGrant(secret: string, method: string, key: ObjectKey, query: URLSearchParams, nowS: number): GrantCheck {
  const e = query.get('e');
  const n = query.get('n');
  const s = query.get('s');
  const d = query.get('d');
  if (method !== 'GET' && method !== 'PUT') return { ok: false, reason: 'malformed' };
  if (!e || !UINT_RE.test(e) || !s || (n !== null && !UINT_RE.test(n)) || (d !== null && d !== 'inline')) {
    return { ok: false, reason: 'malformed' };
  }
  const grant: Grant = {
    method, key, expiresAt: Number(e),
    ...(n !== null ? { size: Number(n) } : {}),
    ...(query.has('t') ? { contentType: query.get('t') as string } : {}),
    ...(query.has('f') ? { filename: query.get('f') as string } : {}),
    ...(d ? { inline: true } : {}),
  };
  const given = Buffer.from(s, 'base64url');
  const expected = mac(secret, grant);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  // Checked after the signature, so that a tampered expiry reads as tampering, not as expiry.
  if (grant.expiresAt < nowS) return { ok: false, reason: 'expired' };
  return { ok: true, grant };
}
