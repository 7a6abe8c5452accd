// One simulated user: a websocket client that authenticates with a dev token, resumes with lastSeq
// after any drop, and checks what it receives. Per client (across its connections) every stream
// `seq` must be strictly greater than the previous one; message.created frames of this run are
// recorded by key for the end-of-run reconciliation and their latency is measured from the
// intended send time carried in the body.
import WebSocket from 'ws';
import { nowUs } from '../lib/clock.js';
import { comparePos, seqPos, type SeqPos } from '../lib/seq-order.js';
import type { WorkerStats } from './stats.js';
import { bump } from './stats.js';
import { ClientLifecycle } from './lifecycle.js';

export interface ClientContext {
  wsUrl: string;
  localAddress: string;
  stats: WorkerStats;
  /** clientMessageId prefix of this run's messages. */
  runPrefix: string;
  helloTimeoutMs: number;
  /** Give up after this many consecutive failed attempts (first connect / resume). */
  maxInitialAttempts: number;
  maxResumeAttempts: number;
  /** Diagnostics worth a line on the coordinator's console (rate-limited by the caller). */
  warn: (msg: string) => void;
}

export type ClientState = 'idle' | 'connecting' | 'live' | 'offline' | 'left' | 'gaveup';

const RECENT = 32;
const PRESENCE_SETTLE_US = 2_000_000;

/** Body of a benchmark message: `b <intendedUs> <phase> xxxx…` (phase m = measured, w = warmup). */
export function messageBody(intendedUs: number, warmup: boolean, chars: number): string {
  const head = `b ${Math.round(intendedUs)} ${warmup ? 'w' : 'm'} `;
  return head.length >= chars ? head : head + 'x'.repeat(chars - head.length);
}

export function parseBody(body: unknown): { intendedUs: number; warmup: boolean } | null {
  if (typeof body !== 'string' || !body.startsWith('b ')) return null;
  const sp = body.indexOf(' ', 2);
  const intendedUs = Number(body.slice(2, sp));
  return Number.isFinite(intendedUs) && sp > 0 ? { intendedUs, warmup: body.charAt(sp + 1) === 'w' } : null;
}

export class BenchClient extends ClientLifecycle {
  token = '';
  /** Expectations start after the head of the first hello (or of the last resync). */
  firstHead: SeqPos | null = null;
  /** Keys of this run's messages received, in arrival order (duplicates kept). */
  readonly received: number[] = [];
  resumes = 0;
  resyncs = 0;
  presenceAway = false;
  /** presence.subscribe for the user's threads, sent after every hello (null: do not subscribe). */
  subscribeFrame: string | null = null;
  private ws: WebSocket | null = null;
  private lastSeq: string | null = null;
  private lastPos: SeqPos | null = null;
  private readonly recent: string[] = [];
  /** Replay bound of the current connection when it resumed (frames up to it are replayed). */
  private replayUntil: SeqPos | null = null;
  private liveSinceUs = 0;
  /** Latest presence version seen per watched user. */
  private readonly presenceVersions = new Map<string, number>();

  protected get open(): boolean {
    return this.ws !== null;
  }

  protected close(how: 'leave' | 'drop' | 'shutdown', wasLive: boolean): void {
    const ws = this.ws as WebSocket;
    if (how === 'shutdown') this.ws = null; // its close handler then ignores it
    if (how === 'leave' && wasLive) ws.close(1000, 'bench ramp-down');
    else ws.terminate();
  }

  /** Opens the socket: a first connect, or a resume with lastSeq once the client has a position. */
  connect(): void {
    if (this.state === 'left' || this.state === 'gaveup' || this.ws) return;
    const { stats } = this.ctx;
    const resume = this.lastSeq !== null;
    this.state = 'connecting';
    stats.tick.connecting++;
    const url = `${this.ctx.wsUrl}/ws?token=${encodeURIComponent(this.token)}${resume ? `&lastSeq=${encodeURIComponent(this.lastSeq as string)}` : ''}`;
    const started = nowUs();
    const ws = new WebSocket(url, { localAddress: this.ctx.localAddress, perMessageDeflate: false, handshakeTimeout: this.ctx.helloTimeoutMs });
    this.ws = ws;
    let helloed = false;
    let failure: string | null = null;
    const helloTimer = setTimeout(() => {
      if (helloed) return;
      failure = 'hello_timeout';
      ws.terminate();
    }, this.ctx.helloTimeoutMs);
    let opened = 0;
    ws.on('open', () => {
      opened = nowUs();
      stats.record('ws_connecting', nowUs() - started);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      failure ??= m ? `http_${m[1]}` : (err.code ?? err.message.slice(0, 60));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return this.ctx.stats.count('binary_frames');
      if (!helloed) {
        const refused = this.onFirstFrame(data, started, resume);
        if (refused === null) {
          helloed = true;
          clearTimeout(helloTimer);
          stats.tick.connecting--;
        } else {
          failure ??= refused;
          ws.terminate();
        }
        return;
      }
      this.onFrame(data);
    });
    ws.on('close', (code: number) => {
      clearTimeout(helloTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (!helloed) {
        stats.tick.connecting--;
        if (this.state === 'left') return;
        stats.tick.connectFail++;
        const reason = `${resume ? 'resume' : 'first'}:${failure ?? (opened ? `closed_before_hello_${code}` : `close_${code}`)}`;
        bump(stats.connectFailures, reason);
        this.ctx.warn(`${this.tenantName}/${this.user.id}: connect failed (${reason}) after ${Math.round((nowUs() - started) / 1000)} ms` +
          `${opened ? `, ${Math.round((nowUs() - opened) / 1000)} ms after the upgrade` : ''}`);
        this.state = 'offline';
        this.retry(resume ? this.ctx.maxResumeAttempts : this.ctx.maxInitialAttempts);
        return;
      }
      stats.tick.live--;
      if (this.state === 'left' || this.state === 'offline') return; // closed on purpose
      stats.tick.disconnects++;
      bump(stats.closeCodes, String(code));
      this.state = 'offline';
      this.attempts = 0;
      this.retry(this.ctx.maxResumeAttempts);
    });
  }

  /** The first frame must be hello: returns null when it is, else the failure reason. */
  private onFirstFrame(data: Buffer, startedUs: number, resume: boolean): string | null {
    const { stats } = this.ctx;
    let f: any;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      f = null;
    }
    if (f?.type !== 'hello' || typeof f.data?.headSeq !== 'string') {
      return f?.type === 'error' ? `error_${String(f.data?.code)}` : `first_frame_${String(f?.type ?? 'invalid')}`;
    }
    bump(stats.framesByType, 'hello');
    const elapsed = nowUs() - startedUs;
    this.state = 'live';
    this.liveSinceUs = nowUs();
    this.attempts = 0;
    stats.tick.live++;
    stats.tick.connectOk++;
    stats.record('ws_hello', elapsed);
    const head = seqPos(f.data.headSeq as string);
    this.replayUntil = null;
    if (resume) {
      this.resumes++;
      stats.count('resumes');
      stats.record('reconnect', elapsed);
      if (f.data.resumed === true) stats.count('resumed_hello');
      stats.count('replayed_events', Number(f.data.replayed) || 0);
      this.replayUntil = head;
    }
    if (!this.firstHead) this.firstHead = head;
    if (this.lastSeq === null) {
      this.lastSeq = f.data.headSeq as string;
      this.lastPos = head;
    }
    if (this.subscribeFrame && this.ws) {
      this.ws.send(this.subscribeFrame);
      stats.count('presence_subscribes');
    }
    return null;
  }

