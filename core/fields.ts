// Field shapes (zod) every stored write shares, whichever layer takes the write: the write path
// (ingest/), notification preferences and provider callbacks (workers/notify/). Every string handed
// on to be stored passes `storedText` before the 202.
import { z } from 'zod';
import { ID_RE } from './ids.js';

/**
 * Why Postgres could not store `s` as it is, or undefined when it can. NUL is refused by text and
 * jsonb alike; a lone surrogate half (a string that is not well-formed UTF-16, e.g. an emoji cut in
 * two) reaches jsonb as a `\ud800` escape, which Postgres refuses, and text only as U+FFFD. Either
 * would be accepted with a 202 and then fail in every processor: so they are refused up front.
 * Everything else (control characters, bidi overrides, noncharacters) is stored as sent.
 */
export function unstorable(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (!s.isWellFormed()) return 'must be well-formed Unicode: no lone surrogate (an unpaired half of a 4-byte character)';
  return undefined;
}

/**
 * The one check of every stored string field: `z.string().check(storedText)`, or `.check(storedText)`
 * on a string format (email, url). It aborts, so a field gets this one issue rather than a pile.
 */
export const storedText = z.refine<string>((s) => unstorable(s) === undefined, {
  abort: true,
  error: (issue) => unstorable(String(issue.input)) ?? 'must be storable text',
});

/** A free-text string field that is stored. */
export const StoredText = z.string().check(storedText);

export const Id = StoredText.regex(ID_RE, 'must match ^[A-Za-z0-9_-]{1,64}$');

/** Characters as the contract counts them: code points, so an emoji is one. */
export const charCount = (s: string) => [...s].length;
