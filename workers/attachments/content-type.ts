// Type rules of the pipeline, pure: which declared types get thumbnails, and whether the real type
// (from magic bytes, file-type) matches the declared one. Text has no magic bytes: text/plain is
// accepted when nothing binary is detected and the head is UTF-8 without NUL bytes.

/** Types sharp turns into thumbnails (the first frame of animated ones). */
export const THUMBNAIL_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** How many leading bytes the text check reads. */
export const TEXT_SNIFF_BYTES = 64 * 1024;

export function looksLikeText(head: Uint8Array): boolean {
  if (head.includes(0)) return false;
  try {
    // stream: a multi-byte character cut at the end of the head is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

export type TypeVerdict = { ok: true } | { ok: false; detected: string };

/** `detected` is file-type's mime type, undefined when it recognized nothing. */
export function judgeType(declared: string, detected: string | undefined, head: Uint8Array): TypeVerdict {
  if (detected) return detected === declared ? { ok: true } : { ok: false, detected };
  if (declared === 'text/plain' && looksLikeText(head)) return { ok: true };
  return { ok: false, detected: declared === 'text/plain' ? 'binary' : 'unknown' };
}
