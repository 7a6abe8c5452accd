// The HTML page of a run: the markdown summary's key tables plus latency-over-time, throughput,
// connections and CPU charts, all inline.
import type { Report } from './model.js';
import { esc, lineChart, type Series } from './svg.js';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function renderHtml(r: Report, markdown: string): string {
  const tl = r.timeline;
  const bands = r.stages.map((s) => ({ from: s.startS, to: s.startS + s.durationS, label: s.name }));
  const pts = (f: (p: (typeof tl)[number]) => number): [number, number][] => tl.map((p) => [p.t, f(p)]);
  const charts = [
    lineChart({ title: 'message.created end-to-end latency (per second, by receive time)', yLabel: 'ms', bands, series: [
      { name: 'p50', color: COLORS[2] as string, points: pts((p) => p.e2eP50) },
      { name: 'p95', color: COLORS[1] as string, points: pts((p) => p.e2eP95) },
      { name: 'p99', color: COLORS[3] as string, points: pts((p) => p.e2eP99) },
    ] }),
    lineChart({ title: 'Throughput', yLabel: 'per second', bands, series: [
      { name: 'sent', color: COLORS[0] as string, points: pts((p) => p.sentPerS) },
      { name: 'accepted', color: COLORS[2] as string, points: pts((p) => p.acceptedPerS) },
      { name: 'delivered', color: COLORS[4] as string, points: pts((p) => p.receivedPerS) },
      { name: 'errors+5xx+429', color: COLORS[3] as string, points: pts((p) => p.errorsPerS + p.http5xxPerS + p.http429PerS) },
    ] }),
    lineChart({ title: 'Websocket clients', yLabel: 'clients', bands, series: [
      { name: 'live', color: COLORS[0] as string, points: pts((p) => p.live) },
      { name: 'connecting', color: COLORS[1] as string, points: pts((p) => p.connecting) },
    ] }),
    lineChart({ title: 'CPU per process (100 = one core)', yLabel: '% of a core', series: Object.entries(r.processSeries).map(([label, s], i): Series => ({
      name: label, color: COLORS[i % COLORS.length] as string, points: s.map((p) => [p.t, p.cpuPct]),
    })) }),
    lineChart({ title: 'RSS per process', yLabel: 'MB', series: Object.entries(r.processSeries).map(([label, s], i): Series => ({
      name: label, color: COLORS[i % COLORS.length] as string, points: s.map((p) => [p.t, p.rssMb]),
    })) }),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chorus benchmark ${esc(r.profile.name)} ${esc(r.run.startedAt)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px;white-space:pre-wrap}
.verdict{font-size:1.4em;font-weight:bold;color:${r.ok ? '#2a7' : '#c33'}}figure{margin:1.5em 0}</style></head>
<body><h1>Chorus benchmark: ${esc(r.profile.name)}</h1><p class="verdict">${r.ok ? 'PASS' : 'FAIL'}</p>
${charts.map((c) => `<figure>${c}</figure>`).join('\n')}
<h2>Summary</h2><pre>${esc(markdown)}</pre>
</body></html>
`;
}
