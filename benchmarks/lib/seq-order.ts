// Ordering of stream positions for the delivery checks. The contract calls `seq` opaque but totally
// ordered; Chorus's positions are Redis entry ids (core/seq.ts). The harness needs them as plain
// numbers to compare millions of them cheaply during reconciliation.
import { parseSeq, seqMillis } from '../../core/seq.js';

export interface SeqPos {
  ms: number;
  n: number;
}

export function seqPos(s: string): SeqPos | null {
  const seq = parseSeq(s);
  if (!seq) return null;
  return { ms: seqMillis(seq), n: Number(seq.slice(seq.indexOf('-') + 1)) };
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function comparePos(a: SeqPos, b: SeqPos): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.n - b.n;
}

export function posAfter(ms: number, n: number, floor: SeqPos): boolean {
  return ms !== floor.ms ? ms > floor.ms : n > floor.n;
}
