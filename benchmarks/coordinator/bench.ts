// One benchmark run of a websocket profile, end to end: check (or spawn) Chorus, fork the
// generators, build the world, drive the stages, drain, reconcile, sample processes, report.
// `runBench` is what run.ts calls and what a CI test can call directly.
import os from 'node:os';
import crypto from 'node:crypto';
import { loadProfile, scaleProfile, workerCount, type Profile } from '../lib/profile.js';
import { buildWorld } from '../lib/world.js';
import { nowUs, sleepMs } from '../lib/clock.js';
import { ProcSampler } from '../lib/proc-sampler.js';
import { discoverChorus, type ProcTarget } from '../lib/procs.js';
import { scrape, scrapeProcessors, serverView } from '../lib/server-metrics.js';
import { isReady, spawnStack, type SpawnedStack } from '../lib/stack.js';
import type { LedgerResult, WorkerResult } from '../lib/ipc.js';
import { mergeAccepted, mergeLedgers } from '../generator/ledger.js';
import { WorkerPool } from './pool.js';
import { Timeline, type TimelinePoint } from './timeline.js';
import { Driver, type RateStep } from './drive.js';
import { buildReport } from '../report/build.js';
import { writeReports, type WrittenReports } from '../report/write.js';
import type { Report } from '../report/model.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const RESULTS_DIR = new URL('../../../benchmarks/results/', import.meta.url).pathname;

export interface BenchOptions {
  profile: string | Profile;
  scale?: number;
  url?: string;
  outDir?: string;
  baseline?: string;
  spawn?: boolean;
  keepData?: boolean;
  workers?: number;
  pids?: number[];
  tenantPrefix?: string;
  /** Drive a peer (benchmarks/peers/) at `url` instead of Chorus (pass its `pids`). */
  peer?: 'socketio';
  /** With `spawn`: extra environment of the spawned stack (CHORUS_GATEWAYS, REDIS_URL…). */
  spawnEnv?: Record<string, string>;
  /** With `spawn`: called once the stack is ready (impairment: slow the notification sinks). */
  onSpawned?: (stack: SpawnedStack) => void;
  /** Also sample these (a proxy, an external Redis…) next to the discovered processes. */
  extraTargets?: ProcTarget[];
  /** Lines added to the report's notes. */
  notes?: string[];
  /** Progress lines (default: stderr). */
  say?: (line: string) => void;
}

export interface BenchOutcome {
  ok: boolean;
  report: Report;
  files: WrittenReports;
}

export class HarnessError extends Error {}

function progressLine(p: TimelinePoint): string {
  return `[t+${p.t}s ${p.stage}] clients ${p.live}${p.connecting ? ` (+${p.connecting} connecting)` : ''} | sent ${p.sentPerS}/s accepted ${p.acceptedPerS}/s` +
    `${p.http5xxPerS ? ` 5xx ${p.http5xxPerS}/s` : ''}${p.http429PerS ? ` 429 ${p.http429PerS}/s` : ''}${p.errorsPerS ? ` errors ${p.errorsPerS}/s` : ''}` +
    ` | delivered ${p.receivedPerS}/s | e2e p50 ${p.e2eP50} p99 ${p.e2eP99} max ${p.e2eMax} ms`;
}

