// Per-second series of the run: the generators tick on whole seconds of the shared monotonic clock;
// a second is complete once every generator reported it (or 3 s later). Each second's e2e histogram
// is merged exactly, summarised, added to its stage's histogram and dropped.
import type { TickCounters } from '../lib/ipc.js';
import { decode, newHistogram, percentileMs, type Histogram } from '../lib/histogram.js';

export interface TimelinePoint {
  /** Seconds since the timeline start. */
  t: number;
  stage: string;
  live: number;
  connecting: number;
  sentPerS: number;
  acceptedPerS: number;
  receivedPerS: number;
  errorsPerS: number;
  http5xxPerS: number;
  http429PerS: number;
  presencePerS: number;
  e2eCount: number;
  e2eP50: number;
  e2eP95: number;
  e2eP99: number;
  e2eMax: number;
}

export interface StageWindow {
  name: string;
  startUs: number;
  endUs: number;
  warmup: boolean;
  messagesPerS: number;
  connections: number;
  presencePerS: number;
}

export interface StageTotals {
  e2e: Histogram;
  sent: number;
  accepted: number;
  received: number;
  http5xx: number;
  http429: number;
  httpErrors: number;
  dropped: number;
  connectFail: number;
  connectOk: number;
}

const GAUGES = new Set<keyof TickCounters>(['inflight', 'live', 'connecting']);

interface Bucket {
  hist: Histogram;
  reports: Map<number, TickCounters>;
  firstSeenMs: number;
}

export class Timeline {
  readonly points: TimelinePoint[] = [];
  readonly stages: StageWindow[] = [];
  readonly stageTotals = new Map<string, StageTotals>();
  private readonly buckets = new Map<number, Bucket>();
  private readonly last: (TickCounters | null)[];
  private readonly lastSec: number[];
  /** Latest cumulative counters per generator (for progress and drain detection). */
  readonly latest: (TickCounters | null)[];
  onPoint: (p: TimelinePoint) => void = () => {};

  constructor(private readonly workers: number, readonly t0Us: number) {
    this.last = new Array(workers).fill(null);
    this.lastSec = new Array(workers).fill(-Infinity);
    this.latest = new Array(workers).fill(null);
  }

  addStage(s: StageWindow): void {
    this.stages.push(s);
    if (!this.stageTotals.has(s.name)) {
      this.stageTotals.set(s.name, { e2e: newHistogram(), sent: 0, accepted: 0, received: 0, http5xx: 0, http429: 0, httpErrors: 0, dropped: 0, connectFail: 0, connectOk: 0 });
    }
  }

  stageAt(us: number): StageWindow | undefined {
    for (let i = this.stages.length - 1; i >= 0; i--) {
      const s = this.stages[i] as StageWindow;
      if (us >= s.startUs && us < s.endUs) return s;
    }
    return undefined;
  }

  onTick(worker: number, atUs: number, e2e: string, counters: TickCounters): void {
    this.latest[worker] = counters;
    const sec = Math.round(atUs / 1e6);
    let b = this.buckets.get(sec);
    if (!b) this.buckets.set(sec, (b = { hist: newHistogram(), reports: new Map(), firstSeenMs: Date.now() }));
    if (e2e) b.hist.add(decode(e2e));
    b.reports.set(worker, counters);
    if (b.reports.size === this.workers) this.finalize(sec);
    for (const [s, other] of this.buckets) if (Date.now() - other.firstSeenMs > 3000) this.finalize(s);
  }

  /** Totals since the start (sum of the latest cumulative counters). */
  totals(): TickCounters | null {
    if (this.latest.some((c) => c === null)) return null;
    const out = { ...(this.latest[0] as TickCounters) };
    for (const c of this.latest.slice(1)) for (const k of Object.keys(out) as (keyof TickCounters)[]) out[k] += (c as TickCounters)[k];
    return out;
  }

  private finalize(sec: number): void {
    const b = this.buckets.get(sec);
    if (!b) return;
    this.buckets.delete(sec);
    const delta = {} as Record<keyof TickCounters, number>;
    for (const [w, cur] of b.reports) {
      // A late second must not be counted against a newer one already finalized.
      if (sec <= (this.lastSec[w] as number)) continue;
      this.lastSec[w] = sec;
      const prev = this.last[w];
      for (const k of Object.keys(cur) as (keyof TickCounters)[]) {
        const d = GAUGES.has(k) ? cur[k] : cur[k] - (prev?.[k] ?? 0);
        delta[k] = (delta[k] ?? 0) + d;
      }
      this.last[w] = cur;
    }
    const atUs = sec * 1e6;
    const stage = this.stageAt(atUs - 500_000);
    const h = b.hist;
    const p: TimelinePoint = {
      t: Math.round((atUs - this.t0Us) / 1e6),
      stage: stage?.name ?? '-',
      live: delta.live ?? 0,
      connecting: delta.connecting ?? 0,
      sentPerS: delta.sent ?? 0,
      acceptedPerS: delta.accepted ?? 0,
      receivedPerS: delta.received ?? 0,
      errorsPerS: (delta.httpErrors ?? 0) + (delta.connectFail ?? 0),
      http5xxPerS: delta.http5xx ?? 0,
      http429PerS: delta.http429 ?? 0,
      presencePerS: delta.presenceSent ?? 0,
      e2eCount: h.totalCount,
      e2eP50: percentileMs(h, 50),
      e2eP95: percentileMs(h, 95),
      e2eP99: percentileMs(h, 99),
      e2eMax: h.totalCount ? Math.round(h.maxValue) / 1000 : 0,
    };
    this.points.push(p);
    if (stage) {
      const st = this.stageTotals.get(stage.name) as StageTotals;
      st.e2e.add(h);
      st.sent += delta.sent ?? 0;
      st.accepted += delta.accepted ?? 0;
      st.received += delta.received ?? 0;
      st.http5xx += delta.http5xx ?? 0;
      st.http429 += delta.http429 ?? 0;
      st.httpErrors += delta.httpErrors ?? 0;
      st.dropped += delta.droppedIterations ?? 0;
      st.connectFail += delta.connectFail ?? 0;
      st.connectOk += delta.connectOk ?? 0;
    }
    this.onPoint(p);
  }

  /** Finalizes whatever is still open (end of run). */
  flush(): void {
    for (const sec of [...this.buckets.keys()].sort((a, b) => a - b)) this.finalize(sec);
  }
}
