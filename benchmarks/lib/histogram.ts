// HdrHistogram helpers. Values are recorded in microseconds and reported in milliseconds;
// histograms travel between processes as compressed base64 and are merged by addition, which is
// exact (percentiles of merged percentiles would not be).
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram };

export function newHistogram(): Histogram {
  // 1 µs .. 1 h at 3 significant digits; autoResize keeps a stray outlier from throwing.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function recordUs(h: Histogram, us: number): void {
  h.recordValue(Math.max(1, Math.round(us)));
}

export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s);
}

/** Adds an encoded histogram into `into` (no-op for empty strings). */
export function addEncoded(into: Histogram, s: string | undefined): void {
  if (s) into.add(decode(s));
}

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number) => Math.round(us) / 1000;

/** Milliseconds, 3 decimals. */
export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

export function percentileMs(h: Histogram, p: number): number {
  return h.totalCount ? ms(h.getValueAtPercentile(p)) : 0;
}

/** A named set of histograms (one per metric) that encodes to and merges from plain objects. */
export class HistogramSet {
  private readonly hs = new Map<string, Histogram>();

  get(name: string): Histogram {
    let h = this.hs.get(name);
    if (!h) this.hs.set(name, (h = newHistogram()));
    return h;
  }

  has(name: string): boolean {
    return this.hs.has(name);
  }

  names(): string[] {
    return [...this.hs.keys()];
  }

  encodeAll(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, h] of this.hs) out[k] = encode(h);
    return out;
  }

  addAll(encoded: Record<string, string>): void {
    for (const [k, s] of Object.entries(encoded)) addEncoded(this.get(k), s);
  }
}
