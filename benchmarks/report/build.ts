// Turns what the generators, the timeline, the sampler and /metrics gathered into the Report,
// including the k6-style metrics the thresholds are evaluated against.
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { HistogramSet, newHistogram, summarize, type Histogram } from '../lib/histogram.js';
import type { LedgerResult, WorkerResult } from '../lib/ipc.js';
import type { Profile } from '../lib/profile.js';
import type { World } from '../lib/world.js';
import { evaluateThresholds, type Metric } from '../lib/thresholds.js';
import type { SamplerReport } from '../lib/proc-sampler.js';
import type { ServerView } from '../lib/server-metrics.js';
import type { Timeline } from '../coordinator/timeline.js';
import type { RateStep } from '../coordinator/drive.js';
import { REPORT_SCHEMA, type MetricReport, type Report, type StageReport } from './model.js';

export interface RawRun {
  profile: Profile;
  scale: number;
  runId: string;
  url: string;
  spawned: boolean;
  startedAt: Date;
  finishedAt: Date;
  setupS: number;
  loadavgStart: number[];
  notes: string[];
  world: World;
  results: WorkerResult[];
  ledger: LedgerResult;
  timeline: Timeline;
  sampler: SamplerReport;
  server: ServerView;
  gateways: number;
  rateSearch: { steps: RateStep[]; kneePerS: number | null } | null;
}

type Counts = Record<string, number>;

