// Presence burst benchmark (seed 6.1 scenario 2, its presence part; thresholds of seed 6.2):
// C websocket clients on G gateway processes, each subscribed to the presence of its threads'
// participants; a baseline with heartbeats, then `rate` presence transitions per second for
// `duration` seconds (online -> away -> online -> offline(invisible) -> online ... per client).
// Reports presence fanout latency (receive time − update `at`), frames, summary mode, and whether
// every subscriber's view equals the state in Redis 2 s after the burst (no stale online).
//
//   node dist/benchmarks/presence-burst.js [--clients 10000] [--gateways 2] [--rate 1000]
//        [--duration 60] [--baseline 15] [--tenants 10] [--participants 10] [--connect-rate 500]
//
// Needs a built tree (npx tsc) and the Redis/Postgres of CHORUS_DATA_DIR running (npm start's
// services, or `node dist/ops/cli.js services up`). Starts and stops its own gateway processes.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { loadConfig } from '../config/index.js';
import { createAuthenticator } from '../core/auth.js';
import { createRedis } from '../core/redis.js';
import { presenceOf } from '../gateway/presence/store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const P = {
  clients: opt('clients', 10_000), gateways: opt('gateways', 2), rate: opt('rate', 1000), durationS: opt('duration', 60),
  baselineS: opt('baseline', 15), tenants: opt('tenants', 10), participants: opt('participants', 10), connectRate: opt('connect-rate', 500),
};
/** Free ports picked at start (other stacks may run on this machine). */
const ports: number[] = [];
const SETTLE_MS = 2000;
const out = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Client {
  tenant: string; userId: string; token: string; threads: string[]; gateway: number;
  ws?: WebSocket; liveAt: number; step: number;
  view: Map<string, { status: string; version: number }>;
}

const config = loadConfig();
const auth = await createAuthenticator(config);
const redis = createRedis(config, { name: 'bench-presence' });
const run = `pb${Date.now().toString(36)}`;
const lat: number[] = [];
const counts = { batches: 0, updates: 0, summaries: 0, errors: 0, connectFail: 0, closedBeforeHello: 0, closes: 0, transitions: 0 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startGateways(): Promise<ChildProcess[]> {
  for (let i = 0; i < P.gateways; i++) ports.push(await freePort());
  return ports.map((port) => spawn(process.execPath, [path.join(ROOT, 'dist/gateway/main.js')], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', CHORUS_MAX_CONN_PER_TENANT: '100000' },
  }));
}

async function waitHealthy(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false); // refused until it listens
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`gateway on ${port} did not become healthy`);
}