  private onFrame(data: Buffer): void {
    const recvUs = nowUs();
    const { stats } = this.ctx;
    let f: any;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      stats.count('unparsable_frames');
      return;
    }
    const type = typeof f?.type === 'string' ? (f.type as string) : '(none)';
    bump(stats.framesByType, type);
    let pos: SeqPos | null = null;
    if (typeof f.seq === 'string') {
      pos = seqPos(f.seq);
      if (!pos) stats.count('seq_unparsable');
      else if (this.lastPos && comparePos(pos, this.lastPos) <= 0) {
        stats.count(this.recent.includes(f.seq) ? 'seq_duplicates' : 'seq_reordered');
      } else {
        this.lastPos = pos;
        this.lastSeq = f.seq as string;
        this.recent.push(f.seq as string);
        if (this.recent.length > RECENT) this.recent.shift();
      }
    }
    switch (type) {
      case 'message.created':
        return this.onMessage(f.data, pos, recvUs);
      case 'error':
        bump(stats.errorFrames, String(f.data?.code ?? 'unknown'));
        return;
      case 'resync.required':
        // The contract's answer is GET /api/sync; the harness restarts its expectations at the head.
        this.resyncs++;
        stats.count('resync_required');
        this.firstHead = this.replayUntil ?? this.lastPos;
        return;
      case 'presence.batch':
        return this.onPresence(f.data?.updates);
    }
  }

  /**
   * Presence fanout latency: receive time − the update's `at` (server clock: when the status took its
   * value). Only for transitions seen while watching: a user already known here at an older version,
   * on a connection live for a while. Snapshots sent on (re)subscribe carry old `at` values and would
   * measure the age of a status, not its fanout.
   */
  private onPresence(updates: unknown): void {
    if (!Array.isArray(updates)) return;
    const settled = this.liveSinceUs > 0 && nowUs() - this.liveSinceUs > PRESENCE_SETTLE_US;
    for (const u of updates as { userId?: unknown; version?: unknown; at?: unknown }[]) {
      if (typeof u?.userId !== 'string' || typeof u.version !== 'number') continue;
      const known = this.presenceVersions.get(u.userId);
      this.presenceVersions.set(u.userId, Math.max(known ?? 0, u.version));
      if (known === undefined || u.version <= known || !settled) continue;
      const at = typeof u.at === 'number' ? u.at : Date.parse(String(u.at));
      if (Number.isFinite(at)) this.ctx.stats.record('presence_fanout', Math.max(0, Date.now() - at) * 1000);
      this.ctx.stats.tick.presenceReceived++;
    }
  }

  private onMessage(d: any, pos: SeqPos | null, recvUs: number): void {
    const { stats, runPrefix } = this.ctx;
    const cmid = d?.clientMessageId;
    if (typeof cmid !== 'string' || !cmid.startsWith(runPrefix)) {
      stats.count('foreign_messages');
      return;
    }
    this.received.push(Number(cmid.slice(runPrefix.length)));
    stats.tick.received++;
    const b = parseBody(d.body);
    if (!b) return stats.count('unparsable_bodies');
    const latency = recvUs - b.intendedUs;
    if (this.replayUntil && pos && comparePos(pos, this.replayUntil) <= 0) {
      stats.record('e2e_replayed', latency);
      return;
    }
    stats.record(b.warmup ? 'e2e_warmup' : 'e2e', latency);
    if (!b.warmup) stats.record(`e2e_tenant:${this.tenantName}`, latency);
    if (latency >= 1) stats.interval.recordValue(Math.round(latency));
  }

  send(frame: string): boolean {
    if (this.state !== 'live' || !this.ws) return false;
    this.ws.send(frame);
    return true;
  }
}
