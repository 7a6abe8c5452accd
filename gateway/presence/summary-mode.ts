// The backstop's state machine: a gateway whose presence queue (updates received but not yet
// written) passes `threshold` enters summary mode; it leaves once the queue is below `recovery`
// and it has stayed at least `minDwellMs` (so that every affected subscriber got a summary and the
// mode cannot flap on every tick). Pure: the fanout feeds it depths and acts on the transitions.
import { countStatuses, type Counts, type PresenceUpdate, type Status } from './status.js';

export interface SummaryThresholds {
  threshold: number;
  recovery: number;
  minDwellMs: number;
}

export type ModeChange = 'enter' | 'exit' | null;

export class SummaryMode {
  active = false;
  since = 0;

  constructor(private readonly t: SummaryThresholds) {}

  check(depth: number, now: number): ModeChange {
    if (!this.active && depth > this.t.threshold) {
      this.active = true;
      this.since = now;
      return 'enter';
    }
    if (this.active && depth < this.t.recovery && now - this.since >= this.t.minDwellMs) {
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
