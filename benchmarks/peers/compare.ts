// `npm run bench -- peer`: the same profile (profiles/peer.json, the max profile's rate search)
// against a private Chorus (--spawn stack, CHORUS_GATEWAYS=N) and then against the Socket.IO peer
// (N processes, its own Redis), with the same generator, world and seeds; then the Chorus/peer
// ratios of the knee, CPU per delivery and RSS per connection.
import fs from 'node:fs';
import path from 'node:path';
import { loadProfile, type Profile } from '../lib/profile.js';
import { runBench } from '../coordinator/bench.js';
import type { Report } from '../report/model.js';
import { startSocketIoPeer } from './socketio/stack.js';

export interface PeerOptions {
  scale: number;
  clients: number;
  /** Gateway processes of Chorus = Socket.IO processes of the peer. */
  processes: number;
  outDir: string;
  workers?: number;
  say: (line: string) => void;
}

export interface SystemFigures {
  system: string;
  report: string;
  ok: boolean;
  kneeMsgsPerS: number | null;
  kneeDeliveriesPerS: number | null;
  lastStep: string;
  deliveries: number;
  lost: number;
  duplicates: number;
  reordered: number;
  serverCpuSeconds: number;
  cpuSecondsPer1000: number | null;
  serverPeakRssMb: number;
  gatewayPeakRssMb: number;
  rssKbPerConnection: number;
  gatewayRssKbPerConnection: number;
  connections: number;
}

const NOT_SERVER = new Set(['coordinator', 'generator']);
const GATEWAY = new Set(['gateway', 'socketio']);

export function figuresOf(system: string, r: Report, file: string): SystemFigures {
  const fanout = r.world.participantsPerThread;
  const server = r.processes.filter((p) => !NOT_SERVER.has(p.label));
  const cpu = server.reduce((a, p) => a + p.cpuSeconds, 0);
  const peak = server.reduce((a, p) => a + p.peakRssMb, 0);
  const gw = server.filter((p) => GATEWAY.has(p.label)).reduce((a, p) => a + p.peakRssMb, 0);
  const deliveries = r.stages.reduce((a, s) => a + s.received, 0);
  const steps = r.rateSearch?.steps ?? [];
  const last = steps[steps.length - 1];
  const counter = (k: string) => (r.metrics[k]?.type === 'counter' ? (r.metrics[k] as { count: number }).count : 0);
  const conns = r.connections.ok - r.connections.resumes;
  const knee = r.rateSearch?.kneePerS ?? null;
  return {
    system, report: file, ok: r.ok, kneeMsgsPerS: knee, kneeDeliveriesPerS: knee === null ? null : knee * fanout,
    lastStep: last ? `${last.ratePerS}/s: ${last.ok ? 'ok' : last.reason}` : '–',
    deliveries, lost: r.delivery.lost, duplicates: r.delivery.duplicates, reordered: counter('seq_reordered'),
    serverCpuSeconds: cpu, cpuSecondsPer1000: deliveries ? (cpu / deliveries) * 1000 : null,
    serverPeakRssMb: peak, gatewayPeakRssMb: gw, connections: conns,
    rssKbPerConnection: conns ? (peak * 1024) / conns : 0, gatewayRssKbPerConnection: conns ? (gw * 1024) / conns : 0,
  };
}

/**
 * CPU-seconds per 1,000 deliveries over the rate steps both systems held, from the per-second
 * process series (sampled from the run's start, ±1 s of the stage clock): the same offered load on
 * both sides, unlike the whole-ramp figure whose steps differ.
 */
export function commonStepsCpu(a: Report, b: Report): { steps: string[]; a: number | null; b: number | null } {
  const held = (r: Report) => new Set((r.rateSearch?.steps ?? []).filter((s) => s.ok).map((s) => `rate-${s.ratePerS}`));
  const hb = held(b);
  const steps = [...held(a)].filter((x) => hb.has(x));
  const per = (r: Report): number | null => {
    const stages = r.stages.filter((s) => steps.includes(s.name));
    const deliveries = stages.reduce((acc, s) => acc + s.received, 0);
    if (!deliveries) return null;
    let cpu = 0;
    for (const [label, series] of Object.entries(r.processSeries)) {
      if (NOT_SERVER.has(label)) continue;
      for (const pt of series) if (stages.some((s) => pt.t > s.startS && pt.t <= s.startS + s.durationS)) cpu += pt.cpuPct / 100;
    }
    return (cpu / deliveries) * 1000;
  };
  return { steps, a: per(a), b: per(b) };
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || !b ? '–' : (a / b).toFixed(2));
const n = (x: number | null, d = 1) => (x === null ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d }));

