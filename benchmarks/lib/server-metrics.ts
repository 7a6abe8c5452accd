// The server's own view of a run: counters of /metrics scraped before and after, as deltas.
// With several gateway processes on one port (SO_REUSEPORT) a scrape reaches one of them only;
// the report says how many gateways there were.
export type Series = Map<string, number>;

export function parsePrometheus(text: string): Series {
  const out: Series = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/**
 * The processor roles' /metrics (ops/roles.ts: PORT + 110, + 120, + 130 for the first copy of each),
 * merged; null when none answered (a stack with other ports, or a peer).
 */
export async function scrapeProcessors(gatewayUrl: string): Promise<Series | null> {
  const u = new URL(gatewayUrl);
  const port = Number(u.port || 80);
  const parts = await Promise.all([110, 120, 130].map((d) => scrape(`${u.protocol}//${u.hostname}:${port + d}`)));
  const found = parts.filter((p): p is Series => p !== null);
  if (!found.length) return null;
  const out: Series = new Map();
  for (const p of found) for (const [k, v] of p) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/**
 * Entries per queue-lag bucket over the run, from the delta of chorus_processor_event_age_seconds
 * (every group summed): [upper bound in seconds (Infinity for +Inf), entries in that bucket].
 */
export function queueLagBuckets(before: Series | null, after: Series | null): [number, number][] | null {
  if (!after) return null;
  const cumulative = new Map<number, number>();
  for (const [k, v] of after) {
    const m = /^chorus_processor_event_age_seconds_bucket\{.*le="([^"]+)".*\}$/.exec(k);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    cumulative.set(le, (cumulative.get(le) ?? 0) + v - (before?.get(k) ?? 0));
  }
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  return bounds.map((le, i) => [le, (cumulative.get(le) as number) - (i ? (cumulative.get(bounds[i - 1] as number) as number) : 0)]);
}

export async function scrape(url: string): Promise<Series | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? parsePrometheus(await res.text()) : null;
  } catch {
    return null;
  }
}

/** Sum of the deltas of every series of `name` whose labels contain all of `labels`. */
export function delta(before: Series | null, after: Series | null, name: string, labels: Record<string, string> = {}): number | null {
  if (!after) return null;
  let sum = 0;
  for (const [k, v] of after) {
    if (k !== name && !k.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([lk, lv]) => k.includes(`${lk}="${lv}"`))) continue;
    sum += v - (before?.get(k) ?? 0);
  }
  return sum;
}

export interface ServerView {
  scraped: boolean;
  criticalDropped: number | null;
  importantDropped: number | null;
  bestEffortDropped: number | null;
  bestEffortSent: number | null;
  eventsSent: number | null;
  http5xx: number | null;
  wsConnectsOk: number | null;
  replayedEvents: number | null;
  deadLettered: number | null;
  /** Queue lag of the processor groups (see queueLagBuckets); null when their /metrics were not reachable. */
  queueLag: [number, number][] | null;
}

/** The sum of the known values; null when none is known. */
function sumKnown(xs: (number | null)[]): number | null {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

export function serverView(before: Series | null, after: Series | null, processors?: { before: Series | null; after: Series | null }): ServerView {
  const d = (n: string, l?: Record<string, string>) => delta(before, after, n, l);
  const http5xx = after
    ? [...after.keys()].filter((k) => k.startsWith('chorus_http_requests_total{') && /status="5\d\d"/.test(k))
        .reduce((a, k) => a + (after.get(k) as number) - (before?.get(k) ?? 0), 0)
    : null;
  return {
    scraped: !!after,
    criticalDropped: d('chorus_ws_events_dropped_total', { priority: 'critical' }),
    importantDropped: d('chorus_ws_events_dropped_total', { priority: 'important' }),
    bestEffortDropped: d('chorus_ws_events_dropped_total', { priority: 'best_effort' }),
    bestEffortSent: d('chorus_ws_events_sent_total', { priority: 'best_effort' }),
    eventsSent: d('chorus_ws_events_sent_total'),
    http5xx,
    wsConnectsOk: d('chorus_ws_connects_total', { outcome: 'ok' }),
    replayedEvents: d('chorus_ws_replayed_events_total'),
    deadLettered: sumKnown([d('chorus_dead_lettered_total'), processors ? delta(processors.before, processors.after, 'chorus_dead_lettered_total') : null]),
    queueLag: processors ? queueLagBuckets(processors.before, processors.after) : null,
  };
}