/** Users of each tenant in threads of `participants`, twice (shifted by half a thread): 2 threads per user. */
async function buildWorld(): Promise<Client[]> {
  const clients: Client[] = [];
  const perTenant = Math.ceil(P.clients / P.tenants);
  for (let t = 0; t < P.tenants; t++) {
    const tenant = `${run}-t${t}`;
    for (let u = 0; u < perTenant && clients.length < P.clients; u++) {
      const userId = `u${u}`;
      clients.push({ tenant, userId, token: await auth.sign({ tenantId: tenant, userId }), threads: [], gateway: clients.length % P.gateways, liveAt: 0, step: 0, view: new Map() });
    }
  }
  const groups: Client[][] = [];
  for (let t = 0; t < P.tenants; t++) {
    const mine = clients.filter((c) => c.tenant === `${run}-t${t}`);
    for (const shift of [0, Math.floor(P.participants / 2)]) {
      for (let i = shift; i < mine.length + shift; i += P.participants) {
        const g = Array.from({ length: P.participants }, (_, k) => mine[(i + k) % mine.length]!).filter((c, k, a) => a.indexOf(c) === k);
        groups.push(g);
      }
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const g = groups[next++]!;
      const creator = g[0]!;
      const r = await fetch(`http://127.0.0.1:${ports[0]}/api/threads`, {
        method: 'POST', headers: { authorization: `Bearer ${creator.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ participantIds: g.slice(1).map((c) => c.userId) }),
      });
      if (r.status !== 201) throw new Error(`thread create: ${r.status} ${await r.text()}`);
      const id = ((await r.json()) as { thread: { id: string } }).thread.id;
      for (const c of g) c.threads.push(id);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  out(`world: ${clients.length} users, ${P.tenants} tenants, ${groups.length} threads of ${P.participants}`);
  return clients;
}

function connect(c: Client): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports[c.gateway]}/ws?token=${c.token}`);
    c.ws = ws;
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { type: string; data: any };
      if (f.type === 'hello') {
        c.liveAt = Date.now();
        ws.send(JSON.stringify({ type: 'presence.subscribe', data: { threadIds: c.threads } }));
        resolve();
      } else if (f.type === 'presence.batch') {
        counts.batches++;
        const now = Date.now();
        for (const u of f.data.updates as { userId: string; status: string; version: number; at: string }[]) {
          counts.updates++;
          const known = c.view.get(u.userId);
          if (known && u.version <= known.version) continue;
          c.view.set(u.userId, { status: u.status, version: u.version });
          if (known && now - c.liveAt > SETTLE_MS) lat.push(now - Date.parse(u.at));
        }
      } else if (f.type === 'presence.summary') counts.summaries++;
      else if (f.type === 'error') counts.errors++;
    });
    ws.on('error', () => { counts.connectFail++; resolve(); });
    ws.on('close', (code) => {
      counts.closes++;
      if (!c.liveAt) {
        counts.closedBeforeHello++;
        out(`closed before hello: ${c.tenant}/${c.userId} code ${code}`);
        resolve();
      }
    });
  });
}

const STEPS = ['away', 'online', 'offline', 'online'];

function transition(c: Client): void {
  if (c.ws?.readyState !== WebSocket.OPEN) return;
  const status = STEPS[c.step++ % STEPS.length]!;
  c.ws.send(JSON.stringify({ type: 'presence.heartbeat', data: { status } }));
  counts.transitions++;
}

function pct(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN;
}

/** Views that disagree with Redis: stale online (view not offline, truth offline) and any other difference. */
async function compare(clients: Client[]): Promise<{ checked: number; staleOnline: number; onlineMismatch: number; exactMismatch: number }> {
  const r = { checked: 0, staleOnline: 0, onlineMismatch: 0, exactMismatch: 0 };
  const byTenant = new Map<string, Client[]>();
  for (const c of clients) byTenant.set(c.tenant, [...(byTenant.get(c.tenant) ?? []), c]);
  for (const [tenant, cs] of byTenant) {
    const truth = new Map((await presenceOf(redis, config, tenant, cs.map((c) => c.userId))).map((p) => [p.userId, p]));
    for (const c of cs) {
      for (const [u, v] of c.view) {
        const t = truth.get(u);
        if (!t) continue;
        r.checked++;
        if ((v.status === 'offline') !== (t.status === 'offline')) {
          r.onlineMismatch++;
          if (t.status === 'offline') r.staleOnline++;
        }
        if (v.status !== t.status || v.version !== t.version) r.exactMismatch++;
      }
    }
  }
  return r;
}

/** Upper bound (bucket `le`, ms) of a quantile of the gateways' summed latency histogram. */
function histogramQuantile(buckets: Map<number, number>, q: number): number {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  for (const le of les) if ((buckets.get(le) ?? 0) >= q * total) return le * 1000;
  return NaN;
}

