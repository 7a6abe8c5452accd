// The backstop's state machine: a gateway whose presence queue (updates received but not yet
// written) passes `threshold` enters summary mode; it leaves once every sample of the queue has
// stayed below `recovery` for `minDwellMs` (so that every affected subscriber got a summary, and a
// sustained burst, whose backlog dips between waves, keeps the mode instead of flapping in and out).
// Pure: the fanout feeds it depths and acts on the transitions.
import type { Status } from '../../core/presence.js';
import { countStatuses, type Counts, type PresenceUpdate } from './status.js';

export interface SummaryThresholds {
  threshold: number;
  recovery: number;
  minDwellMs: number;
}

export type ModeChange = 'enter' | 'exit' | null;

export class SummaryMode {
  active = false;
  since = 0;
  /** Last sample at or above the recovery watermark. */
  private busyAt = 0;

  constructor(private readonly t: SummaryThresholds) {}

  check(depth: number, now: number): ModeChange {
    if (!this.active) {
      if (depth <= this.t.threshold) return null;
      this.active = true;
      this.since = this.busyAt = now;
      return 'enter';
    }
    if (depth >= this.t.recovery) this.busyAt = now;
    else if (now - this.busyAt >= this.t.minDwellMs) {
      this.active = false;
      return 'exit';
    }
    return null;
  }
}

/** presence.summary counts over the users a subscriber watches (users not loaded yet are left out). */
export function summaryCounts(watched: Iterable<string>, known: Map<string, PresenceUpdate>): Counts {
  const statuses: Status[] = [];
  for (const u of watched) {
    const k = known.get(u);
    if (k) statuses.push(k.status);
  }
  return countStatuses(statuses);
}