export function ratioTable(c: SystemFigures, p: SystemFigures, notes: string[], common?: ReturnType<typeof commonStepsCpu>): string {
  const rows: [string, number | null, number | null, string][] = [
    ...(common ? [[`server CPU-seconds per 1,000 deliveries, steps both held (${common.steps.length ? `${common.steps[0]}…${common.steps[common.steps.length - 1]}` : 'none'})`, common.a, common.b, 'lower is better'] as [string, number | null, number | null, string]] : []),
    ['knee: highest rate with e2e p99 ≤ 100 ms (msgs/s)', c.kneeMsgsPerS, p.kneeMsgsPerS, 'higher is better'],
    ['knee deliveries/s (× fanout)', c.kneeDeliveriesPerS, p.kneeDeliveriesPerS, 'higher is better'],
    ['server CPU-seconds per 1,000 deliveries (whole ramp)', c.cpuSecondsPer1000, p.cpuSecondsPer1000, 'lower is better'],
    ['server RSS per connection, all server processes (KB, peak)', c.rssKbPerConnection, p.rssKbPerConnection, 'lower is better'],
    ['RSS per connection, connection-holding processes only (KB, peak)', c.gatewayRssKbPerConnection, p.gatewayRssKbPerConnection, 'lower is better'],
    ['server CPU-seconds (whole ramp)', c.serverCpuSeconds, p.serverCpuSeconds, ''],
    ['deliveries (whole ramp)', c.deliveries, p.deliveries, ''],
  ];
  const lines = [
    `| figure | Chorus | Socket.IO peer | Chorus/peer | |`, '|---|---|---|---|---|',
    ...rows.map(([k, a, b, h]) => `| ${k} | ${n(a, 3)} | ${n(b, 3)} | ${ratio(a, b)} | ${h} |`),
    `| last step | ${c.lastStep} | ${p.lastStep} | | |`,
    `| lost / duplicated / reordered | ${c.lost} / ${c.duplicates} / ${c.reordered} | ${p.lost} / ${p.duplicates} / ${p.reordered} | | |`,
    `| connections | ${c.connections} | ${p.connections} | | |`,
    `| reports | ${path.basename(c.report)} | ${path.basename(p.report)} | | |`,
  ];
  return `${lines.join('\n')}\n${notes.map((x) => `- ${x}`).join('\n')}\n`;
}

function peerProfile(clients: number): Profile {
  const base = loadProfile('peer');
  return { ...base, world: { ...base.world, users: clients }, startConnections: clients };
}

export async function runPeerComparison(o: PeerOptions): Promise<{ ok: boolean; text: string; file: string }> {
  const profile = peerProfile(o.clients);
  const notes = [
    `same profile both times: ${o.clients} clients, ${profile.world.tenants} tenants, threads of ${profile.world.participantsPerThread}, rate search from ${profile.rateSearch?.startPerS}/s ×${profile.rateSearch?.stepFactor} per ${Math.max(5, Math.round((profile.rateSearch?.stepS ?? 30) * o.scale * 10) / 10)} s step (scale ${o.scale})`,
    `${o.processes} Chorus gateway process(es) (CHORUS_GATEWAYS) vs ${o.processes} Socket.IO process(es) (node:cluster, websocket transport only)`,
    'Redis on both sides: appendonly yes, appendfsync always (the peer\'s Redis is a private redis-server on loopback TCP)',
    'Chorus also persists every message (stream + Postgres via processors) and runs its processors; the peer only numbers (INCR) and emits via the adapter (XADD): its "server" is Redis + the Socket.IO processes',
    'ordering: Chorus is checked per user across threads, the peer per thread (Socket.IO promises no cross-room order)',
  ];
  o.say(`== Chorus (spawned, CHORUS_GATEWAYS=${o.processes}) ==`);
  const chorus = await runBench({
    profile, scale: o.scale, spawn: true, outDir: o.outDir, workers: o.workers, say: o.say,
    spawnEnv: { CHORUS_GATEWAYS: String(o.processes) }, notes: ['peer comparison: Chorus side'],
  });
  o.say(`== Socket.IO peer (${o.processes} process(es), redis-streams-adapter) ==`);
  const stack = await startSocketIoPeer({ processes: o.processes, logDir: o.outDir });
  let peer;
  try {
    o.say(`peer up at ${stack.url} (pids ${stack.pids.join(', ')}, log ${stack.logFile})`);
    peer = await runBench({
      profile, scale: o.scale, url: stack.url, pids: stack.pids, peer: 'socketio', outDir: o.outDir, workers: o.workers, say: o.say,
      tenantPrefix: 'peer', notes: ['peer comparison: Socket.IO side (@socket.io/redis-streams-adapter, Redis appendfsync always)'],
    });
  } finally {
    await stack.stop();
  }
  const c = figuresOf('chorus', chorus.report, chorus.files.json);
  const p = figuresOf('socketio', peer.report, peer.files.json);
  const common = commonStepsCpu(chorus.report, peer.report);
  const text = `# Chorus vs Socket.IO peer (${new Date().toISOString()})\n\n${ratioTable(c, p, notes, common)}`;
  const file = path.join(o.outDir, `peer-compare-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 17)}Z.md`);
  fs.writeFileSync(file, text);
  fs.writeFileSync(file.replace(/\.md$/, '.json'), JSON.stringify({ chorus: c, peer: p, commonStepsCpuPer1000: common, notes }, null, 2));
  return { ok: chorus.report.ok && peer.report.ok, text, file };
}
