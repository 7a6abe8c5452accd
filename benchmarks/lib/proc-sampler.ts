// CPU and memory of the processes of a run, sampled every second from /proc: CPU from utime+stime
// of /proc/<pid>/stat (clock ticks), RSS from VmRSS of /proc/<pid>/status; and the whole machine's
// busy share from /proc/stat, so the report can say how much of the box the generator itself ate
// and how much went to neighbours.
import fs from 'node:fs';
import os from 'node:os';
import type { ProcTarget } from './procs.js';

/** Linux USER_HZ: 100 on every mainstream kernel configuration. */
const CLK_TCK = 100;

export interface ProcStats {
  label: string;
  pids: number[];
  samples: number;
  avgCpuPct: number;
  peakCpuPct: number;
  cpuSeconds: number;
  avgRssMb: number;
  peakRssMb: number;
}

export interface ProcSeriesPoint {
  t: number;
  cpuPct: number;
  rssMb: number;
}

export interface SamplerReport {
  processes: ProcStats[];
  series: Record<string, ProcSeriesPoint[]>;
  machine: { cores: number; avgBusyPct: number; peakBusyPct: number; samples: number };
}

function cpuTicks(pid: number): number | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

interface Acc {
  pids: Set<number>;
  samples: number;
  cpuPctSum: number;
  peakCpu: number;
  cpuTicks: number;
  rssSum: number;
  peakRss: number;
}

export class ProcSampler {
  private timer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private targets: ProcTarget[] = [];
  private readonly prevTicks = new Map<number, number>();
  private prevAt = 0;
  private prevMachine = machineTicks();
  private readonly acc = new Map<string, Acc>();
  private readonly series: Record<string, ProcSeriesPoint[]> = {};
  private readonly machine = { sum: 0, peak: 0, samples: 0 };
  private readonly startedAt = Date.now();

  constructor(private readonly discover: () => ProcTarget[], private readonly intervalMs = 1000) {}

  start(): void {
    this.targets = this.discover();
    for (const t of this.targets) this.prevTicks.set(t.pid, cpuTicks(t.pid) ?? 0);
    this.prevAt = Date.now();
    this.prevMachine = machineTicks();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    // Postgres backends come and go, crashed roles are restarted under new pids.
    this.rescanTimer = setInterval(() => {
      this.targets = this.discover();
    }, 5000);
  }

  private sample(): void {
    const now = Date.now();
    const dt = (now - this.prevAt) / 1000;
    this.prevAt = now;
    if (dt <= 0) return;
    const m = machineTicks();
    const busyPct = m.total > this.prevMachine.total ? ((m.busy - this.prevMachine.busy) / (m.total - this.prevMachine.total)) * 100 : 0;
    this.prevMachine = m;
    this.machine.sum += busyPct;
    this.machine.peak = Math.max(this.machine.peak, busyPct);
    this.machine.samples++;
    const byLabel = new Map<string, { ticks: number; rss: number; pids: number[] }>();
    for (const t of this.targets) {
      const ticks = cpuTicks(t.pid);
      if (ticks === null) continue;
      const prev = this.prevTicks.get(t.pid);
      this.prevTicks.set(t.pid, ticks);
      const d = prev === undefined ? 0 : Math.max(0, ticks - prev);
      const e = byLabel.get(t.label) ?? { ticks: 0, rss: 0, pids: [] };
      e.ticks += d;
      e.rss += rssMb(t.pid);
      e.pids.push(t.pid);
      byLabel.set(t.label, e);
    }
    const t = Math.round((now - this.startedAt) / 1000);
    for (const [label, e] of byLabel) {
      const cpuPct = (e.ticks / CLK_TCK / dt) * 100;
      const a = this.acc.get(label) ?? { pids: new Set<number>(), samples: 0, cpuPctSum: 0, peakCpu: 0, cpuTicks: 0, rssSum: 0, peakRss: 0 };
      for (const p of e.pids) a.pids.add(p);
      a.samples++;
      a.cpuPctSum += cpuPct;
      a.peakCpu = Math.max(a.peakCpu, cpuPct);
      a.cpuTicks += e.ticks;
      a.rssSum += e.rss;
      a.peakRss = Math.max(a.peakRss, e.rss);
      this.acc.set(label, a);
      (this.series[label] ??= []).push({ t, cpuPct: Math.round(cpuPct * 10) / 10, rssMb: Math.round(e.rss) });
    }
  }

  stop(): SamplerReport {
    if (this.timer) clearInterval(this.timer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const processes = [...this.acc].map(([label, a]) => ({
      label, pids: [...a.pids].slice(0, 20), samples: a.samples,
      avgCpuPct: r1(a.cpuPctSum / a.samples), peakCpuPct: r1(a.peakCpu), cpuSeconds: r1(a.cpuTicks / CLK_TCK),
      avgRssMb: r1(a.rssSum / a.samples), peakRssMb: r1(a.peakRss),
    })).sort((a, b) => b.cpuSeconds - a.cpuSeconds);
    const n = this.machine.samples || 1;
    return {
      processes, series: this.series,
      machine: { cores: os.cpus().length, avgBusyPct: r1(this.machine.sum / n), peakBusyPct: r1(this.machine.peak), samples: this.machine.samples },
    };
  }
}
