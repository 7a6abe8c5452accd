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
}

export function serverView(before: Series | null, after: Series | null): ServerView {
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
    deadLettered: d('chorus_dead_lettered_total'),
  };
}