async function scrape(): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  const fanout = new Map<number, number>();
  const bucket = /^chorus_presence_fanout_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$/;
  const wanted = /^(chorus_presence_summary_transitions_total|chorus_presence_published_total|chorus_presence_coalesced_total|chorus_presence_duplicates_suppressed_total|chorus_ws_events_dropped_total|chorus_presence_frames_total)\{?([^}]*)\}? (\S+)$/;
  for (let i = 0; i < P.gateways; i++) {
    const text = await (await fetch(`http://127.0.0.1:${ports[i]}/metrics`)).text();
    for (const line of text.split('\n')) {
      const b = bucket.exec(line);
      if (b) fanout.set(b[1] === '+Inf' ? Infinity : Number(b[1]), (fanout.get(b[1] === '+Inf' ? Infinity : Number(b[1])) ?? 0) + Number(b[2]));
      const m = wanted.exec(line);
      if (m) sums[`${m[1]}{${m[2]}}`] = (sums[`${m[1]}{${m[2]}}`] ?? 0) + Number(m[3]);
    }
  }
  sums['server_fanout_ms_p50_le'] = histogramQuantile(fanout, 0.5);
  sums['server_fanout_ms_p95_le'] = histogramQuantile(fanout, 0.95);
  sums['server_fanout_ms_p99_le'] = histogramQuantile(fanout, 0.99);
  return sums;
}

const gateways = await startGateways();
try {
  await Promise.all(ports.map(waitHealthy));
  const clients = await buildWorld();
  const t0 = Date.now();
  for (let i = 0; i < clients.length; i += P.connectRate / 10) {
    await Promise.all(clients.slice(i, i + P.connectRate / 10).map(connect));
    await sleep(Math.max(0, t0 + ((i + P.connectRate / 10) / P.connectRate) * 1000 - Date.now()));
  }
  out(`connected ${clients.filter((c) => c.liveAt).length}/${clients.length} in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
    `(${counts.connectFail} failed, ${counts.closedBeforeHello} closed before hello)`);
  const heartbeats = setInterval(() => {
    for (const c of clients) if (c.ws?.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify({ type: 'presence.heartbeat', data: { status: STEPS[(c.step + 3) % 4] } }));
  }, config.gateway.heartbeatIntervalMs);
  await sleep(P.baselineS * 1000);
  lat.length = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const order = [...clients].sort(() => Math.random() - 0.5);
  const burstStart = Date.now();
  let sent = 0;
  while (Date.now() - burstStart < P.durationS * 1000) {
    const due = Math.floor(((Date.now() - burstStart) / 1000) * P.rate);
    while (sent < due) transition(order[sent++ % order.length]!);
    await sleep(10);
  }
  const burstEnd = Date.now();
  loop.disable();
  const burstLat = [...lat].sort((a, b) => a - b);
  await sleep(2000);
  const at2s = await compare(clients);
  await sleep(config.presence.coalesceMs);
  const atCoalesce = await compare(clients);
  clearInterval(heartbeats);
  const metricsAfter = await scrape();
  const result = {
    params: P, burst: { transitions: counts.transitions, seconds: (burstEnd - burstStart) / 1000 },
    generatorLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    fanoutMs: { n: burstLat.length, p50: pct(burstLat, 0.5), p95: pct(burstLat, 0.95), p99: pct(burstLat, 0.99), max: burstLat.at(-1) ?? NaN },
    frames: { batches: counts.batches, updates: counts.updates, summaries: counts.summaries, errors: counts.errors, closes: counts.closes },
    convergence: { after2s: at2s, afterCoalescePlus2s: atCoalesce },
    server: metricsAfter,
  };
  out(JSON.stringify(result, null, 2));
  const dir = path.join(ROOT, 'benchmarks/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `presence-burst-${run}.json`), JSON.stringify(result, null, 2));
  out(`presence fanout p95 ${result.fanoutMs.p95} ms (threshold 2000): ${result.fanoutMs.p95 <= 2000 ? 'PASS' : 'FAIL'}; ` +
    `stale online after 2 s: ${at2s.staleOnline} (must be 0): ${at2s.staleOnline === 0 ? 'PASS' : 'FAIL'}`);
  for (const c of clients) c.ws?.terminate();
} finally {
  for (const g of gateways) g.kill('SIGINT');
  await Promise.all(gateways.map((g) => new Promise((r) => (g.exitCode !== null ? r(null) : g.once('exit', r)))));
  redis.disconnect();
}
