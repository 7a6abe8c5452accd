// A stream position (`seq`): a Redis Stream entry id "<ms>-<n>". Clients treat it as opaque; we
// validate it before it reaches Redis and compare it numerically, never as a string.
export type Seq = string & { readonly __seq: unique symbol };

const SEQ_RE = /^(\d{1,15})-(\d{1,19})$/;

export function isSeq(v: unknown): v is Seq {
  return typeof v === 'string' && SEQ_RE.test(v);
}

export function parseSeq(v: unknown): Seq | null {
  return isSeq(v) ? v : null;
}

export const ZERO_SEQ = '0-0' as Seq;

function parts(s: Seq): [bigint, bigint] {
  const i = s.indexOf('-');
  return [BigInt(s.slice(0, i)), BigInt(s.slice(i + 1))];
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareSeq(a: Seq, b: Seq): number {
  const [am, an] = parts(a);
  const [bm, bn] = parts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (an !== bn) return an < bn ? -1 : 1;
  return 0;
}

export function maxSeq(a: Seq, b: Seq): Seq {
  return compareSeq(a, b) >= 0 ? a : b;
}

/** Milliseconds since the epoch at which Redis accepted the entry. */
export function seqMillis(s: Seq): number {
  return Number(s.slice(0, s.indexOf('-')));
}

/** A fixed-width string that sorts like the seq: for Postgres columns and opaque cursors. */
export function seqSortKey(s: Seq): string {
  const i = s.indexOf('-');
  return `${s.slice(0, i).padStart(15, '0')}-${s.slice(i + 1).padStart(19, '0')}`;
}
