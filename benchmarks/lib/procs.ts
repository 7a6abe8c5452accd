// Finding the processes of the Chorus instance under test, by what they are rather than by name
// alone: other copies of Chorus may run on the same machine (other ports and data dirs). A gateway
// is ours when its PORT matches the URL; processors, supervisor, Redis and Postgres are ours when
// they belong to the same data dir (Postgres backends: children of our postmaster).
// Environment and cwd of other users' processes are unreadable unless we run as root or as them.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config/index.js';

export interface ProcTarget {
  pid: number;
  label: string;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = read(`/proc/${d}/stat`);
    const cmd = read(`/proc/${d}/cmdline`).replace(/\0/g, ' ').trim();
    if (!stat) continue;
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(d), ppid: Number(rest[1]), cmd });
  }
  return out;
}

function environ(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of read(`/proc/${pid}/environ`).split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

function cwd(pid: number): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '/';
  }
}

function dataDirOf(pid: number): string {
  return path.resolve(cwd(pid), environ(pid).get('CHORUS_DATA_DIR') ?? '.data');
}

export function labelFor(cmd: string): string {
  if (cmd.includes('dist/gateway/main.js')) return 'gateway';
  if (cmd.includes('dist/processors/main.js')) return `processor:${cmd.split('dist/processors/main.js')[1]?.trim().split(' ')[0] ?? '?'}`;
  if (cmd.includes('dist/ops/stack.js')) return 'supervisor';
  if (cmd.includes('peers/socketio/server.js')) return 'socketio';
  if (cmd.startsWith('redis-server') || cmd.includes('/redis-server')) return 'redis';
  if (cmd.startsWith('postgres') || cmd.includes('/postgres ')) return 'postgres';
  return path.basename(cmd.split(' ')[0] ?? `pid`);
}

/** Processes of the instance listening on `port`; `explicit` pids replace the discovery. */
export function discoverChorus(port: number, explicit?: number[]): { targets: ProcTarget[]; dataDirs: string[]; note?: string } {
  const procs = listProcs();
  if (explicit?.length) {
    return { targets: explicit.map((pid) => ({ pid, label: labelFor(procs.find((p) => p.pid === pid)?.cmd ?? '') })), dataDirs: [] };
  }
  const gateways = procs.filter((p) => p.cmd.includes('dist/gateway/main.js') && Number(environ(p.pid).get('PORT') ?? 8080) === port);
  if (!gateways.length) return { targets: [], dataDirs: [], note: `no dist/gateway/main.js process with PORT=${port} found` };
  const dataDirs = [...new Set(gateways.map((g) => dataDirOf(g.pid)))];
  const markers = new Set<string>();
  for (const d of dataDirs) {
    markers.add(d);
    markers.add(loadConfig({ CHORUS_DATA_DIR: d }).socketDir);
  }
  const ours = new Set<number>(gateways.map((g) => g.pid));
  for (const p of procs) {
    const isRole = p.cmd.includes('dist/processors/main.js') || p.cmd.includes('dist/ops/stack.js') || p.cmd.includes('dist/workers/');
    if (isRole && dataDirs.includes(dataDirOf(p.pid))) ours.add(p.pid);
    // Services started for the data dir (Redis, Postgres, clamd…) name it or its socket dir.
    if ([...markers].some((m) => p.cmd.includes(m))) ours.add(p.pid);
  }
  // Postgres backends and background workers are children of the postmaster.
  for (const p of procs) if (!ours.has(p.pid) && labelFor(p.cmd) === 'postgres' && ours.has(p.ppid)) ours.add(p.pid);
  return { targets: procs.filter((p) => ours.has(p.pid)).map((p) => ({ pid: p.pid, label: labelFor(p.cmd) })), dataDirs };
}
