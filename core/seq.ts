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

/**
 * Negative when a < b, 0 when equal, positive when a > b. Runs for every event and connection on
 * the fanout path, so without BigInt: the milliseconds (at most 15 digits) are exact as a Number,
 * and the sequence part (up to 19 digits) compares by length, then as a string; only a client's
 * seq written with leading zeros (Redis never writes one) takes the BigInt path.
 */
export function compareSeq(a: Seq, b: Seq): number {
  const ia = a.indexOf('-');
  const ib = b.indexOf('-');
  const am = Number(a.slice(0, ia));
  const bm = Number(b.slice(0, ib));
  if (am !== bm) return am < bm ? -1 : 1;
  const an = a.slice(ia + 1);
  const bn = b.slice(ib + 1);
  if (an === bn) return 0;
  if (an.length === bn.length) return an < bn ? -1 : 1;
  if ((an.length > 1 && an[0] === '0') || (bn.length > 1 && bn[0] === '0')) {
    const x = BigInt(an);
    const y = BigInt(bn);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  return an.length < bn.length ? -1 : 1;
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
