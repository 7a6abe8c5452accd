// One generator process (forked by run.ts): up to 9,000 websocket clients bound to its own source
// address, its share of the open-loop message and presence traffic, and the per-client delivery
// records. It follows the coordinator's commands (lib/ipc.ts) and reports every second.
import type { FromWorker, InitMsg, StageMsg, ToWorker, WorkerResult } from '../lib/ipc.js';
import { buildWorld, type World, type WorldUser } from '../lib/world.js';
import { HttpClient, devToken, mapLimit } from '../lib/http-client.js';
import { hashSeed, seededRng, shuffle, type Rng } from '../lib/rng.js';
import { nowUs, sleepMs } from '../lib/clock.js';
import { BenchClient, type ClientContext } from './client.js';
import { MessageSender } from './sender.js';
import { OpenLoop } from './open-loop.js';
import { WorkerStats } from './stats.js';
import { reconcile, type LedgerClient } from './ledger.js';

/** Builds one simulated user: Chorus's BenchClient, or a peer's client with the same public surface. */
type ClientFactory = (user: WorldUser, tenant: string, ctx: ClientContext) => BenchClient;

/** The peers the generator can drive instead of Chorus (benchmarks/peers/). */
async function peerFactory(peer: InitMsg['peer']): Promise<ClientFactory | undefined> {
  if (peer !== 'socketio') return undefined;
  const { SocketIoClient } = await import('../peers/socketio/client.js');
  return (u, t, ctx) => new SocketIoClient(u, t, ctx) as unknown as BenchClient;
}

const RAMP_TICK_MS = 20;
const HEARTBEAT_TICK_MS = 250;
/** Handshakes in flight per generator: an open-loop ramp must not turn into a SYN flood. */
const MAX_CONNECTING = 512;
const SETUP_CONCURRENCY = 16;
const MAX_WARNINGS = 20;

function send(m: FromWorker): void {
  process.send?.(m);
}

function log(level: 'info' | 'warn' | 'error', msg: string): void {
  send({ type: 'log', level, msg });
}

