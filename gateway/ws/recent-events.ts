// The most recent events a gateway tailed for one tenant, kept contiguous and bounded. Resuming
// connections read their replay from here instead of Redis: in a reconnect storm (a gateway
// recycled, a network flap) thousands of clients resume from nearly the same position and share
// one copy of those events instead of each issuing its own XRANGE.
import { compareSeq, type Seq } from '../../core/seq.js';
import type { StreamEvent } from '../../core/events/index.js';

export class RecentEvents {
  private events: StreamEvent[] = [];
  /** Exclusive lower bound: every event after `from` up to the newest is held. */
  private from: Seq;

  constructor(start: Seq, private readonly capacity: number) {
    this.from = start;
  }

  /** Appends events that directly follow the newest one held (the tail reads them in order). */
  push(e: StreamEvent): void {
    if (this.capacity <= 0) {
      this.from = e.seq;
      return;
    }
    this.events.push(e);
    if (this.events.length > this.capacity * 1.25) {
      // Trim in chunks so the array is not shifted on every push.
      const drop = this.events.length - this.capacity;
      this.from = this.events[drop - 1]!.seq;
      this.events = this.events.slice(drop);
    }
  }

  get newest(): Seq {
    return this.events.length ? this.events[this.events.length - 1]!.seq : this.from;
  }

  /** True when every event after `after` (up to `newest`) is held. */
  covers(after: Seq): boolean {
    return compareSeq(after, this.from) >= 0;
  }

  /** Events in (after, until], oldest first; only call when covers(after). */
  range(after: Seq, until: Seq): StreamEvent[] {
    const a = this.firstAfter(after);
    const b = this.firstAfter(until);
    return this.events.slice(a, b);
  }

  private firstAfter(s: Seq): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareSeq(this.events[mid]!.seq, s) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
