// Everything one generator measures: counters, keyed counts and HdrHistograms (microseconds).
// `interval` collects e2e latencies since the last tick, for the latency-over-time series.
import { HistogramSet, newHistogram, recordUs, encode, type Histogram } from '../lib/histogram.js';
import type { TickCounters } from '../lib/ipc.js';

export type CountMap = Record<string, number>;

export function bump(m: CountMap, k: string, by = 1): void {
  m[k] = (m[k] ?? 0) + by;
}

export class WorkerStats {
  readonly hist = new HistogramSet();
  interval: Histogram = newHistogram();
  readonly tick: TickCounters = {
    sent: 0, accepted: 0, http5xx: 0, http429: 0, http4xx: 0, httpErrors: 0, droppedIterations: 0, inflight: 0,
    received: 0, live: 0, connecting: 0, connectOk: 0, connectFail: 0, disconnects: 0, presenceSent: 0, presenceReceived: 0,
  };
  /** Named counters reported once at the end (duplicates, reorders, resumes…). */
  readonly counters: CountMap = {};
  readonly httpStatus: CountMap = {};
  readonly connectFailures: CountMap = {};
  readonly closeCodes: CountMap = {};
  readonly errorFrames: CountMap = {};
  readonly framesByType: CountMap = {};

  record(name: string, us: number): void {
    recordUs(this.hist.get(name), us);
  }

  count(name: string, by = 1): void {
    bump(this.counters, name, by);
  }

  /** The interval histogram since the last call, encoded, and a fresh one in its place. */
  takeInterval(): string {
    const s = encode(this.interval);
    this.interval = newHistogram();
    return s;
  }
}