class Generator {
  private readonly world: World;
  private readonly stats = new WorkerStats();
  private readonly http: HttpClient;
  private readonly rng: Rng;
  /** This generator's clients, in activation order. */
  private readonly order: BenchClient[] = [];
  private readonly byUser = new Map<number, BenchClient>();
  private readonly sender: MessageSender;
  private activated = 0;
  private ramp: { from: number; to: number; startUs: number; endUs: number } | null = null;
  private readonly loops: OpenLoop[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private intervals: NodeJS.Timeout[] = [];
  private heartbeatTick = 0;
  private presenceNext = 0;
  private ticking = true;
  private warnings = 0;

  constructor(private readonly init: InitMsg, makeClient: ClientFactory = (u, t, ctx) => new BenchClient(u, t, ctx)) {
    const p = init.profile;
    this.world = buildWorld(p.world, init.workers, init.tenantPrefix, p.world.seed ?? p.name);
    this.rng = seededRng(hashSeed(`${p.name}:${init.workerIndex}`));
    this.http = new HttpClient({ baseUrl: init.url, localAddress: init.localAddress, maxSockets: 256 });
    const ctx = {
      wsUrl: init.url.replace(/^http/, 'ws'),
      localAddress: init.localAddress,
      stats: this.stats,
      runPrefix: `${init.runId}-`,
      helloTimeoutMs: 15_000,
      maxInitialAttempts: 3,
      maxResumeAttempts: 12,
      warn: (msg: string) => {
        if (this.warnings++ < MAX_WARNINGS) log('warn', msg + (this.warnings === MAX_WARNINGS ? ' (further warnings suppressed)' : ''));
      },
    };
    for (const u of this.world.activation) {
      const user = this.world.users[u];
      if (!user || user.worker !== init.workerIndex) continue;
      const c = makeClient(user, this.world.tenants[user.tenant] as string, ctx);
      this.order.push(c);
      this.byUser.set(u, c);
    }
    this.sender = new MessageSender(this.world, this.byUser, this.http, this.stats, {
      workerIndex: init.workerIndex, workers: init.workers, runPrefix: ctx.runPrefix,
      bodyChars: p.bodyChars, maxInFlight: p.maxInFlightPerWorker,
    });
    this.intervals.push(setInterval(() => this.rampTick(), RAMP_TICK_MS));
    if (p.heartbeatIntervalS > 0) this.intervals.push(setInterval(() => this.heartbeats(), HEARTBEAT_TICK_MS));
    this.scheduleTick();
  }

  /** Tokens for our users, then the threads we own (created by their first participant). */
  async setup(): Promise<void> {
    const started = Date.now();
    await mapLimit(this.order, SETUP_CONCURRENCY, async (c) => {
      c.token = await devToken(this.http, c.tenantName, c.user.id);
    });
    const own = this.world.threads.filter((t) => t.sender === this.init.workerIndex);
    const created = await mapLimit(own, SETUP_CONCURRENCY, async (t): Promise<[number, string]> => {
      const creator = this.byUser.get(t.creator) as BenchClient;
      const participantIds = t.participants.filter((u) => u !== t.creator).map((u) => this.world.users[u]?.id as string);
      const r = await this.http.request('POST', '/api/threads', { title: `bench ${this.init.runId} #${t.index}`, participantIds }, creator.token);
      if (r.status !== 201 || typeof r.body?.thread?.id !== 'string') {
        throw new Error(`POST /api/threads (${creator.tenantName}/${creator.user.id}): ${r.status} ${r.error ?? JSON.stringify(r.body).slice(0, 200)}`);
      }
      return [t.index, r.body.thread.id as string];
    });
    send({ type: 'created', threads: created, tokens: this.order.length, setupMs: Date.now() - started });
  }

  setThreadIds(ids: string[]): void {
    this.sender.setThreadIds(ids);
    if (this.init.profile.presenceSubscribe) {
      for (const c of this.order) c.subscribeFrame = JSON.stringify({ type: 'presence.subscribe', data: { threadIds: c.user.threads.map((t) => ids[t]) } });
    }
    send({ type: 'ready' });
  }

  stage(m: StageMsg): void {
    const endUs = m.startUs + m.durationUs;
    const { workerIndex, workers } = this.init;
    if (m.messagesPerS > 0) {
      // Every generator walks the same global schedule with the same seeded thread choices and sends
      // the events whose thread it owns: together exactly one constant-rate stream, weighted by tenant.
      const choice = seededRng(hashSeed(`${this.init.profile.name}:${this.init.runId}:stage:${m.index}`));
      this.loops.push(new OpenLoop(m.startUs, endUs, m.messagesPerS, 0, 1, (t) => this.sender.fire(t, m.warmup, choice)).start());
    }
    if (m.presencePerS > 0) this.loops.push(new OpenLoop(m.startUs, endUs, m.presencePerS, workerIndex, workers, () => this.presenceTransition()).start());
    this.later(m.startUs, () => {
      this.ramp = { from: this.activated, to: m.connections, startUs: m.startUs, endUs };
      if (m.reconnect) this.storm(m.reconnect.fraction, m.durationUs / 1000, (m.reconnect.offlineMaxS ?? 0) * 1000);
    });
  }

  private later(atUs: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, (atUs - nowUs()) / 1000));
    this.timers.add(t);
  }

  private rampTick(): void {
    const r = this.ramp;
    if (!r) return;
    const now = nowUs();
    const progress = r.endUs <= r.startUs ? 1 : Math.min(1, Math.max(0, (now - r.startUs) / (r.endUs - r.startUs)));
    const desired = Math.min(this.order.length, Math.round(r.from + (r.to - r.from) * progress));
    while (this.activated < desired && this.stats.tick.connecting < MAX_CONNECTING) {
      const c = this.order[this.activated++] as BenchClient;
      if (c.state === 'left') c.rejoin();
      else c.connect();
    }
    while (this.activated > desired) (this.order[--this.activated] as BenchClient).leave();
  }

  /** Drops `fraction` of the live clients at random moments within the window; each resumes with lastSeq. */
  private storm(fraction: number, windowMs: number, offlineMaxMs: number): void {
    const live = shuffle(this.order.filter((c) => c.live), this.rng);
    const n = Math.round(live.length * fraction);
    for (const c of live.slice(0, n)) {
      const at = nowUs() + this.rng() * windowMs * 1000;
      this.later(at, () => {
        c.drop(this.rng() * offlineMaxMs);
      });
    }
    log('info', `reconnect storm: ${n} of ${live.length} live clients drop within ${Math.round(windowMs / 1000)} s`);
  }

  private heartbeats(): void {
    const slots = Math.max(1, Math.round((this.init.profile.heartbeatIntervalS * 1000) / HEARTBEAT_TICK_MS));
    const slot = this.heartbeatTick++ % slots;
    for (let i = slot; i < this.order.length; i += slots) {
      const c = this.order[i] as BenchClient;
      if (c.send(JSON.stringify({ type: 'presence.heartbeat', data: { status: c.presenceAway ? 'away' : 'online' } }))) this.stats.count('heartbeats_sent');
    }
  }

  private presenceTransition(): void {
    for (let tries = 0; tries < this.order.length; tries++) {
      const c = this.order[this.presenceNext++ % this.order.length] as BenchClient;
      if (!c.live) continue;
      c.presenceAway = !c.presenceAway;
      c.send(JSON.stringify({ type: 'presence.heartbeat', data: { status: c.presenceAway ? 'away' : 'online' } }));
      this.stats.tick.presenceSent++;
      return;
    }
  }

  /** Ticks on whole seconds of the shared monotonic clock, so the coordinator can merge them by second. */
  private scheduleTick(): void {
    if (!this.ticking) return;
    const now = nowUs();
    const next = (Math.floor(now / 1e6) + 1) * 1e6;
    setTimeout(() => {
      send({ type: 'tick', atUs: next, e2e: this.stats.takeInterval(), counters: { ...this.stats.tick } });
      this.scheduleTick();
    }, (next - now) / 1000);
  }

  /** Stops sending and ramping, waits for the requests in flight (connections stay open). */
  async stop(): Promise<void> {
    for (const l of this.loops) l.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ramp = null;
    const deadline = Date.now() + 15_000;
    while (this.stats.tick.inflight > 0 && Date.now() < deadline) await sleepMs(20);
    if (this.stats.tick.inflight > 0) log('warn', `${this.stats.tick.inflight} requests still in flight after 15 s`);
    send({ type: 'stopped' });
  }

  collect(): void {
    const s = this.stats;
    const counters = { ...s.counters, ...s.tick, clients: this.order.length, activated: this.activated };
    const result: WorkerResult = {
      histograms: s.hist.encodeAll(), counters, httpStatus: s.httpStatus, connectFailures: s.connectFailures,
      closeCodes: s.closeCodes, errorFrames: s.errorFrames, framesByType: s.framesByType,
      accepted: this.sender.accepted.table(), uncertain: Float64Array.from(this.sender.uncertain),
    };
    send({ type: 'collected', result });
  }

  reconcile(m: Extract<ToWorker, { type: 'reconcile' }>): void {
    const clients: LedgerClient[] = this.order.map((c) => ({
      tenant: c.tenantName, userId: c.user.id, threads: c.user.threads, firstHead: c.firstHead, leftAtMs: c.leftAtMs,
      received: c.received, resumed: c.resumes > 0, gaveUp: c.state === 'gaveup', resyncs: c.resyncs,
    }));
    const ledger = reconcile(clients, m.accepted, m.uncertain, { leaveGraceMs: this.init.profile.leaveGraceS * 1000, sampleLimit: 20 });
    send({ type: 'reconciled', ledger });
  }

  shutdown(): void {
    this.ticking = false;
    for (const i of this.intervals) clearInterval(i);
    for (const c of this.order) c.shutdown();
    this.http.close();
  }
}

let gen: Generator | null = null;

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init':
      gen = new Generator(m, await peerFactory(m.peer));
      await gen.setup();
      return;
    case 'threads': return gen?.setThreadIds(m.ids);
    case 'stage': return gen?.stage(m);
    case 'stop': return gen?.stop();
    case 'collect': return gen?.collect();
    case 'reconcile': return gen?.reconcile(m);
    case 'shutdown':
      gen?.shutdown();
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
}

process.on('message', (m: ToWorker) => {
  handle(m).catch((err: Error) => {
    send({ type: 'fatal', error: err.stack ?? err.message });
    setTimeout(() => process.exit(1), 200).unref();
  });
});
// The coordinator is gone: nothing left to report to.
process.on('disconnect', () => process.exit(0));
