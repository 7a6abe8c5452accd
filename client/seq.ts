// Which stream events to emit: each seq once, in increasing order. The server already delivers in
// order and resumes without gap or duplicate; this guards the application against what a client
// can still cause (two overlapping sockets, a replay racing a live frame after a reconnect).
// Seqs are opaque to applications. The SDK orders them by their current form, Redis stream ids
// `<ms>-<n>`; a seq of another form is only de-duplicated, never reordered.

const STREAM_ID = /^(\d+)-(\d+)$/;

/** <0, 0, >0 like a comparator; undefined when either is not a stream id. */
export function compareSeq(a: string, b: string): number | undefined {
  const x = STREAM_ID.exec(a);
  const y = STREAM_ID.exec(b);
  if (!x || !y) return undefined;
  const ms = BigInt(x[1]!) - BigInt(y[1]!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const n = BigInt(x[2]!) - BigInt(y[2]!);
  return n === 0n ? 0 : n < 0n ? -1 : 1;
}

/** The last processed seq and a window of recent ones, deciding what is new. */
export class SeqTracker {
  private recent = new Set<string>();
  constructor(public last: string | null = null, private readonly window = 1024) {}

  /** Whether an event with this seq is new (then it becomes `last`). */
  accept(seq: string): boolean {
    if (this.recent.has(seq)) return false;
    if (this.last !== null) {
      const c = compareSeq(seq, this.last);
      if (c !== undefined && c <= 0) return false;
    }
    this.last = seq;
    this.recent.add(seq);
    if (this.recent.size > this.window) {
      const oldest = this.recent.values().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    return true;
  }

  /** After /api/sync: the snapshot replaces everything before `seq`. */
  reset(seq: string): void {
    this.last = seq;
    this.recent.clear();
  }
}
