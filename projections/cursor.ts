// Opaque keyset cursors and page limits for every list of the API (contract section 2: `?limit=`
// default 50, clamped to 50; `?cursor=` from the previous page's `nextCursor`).
// A cursor is base64url of {"c": <ISO timestamp>, "i": <id>}: the last row of the previous page in
// an order of (timestamp desc, id desc). Clients treat it as opaque; we validate it strictly.
import { AppError } from '../core/errors.js';
import { isId } from '../core/ids.js';

export interface KeysetPosition {
  /** ISO timestamp with milliseconds, UTC (`Date.toISOString()`). */
  at: string;
  id: string;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 50;
const MAX_CURSOR_LENGTH = 256;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function encodeCursor(p: KeysetPosition): string {
  return Buffer.from(JSON.stringify({ c: p.at, i: p.id })).toString('base64url');
}

/**
 * Decodes the opaque envelope every list cursor shares (canonical base64url of a JSON object) and
 * returns its fields; `invalid` is thrown for anything an encoder here could not have produced.
 */
export function decodeCursorObject(cursor: unknown, invalid: () => Error): Record<string, unknown> {
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !B64URL_RE.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, 'base64url');
  // Canonical encodings only: a cursor that does not round-trip was not made here.
  if (text.toString('base64url') !== cursor) throw invalid();
  let v: unknown;
  try {
    v = JSON.parse(text.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalid();
  return v as Record<string, unknown>;
}

/** Throws AppError('invalid_cursor') for anything encodeCursor could not have produced. */
export function decodeCursor(cursor: unknown): KeysetPosition {
  const invalid = () => new AppError('invalid_cursor', 'cursor is not valid');
  const o = decodeCursorObject(cursor, invalid);
  const { c, i } = o;
  if (Object.keys(o).length !== 2 || typeof c !== 'string' || !ISO_MS_RE.test(c) || !isId(i)) throw invalid();
  const t = new Date(c);
  if (Number.isNaN(t.getTime()) || t.toISOString() !== c) throw invalid();
  return { at: c, id: i };
}

/**
 * The page size from a `limit` query value (string) or number: absent → DEFAULT_PAGE, above
 * MAX_PAGE → MAX_PAGE; anything but a positive integer is AppError('invalid_request').
 */
export function pageLimit(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_PAGE;
  let n: number;
  if (typeof raw === 'number') n = raw;
  // Digits of any length: a huge limit is still a limit above the maximum, so it is clamped.
  else if (typeof raw === 'string' && /^\d+$/.test(raw)) n = Number(BigInt(raw) > BigInt(MAX_PAGE) ? MAX_PAGE + 1 : raw);
  else n = NaN;
  if (!Number.isInteger(n) || n < 1) throw new AppError('invalid_request', 'limit must be a positive integer');
  return Math.min(n, MAX_PAGE);
}