export async function runBench(o: BenchOptions): Promise<BenchOutcome> {
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const scale = o.scale ?? 1;
  const profile = scaleProfile(typeof o.profile === 'string' ? loadProfile(o.profile) : o.profile, scale);
  const outDir = o.outDir ?? RESULTS_DIR;
  const startedAt = new Date();
  const loadavgStart = os.loadavg();
  const notes: string[] = [...(o.notes ?? [])];

  let stack: SpawnedStack | null = null;
  if (o.spawn) {
    say('spawning a private Chorus (node dist/ops/stack.js)…');
    stack = await spawnStack({ logDir: outDir, env: o.spawnEnv, keepData: o.keepData });
    o.onSpawned?.(stack);
    say(`Chorus up at ${stack.url} (data dir ${stack.dataDir}, log ${stack.logFile})`);
  }
  const url = (stack?.url ?? o.url ?? DEFAULT_URL).replace(/\/$/, '');
  let pool: WorkerPool | null = null;
  let sampler: ProcSampler | null = null;
  try {
    if (!(await isReady(url))) {
      throw new HarnessError(`Chorus is not ready at ${url} (GET /readyz): start it first with \`npm start\` (PORT=… for another port) and pass --url, or use --spawn`);
    }
    const port = Number(new URL(url).port || 80);
    const workers = workerCount(profile, o.workers);
    const tenantPrefix = o.tenantPrefix ?? 'bench';
    const world = buildWorld(profile.world, workers, tenantPrefix, profile.world.seed ?? profile.name);
    const runId = `r${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
    say(`run ${runId}: profile ${profile.name} (scale ${scale}), ${world.users.length} clients, ${world.threads.length} threads, ${world.tenants.length} tenants, ${workers} generator(s)`);

    pool = new WorkerPool(workers);
    pool.onLog = (i, m) => say(`generator ${i}: ${m.msg}`);
    const generatorPids = pool.pids;
    const discovered = discoverChorus(port, o.pids);
    if (discovered.note) notes.push(`process sampling: ${discovered.note}`);
    const gateways = discovered.targets.filter((t) => t.label === 'gateway').length;
    sampler = new ProcSampler(() => {
      const chorus = discoverChorus(port, o.pids).targets;
      const own: ProcTarget[] = [{ pid: process.pid, label: 'coordinator' }, ...generatorPids.map((pid) => ({ pid, label: 'generator' }))];
      return [...chorus, ...(o.extraTargets ?? []), ...own];
    });

    const setupStart = Date.now();
    pool.broadcast((i) => ({ type: 'init', workerIndex: i, workers, profile, url, runId, tenantPrefix, localAddress: `127.0.0.${i + 1}`, peer: o.peer }));
    const created = await pool.gather('created', 600_000);
    const ids = new Array<string>(world.threads.length);
    for (const c of created) for (const [idx, id] of c.threads) ids[idx] = id;
    if (ids.some((x) => !x) || ids.length !== world.threads.length) throw new HarnessError('setup: some threads were not created');
    pool.broadcast(() => ({ type: 'threads', ids }));
    await pool.gather('ready', 60_000);
    const setupS = Math.round((Date.now() - setupStart) / 100) / 10;
    say(`setup done in ${setupS} s (${world.users.length} tokens, ${world.threads.length} threads)`);

    const t0 = nowUs();
    const timeline = new Timeline(workers, t0);
    let lastPrinted = 0;
    timeline.onPoint = (p) => {
      if (p.t - lastPrinted >= 5) {
        lastPrinted = p.t;
        say(progressLine(p));
      }
    };
    pool.onTick = (i, m) => timeline.onTick(i, m.atUs, m.e2e, m.counters);
    sampler.start();
    const before = await scrape(url);
    const processorsBefore = o.peer ? null : await scrapeProcessors(url);
    const driver = new Driver(pool, world, timeline, say);

    let index = 0;
    if (profile.startConnections > 0) {
      const durationS = Math.max(1, profile.startConnections / profile.connectRatePerS);
      await driver.runStages([{ name: 'connect', durationS, connections: profile.startConnections, warmup: true }], index++);
      // The ramp may lag behind its schedule (handshakes in flight): wait for it to settle.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const t = timeline.totals();
        if (t && t.connecting === 0 && t.connectOk + t.connectFail >= profile.startConnections) break;
        await sleepMs(250);
      }
    }
    await driver.runStages(profile.stages, index);
    index += profile.stages.length;
    let rateSearch: { steps: RateStep[]; kneePerS: number | null } | null = null;
    if (profile.rateSearch) rateSearch = await driver.rateSearch(profile, index);

    say('stopping senders, draining deliveries…');
    pool.broadcast(() => ({ type: 'stop' }));
    await pool.gather('stopped', 60_000);
    const drainDeadline = Date.now() + profile.drainS * 1000;
    let lastReceived = -1;
    let stableSince = Date.now();
    while (Date.now() < drainDeadline) {
      await sleepMs(500);
      const received = timeline.totals()?.received ?? 0;
      if (received !== lastReceived) {
        lastReceived = received;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= 2000) break;
    }
    const after = await scrape(url);
    const processorsAfter = o.peer ? null : await scrapeProcessors(url);
    pool.onTick = () => {};
    timeline.flush();

    pool.broadcast(() => ({ type: 'collect' }));
    const results: WorkerResult[] = (await pool.gather('collected', 120_000)).map((m) => m.result);
    const accepted = mergeAccepted(results.map((r) => r.accepted));
    const uncertain = Float64Array.from(results.flatMap((r) => [...r.uncertain]));
    say(`reconciling ${accepted.key.length} accepted messages across ${workers} generator(s)…`);
    pool.broadcast(() => ({ type: 'reconcile', accepted, uncertain }));
    const ledger: LedgerResult = mergeLedgers((await pool.gather('reconciled', 300_000)).map((m) => m.ledger), 20);
    await pool.shutdown();
    pool = null;
    const samples = sampler.stop();
    sampler = null;

    const report = buildReport({
      profile, scale, runId, url, spawned: !!stack, startedAt, finishedAt: new Date(), setupS, loadavgStart, notes, world, results, ledger,
      timeline, sampler: samples, server: serverView(before, after, processorsAfter ? { before: processorsBefore, after: processorsAfter } : undefined), gateways, rateSearch,
    });
    const files = writeReports(report, outDir, o.baseline);
    return { ok: report.ok, report, files };
  } finally {
    sampler?.stop();
    if (pool) await pool.shutdown(5000);
    if (stack) {
      say('stopping the spawned Chorus…');
      await stack.stop();
    }
  }
}