function sumMaps(maps: Counts[]): Counts {
  const out: Counts = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

function metricReport(m: Metric): MetricReport {
  if (m.type === 'trend') return { type: 'trend', ...summarize(m.histogram) };
  if (m.type === 'rate') return { type: 'rate', rate: m.total ? m.passes / m.total : null, passes: m.passes, total: m.total };
  return { type: 'counter', count: m.count };
}

export function buildReport(raw: RawRun): Report {
  const hs = new HistogramSet();
  for (const r of raw.results) hs.addAll(r.histograms);
  const c = sumMaps(raw.results.map((r) => r.counters));
  const n = (k: string) => c[k] ?? 0;
  const trend = (name: string): Metric => ({ type: 'trend', histogram: hs.has(name) ? hs.get(name) : newHistogram() });
  const counter = (count: number): Metric => ({ type: 'counter', count });

  // Per-tenant latency; with a hot tenant, the others are merged so their p99 can be judged alone.
  const perTenant: Record<string, ReturnType<typeof summarize>> = {};
  const hotName = raw.profile.world.hotTenant ? raw.world.tenants[0] ?? null : null;
  const others: Histogram = newHistogram();
  for (const name of hs.names().filter((k) => k.startsWith('e2e_tenant:')).sort()) {
    const tenant = name.slice('e2e_tenant:'.length);
    perTenant[tenant] = summarize(hs.get(name));
    if (hotName && tenant !== hotName) others.add(hs.get(name));
  }

  const sv = raw.server;
  // Queue lag from the processors' own histogram: each entry counted at its bucket's upper bound
  // (so percentiles are upper bounds); past the top bucket (300 s) it counts as 1 h.
  const queueLag = newHistogram();
  for (const [le, count] of sv.queueLag ?? []) if (count > 0) queueLag.recordValueWithCount(Math.round((Number.isFinite(le) ? le : 3600) * 1e6), count);
  const metrics: Record<string, Metric> = {
    ws_connect_success: { type: 'rate', passes: n('connectOk'), total: n('connectOk') + n('connectFail') },
    ws_connecting: trend('ws_connecting'),
    ws_hello: trend('ws_hello'),
    ws_reconnect: trend('reconnect'),
    ws_resume_success: { type: 'rate', passes: n('resumed_hello'), total: n('resumes') },
    message_e2e: trend('e2e'),
    message_e2e_warmup: trend('e2e_warmup'),
    message_e2e_replayed: trend('e2e_replayed'),
    message_e2e_hot: hotName ? trend(`e2e_tenant:${hotName}`) : { type: 'trend', histogram: newHistogram() },
    message_e2e_others: { type: 'trend', histogram: others },
    queue_lag: { type: 'trend', histogram: queueLag },
    presence_fanout: trend('presence_fanout'),
    http_req_duration: trend('http_req_duration'),
    http_req_duration_intended: trend('http_req_intended'),
    send_lag: trend('send_lag'),
    http_reqs: counter(n('sent')),
    http_5xx: counter(n('http5xx')),
    http_5xx_rate: { type: 'rate', passes: n('http5xx'), total: n('sent') },
    http_req_failed: { type: 'rate', passes: n('http5xx') + n('httpErrors'), total: n('sent') },
    http_429: counter(n('http429')),
    dropped_iterations: counter(n('droppedIterations')),
    messages_expected: counter(raw.ledger.expected),
    messages_lost: counter(raw.ledger.lost),
    messages_duplicated: counter(raw.ledger.duplicates),
    messages_unexpected: counter(raw.ledger.unexpected),
    replay_lost: counter(raw.ledger.resumedLost),
    seq_reordered: counter(n('seq_reordered')),
    seq_duplicated: counter(n('seq_duplicates')),
    resync_required: counter(n('resync_required')),
    clients_gave_up: counter(n('clients_gave_up')),
    server_critical_dropped: counter(sv.criticalDropped ?? 0),
    server_best_effort_dropped: { type: 'rate', passes: sv.bestEffortDropped ?? 0, total: (sv.bestEffortDropped ?? 0) + (sv.bestEffortSent ?? 0) },
  };
  const thresholds = evaluateThresholds(raw.profile.thresholds, metrics);

  const stages: StageReport[] = raw.timeline.stages.map((s) => {
    const t = raw.timeline.stageTotals.get(s.name);
    return {
      name: s.name, startS: Math.round((s.startUs - raw.timeline.t0Us) / 1e5) / 10, durationS: Math.round((s.endUs - s.startUs) / 1e5) / 10,
      warmup: s.warmup, messagesPerMin: Math.round(s.messagesPerS * 60), connections: s.connections, presencePerS: s.presencePerS,
      sent: t?.sent ?? 0, accepted: t?.accepted ?? 0, received: t?.received ?? 0, http5xx: t?.http5xx ?? 0, http429: t?.http429 ?? 0,
      httpErrors: t?.httpErrors ?? 0, droppedIterations: t?.dropped ?? 0, e2e: summarize(t?.e2e ?? newHistogram()),
    };
  });

  const attempts = n('connectOk') + n('connectFail');
  const e2e = summarize(metrics.message_e2e.type === 'trend' ? metrics.message_e2e.histogram : newHistogram());
  const gen = raw.sampler.processes.find((p) => p.label === 'generator');
  const chorusCpu = raw.sampler.processes.filter((p) => !['generator', 'coordinator'].includes(p.label)).reduce((a, p) => a + p.avgCpuPct, 0);
  const figures: Record<string, number> = {
    e2e_p50_ms: e2e.p50, e2e_p95_ms: e2e.p95, e2e_p99_ms: e2e.p99, e2e_max_ms: e2e.max, e2e_count: e2e.count,
    http_p50_ms: summarize(hs.get('http_req_duration')).p50, http_p99_ms: summarize(hs.get('http_req_duration')).p99,
    ws_hello_p95_ms: summarize(hs.get('ws_hello')).p95,
    connect_success_pct: attempts ? Math.round((n('connectOk') / attempts) * 1e5) / 1e3 : 0,
    messages_sent: n('sent'), messages_accepted: n('accepted'), messages_lost: raw.ledger.lost, messages_duplicated: raw.ledger.duplicates,
    deliveries: raw.ledger.delivered, http_5xx: n('http5xx'), http_429: n('http429'),
    generator_cpu_pct: gen?.avgCpuPct ?? 0, chorus_cpu_pct: Math.round(chorusCpu * 10) / 10, machine_busy_pct: raw.sampler.machine.avgBusyPct,
  };
  for (const p of raw.sampler.processes) figures[`cpu_pct:${p.label}`] = p.avgCpuPct;
  if (hotName) figures['e2e_others_p99_ms'] = summarize(others).p99;
  if (raw.rateSearch?.kneePerS != null) figures['knee_msgs_per_s'] = raw.rateSearch.kneePerS;

  const notes = [...raw.notes];
  if (raw.gateways > 1) notes.push(`${raw.gateways} gateway processes: the /metrics deltas come from whichever one answered the scrape`);
  const presenceErrors = sumMaps(raw.results.map((r) => r.errorFrames))['not_implemented'] ?? 0;
  if (presenceErrors) notes.push(`${presenceErrors} frames answered error not_implemented (presence.heartbeat is not served yet); counted, not failed`);

  return {
    schema: REPORT_SCHEMA,
    ok: thresholds.every((t) => t.ok),
    profile: { name: raw.profile.name, version: raw.profile.profileVersion, description: raw.profile.description, scale: raw.scale, definition: raw.profile },
    run: {
      id: raw.runId, startedAt: raw.startedAt.toISOString(), finishedAt: raw.finishedAt.toISOString(),
      durationS: Math.round((raw.finishedAt.getTime() - raw.startedAt.getTime()) / 100) / 10, url: raw.url, spawned: raw.spawned,
      generators: raw.results.length, gitCommit: gitCommit(), node: process.version,
      host: { cores: os.cpus().length, memTotalMb: Math.round(os.totalmem() / 2 ** 20), loadavgStart: raw.loadavgStart, loadavgEnd: os.loadavg() },
      setupS: raw.setupS, notes,
    },
    world: {
      tenants: raw.world.tenants, users: raw.world.users.length, threads: raw.world.threads.length,
      participantsPerThread: raw.profile.world.participantsPerThread, threadsPerUser: raw.profile.world.threadsPerUser, hotTenant: hotName,
    },
    stages,
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, metricReport(m)])),
    thresholds,
    delivery: raw.ledger,
    connections: {
      attempts, ok: n('connectOk'), failed: n('connectFail'), successRate: attempts ? n('connectOk') / attempts : null,
      failures: sumMaps(raw.results.map((r) => r.connectFailures)), closeCodes: sumMaps(raw.results.map((r) => r.closeCodes)),
      unexpectedDisconnects: n('disconnects'), stormDrops: n('storm_drops'), resumes: n('resumes'), resumedHello: n('resumed_hello'),
      replayedEvents: n('replayed_events'), resyncRequired: n('resync_required'), gaveUp: n('clients_gave_up'),
    },
    http: {
      sent: n('sent'), accepted: n('accepted'), status: sumMaps(raw.results.map((r) => r.httpStatus)), http5xx: n('http5xx'), http429: n('http429'),
      http4xx: n('http4xx'), transportErrors: n('httpErrors'), droppedIterations: n('droppedIterations'),
    },
    frames: {
      byType: sumMaps(raw.results.map((r) => r.framesByType)), errors: sumMaps(raw.results.map((r) => r.errorFrames)),
      heartbeatsSent: n('heartbeats_sent'), presenceTransitionsSent: n('presenceSent'),
      counters: Object.fromEntries(['foreign_messages', 'unparsable_frames', 'unparsable_bodies', 'seq_unparsable', 'accepted_without_seq', 'binary_frames'].map((k) => [k, n(k)])),
    },
    tenants: { perTenant, hot: hotName ? perTenant[hotName] ?? null : null, others: hotName ? summarize(others) : null },
    server: { ...sv, gateways: raw.gateways },
    processes: raw.sampler.processes,
    machine: raw.sampler.machine,
    processSeries: raw.sampler.series,
    timeline: raw.timeline.points,
    rateSearch: raw.rateSearch,
    figures,
  };
}
