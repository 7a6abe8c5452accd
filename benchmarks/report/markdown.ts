// The human summary: printed at the end of a run and written next to the JSON.
import type { LatencySummary } from '../lib/histogram.js';
import type { Report } from './model.js';

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(digits));
const lat = (s: LatencySummary) => `${s.count} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.p99)} | ${fmt(s.max)}`;

function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  const d = r.delivery;
  out.push(`# Chorus benchmark: ${r.profile.name} — ${r.ok ? 'PASS' : 'FAIL'}`, '');
  out.push(`${r.profile.description}`, '');
  out.push(`- run ${r.run.id}, ${r.run.startedAt}, ${r.run.durationS} s (setup ${r.run.setupS} s), scale ${r.profile.scale}, profile v${r.profile.version}`);
  out.push(`- target ${r.run.url}${r.run.spawned ? ' (spawned by the harness)' : ''}, commit ${r.run.gitCommit ?? '?'}, node ${r.run.node}, ${r.run.host.cores} cores, load ${r.run.host.loadavgStart.map((x) => x.toFixed(2)).join('/')} at start`);
  out.push(`- world: ${r.world.users} clients in ${r.world.tenants.length} tenants, ${r.world.threads} threads × ${r.world.participantsPerThread} participants${r.world.hotTenant ? `, hot tenant ${r.world.hotTenant}` : ''}; ${r.run.generators} generator process(es)`);
  for (const n of r.run.notes) out.push(`- note: ${n}`);
  out.push('', '## Thresholds', '');
  out.push(r.thresholds.length
    ? table(['metric', 'threshold', 'observed', 'result'], r.thresholds.map((t) => [t.metric, `\`${t.expression}\``, fmt(t.observed, 4), t.ok ? (t.note ? `ok (${t.note})` : 'ok') : `**BREACHED**${t.note ? ` (${t.note})` : ''}`]))
    : '(none)');
  out.push('', '## Delivery', '');
  out.push(table(['expected', 'delivered', 'lost', 'duplicates', 'unexpected', 'seq reordered', 'seq duplicated', 'clients checked', 'never connected', 'gave up', 'resumed clients', 'lost after resume'], [[
    d.expected, d.delivered, d.lost, d.duplicates, d.unexpected, r.metrics['seq_reordered']?.type === 'counter' ? r.metrics['seq_reordered'].count : 0,
    r.metrics['seq_duplicated']?.type === 'counter' ? r.metrics['seq_duplicated'].count : 0, d.clientsChecked, d.clientsNeverConnected, d.clientsGaveUp, d.resumedClients, d.resumedLost,
  ]]));
  if (d.lostSamples.length) out.push('', `Lost (first ${d.lostSamples.length}): ${d.lostSamples.map((s) => `${s.tenant}/${s.user} thread#${s.threadIndex} seq ${s.seq}`).join('; ')}`);
  out.push('', '## Latency (ms)', '');
  const trends = ['message_e2e', 'message_e2e_others', 'message_e2e_hot', 'message_e2e_replayed', 'message_e2e_warmup', 'http_req_duration', 'http_req_duration_intended', 'send_lag', 'ws_connecting', 'ws_hello', 'ws_reconnect', 'presence_fanout', 'queue_lag'];
  out.push(table(['metric', 'count', 'p50', 'p95', 'p99', 'max'], trends.flatMap((k) => {
    const m = r.metrics[k];
    return m?.type === 'trend' && m.count ? [[k, lat(m)]] : [];
  })));
  out.push('', '## Stages', '');
  out.push(table(['stage', 'start s', 'dur s', 'msg/min', 'conns', 'sent', 'accepted', '5xx', '429', 'net err', 'dropped it.', 'e2e n', 'p50', 'p95', 'p99', 'max'],
    r.stages.map((s) => [`${s.name}${s.warmup ? ' (w)' : ''}`, s.startS, s.durationS, s.messagesPerMin, s.connections, s.sent, s.accepted, s.http5xx, s.http429, s.httpErrors, s.droppedIterations, lat(s.e2e)])));
  if (r.rateSearch) {
    out.push('', `## Rate search — knee: ${r.rateSearch.kneePerS ?? 'below the first step'} msg/s`, '');
    out.push(table(['rate/s', 'sent', 'e2e n', 'p99 ms', 'errors', 'verdict'], r.rateSearch.steps.map((s) => [s.ratePerS, s.sent, s.e2eCount, fmt(s.p99Ms), `${(s.errorRate * 100).toFixed(2)}%`, s.ok ? 'ok' : s.reason ?? 'breach'])));
  }
  if (r.tenants.others) {
    out.push('', '## Tenants (e2e ms)', '');
    out.push(table(['tenant', 'count', 'p50', 'p95', 'p99', 'max'], Object.entries(r.tenants.perTenant).map(([t, s]) => [t === r.world.hotTenant ? `${t} (hot)` : t, lat(s)])));
    out.push('', `Other tenants merged: ${lat(r.tenants.others)}`);
  }
  const c = r.connections;
  out.push('', '## Connections and HTTP', '');
  out.push(`- websocket: ${c.ok}/${c.attempts} connects ok (${c.successRate === null ? '–' : (c.successRate * 100).toFixed(3)}%); failures ${JSON.stringify(c.failures)}; unexpected disconnects ${c.unexpectedDisconnects} ${JSON.stringify(c.closeCodes)}`);
  out.push(`- resumes ${c.resumes} (resumed ${c.resumedHello}, replayed ${c.replayedEvents} events, resync.required ${c.resyncRequired}), storm drops ${c.stormDrops}, clients gave up ${c.gaveUp}`);
  out.push(`- HTTP: ${r.http.sent} sends, ${r.http.accepted} accepted, 5xx ${r.http.http5xx}, 429 ${r.http.http429}, other 4xx ${r.http.http4xx}, transport errors ${r.http.transportErrors}, dropped iterations ${r.http.droppedIterations}; status ${JSON.stringify(r.http.status)}`);
  out.push(`- frames: ${JSON.stringify(r.frames.byType)}; error frames ${JSON.stringify(r.frames.errors)}; heartbeats sent ${r.frames.heartbeatsSent}, presence transitions ${r.frames.presenceTransitionsSent}`);
  const s = r.server;
  out.push(`- server /metrics deltas: ${s.scraped ? `critical dropped ${s.criticalDropped}, important dropped ${s.importantDropped}, best-effort dropped ${s.bestEffortDropped}/${(s.bestEffortDropped ?? 0) + (s.bestEffortSent ?? 0)}, events sent ${s.eventsSent}, 5xx ${s.http5xx}, replayed ${s.replayedEvents}, dead-lettered ${s.deadLettered}` : 'not scraped'}`);
  out.push('', '## Processes (sampled every second)', '');
  out.push(table(['process', 'pids', 'avg CPU %', 'peak CPU %', 'CPU s', 'avg RSS MB', 'peak RSS MB'],
    r.processes.map((p) => [p.label, p.pids.length, fmt(p.avgCpuPct), fmt(p.peakCpuPct), fmt(p.cpuSeconds), fmt(p.avgRssMb), fmt(p.peakRssMb)])));
  out.push('', `Machine: ${r.machine.cores} cores, ${fmt(r.machine.avgBusyPct)}% busy on average (peak ${fmt(r.machine.peakBusyPct)}%) — 100% = all cores; CPU % per process is of one core.`);
  return out.join('\n') + '\n';
}
