// One simulated user of the Socket.IO peer: the same surface as generator/client.ts's BenchClient
// (the generator drives either), over socket.io-client (websocket transport, bound to the
// generator's source address). The peer numbers messages globally (`<n>-0`); ordering is checked
// per thread — Socket.IO promises no order across rooms, Chorus's per-user stream does — and
// expectations start after the `hello` head, as with Chorus.
import { io, type Socket } from 'socket.io-client';
import { nowUs } from '../../lib/clock.js';
import { comparePos, seqPos, type SeqPos } from '../../lib/seq-order.js';
import { parseBody } from '../../generator/client.js';
import { bump } from '../../generator/stats.js';
import { ClientLifecycle } from '../../generator/lifecycle.js';

interface PeerMessage {
  threadId: string;
  body: string;
  clientMessageId: string;
  seq: string;
}

export class SocketIoClient extends ClientLifecycle {
  token = '';
  firstHead: SeqPos | null = null;
  readonly received: number[] = [];
  resumes = 0;
  resyncs = 0;
  presenceAway = false;
  subscribeFrame: string | null = null;
  private socket: Socket | null = null;
  private readonly lastByThread = new Map<string, SeqPos>();
  /** Messages that arrived before hello (emitted between the room join and the head read). */
  private early: [PeerMessage, number][] = [];

  protected get open(): boolean {
    return this.socket !== null;
  }

  protected close(how: 'leave' | 'drop' | 'shutdown'): void {
    const s = this.socket as Socket;
    if (how === 'shutdown') {
      this.socket = null;
      s.removeAllListeners();
    }
    s.disconnect();
  }

  connect(): void {
    if (this.state === 'left' || this.state === 'gaveup' || this.socket) return;
    const { stats } = this.ctx;
    const resume = this.firstHead !== null;
    this.state = 'connecting';
    stats.tick.connecting++;
    const started = nowUs();
    // localAddress reaches the `ws` transport (engine.io-client passes it on) but is not in the typings.
    const opts = {
      transports: ['websocket'], auth: { token: this.token }, reconnection: false, forceNew: true,
      timeout: this.ctx.helloTimeoutMs, localAddress: this.ctx.localAddress,
    };
    const socket = io(this.ctx.wsUrl.replace(/^ws/, 'http'), opts);
    this.socket = socket;
    let helloed = false;
    socket.on('connect', () => stats.record('ws_connecting', nowUs() - started));
    socket.on('hello', (h: { headSeq: string }) => {
      helloed = true;
      stats.tick.connecting--;
      stats.tick.live++;
      stats.tick.connectOk++;
      bump(stats.framesByType, 'hello');
      stats.record('ws_hello', nowUs() - started);
      this.state = 'live';
      this.attempts = 0;
      if (resume) {
        // Socket.IO has no replay: what was sent while offline is lost (counted by the ledger).
        this.resumes++;
        stats.count('resumes');
      }
      const head = seqPos(h.headSeq);
      if (!this.firstHead) this.firstHead = head;
      const early = this.early;
      this.early = [];
      for (const [m, at] of early) if (head && (seqPos(m.seq) ?? head).ms > head.ms) this.onMessage(m, at);
      this.headMs = head?.ms ?? 0;
    });
    socket.on('message.created', (m: PeerMessage) => {
      const at = nowUs();
      bump(stats.framesByType, 'message.created');
      if (!helloed) return void this.early.push([m, at]);
      this.onMessage(m, at);
    });
    const failed = (reason: string) => {
      if (this.socket !== socket) return;
      this.socket = null;
      socket.removeAllListeners();
      socket.disconnect();
      if (!helloed) {
        stats.tick.connecting--;
        if (this.state === 'left') return;
        stats.tick.connectFail++;
        bump(stats.connectFailures, `${resume ? 'resume' : 'first'}:${reason}`);
        this.ctx.warn(`${this.tenantName}/${this.user.id}: connect failed (${reason})`);
        this.state = 'offline';
        return this.retry(resume ? this.ctx.maxResumeAttempts : this.ctx.maxInitialAttempts);
      }
      stats.tick.live--;
      if (this.state === 'left' || this.state === 'offline') return;
      stats.tick.disconnects++;
      bump(stats.closeCodes, reason);
      this.state = 'offline';
      this.attempts = 0;
      this.retry(this.ctx.maxResumeAttempts);
    };
    socket.on('connect_error', (err: Error) => failed(`connect_error_${err.message.slice(0, 40)}`));
    socket.on('disconnect', (reason: string) => failed(reason.replace(/ /g, '_')));
  }

  private headMs = 0;

  private onMessage(m: PeerMessage, recvUs: number): void {
    const { stats, runPrefix } = this.ctx;
    const pos = seqPos(m.seq);
    if (!pos) return stats.count('seq_unparsable');
    if (pos.ms <= this.headMs) return stats.count('peer_before_head');
    const last = this.lastByThread.get(m.threadId);
    if (last && comparePos(pos, last) <= 0) stats.count(comparePos(pos, last) === 0 ? 'seq_duplicates' : 'seq_reordered');
    else this.lastByThread.set(m.threadId, pos);
    if (typeof m.clientMessageId !== 'string' || !m.clientMessageId.startsWith(runPrefix)) return stats.count('foreign_messages');
    this.received.push(Number(m.clientMessageId.slice(runPrefix.length)));
    stats.tick.received++;
    const b = parseBody(m.body);
    if (!b) return stats.count('unparsable_bodies');
    const latency = recvUs - b.intendedUs;
    stats.record(b.warmup ? 'e2e_warmup' : 'e2e', latency);
    if (!b.warmup) stats.record(`e2e_tenant:${this.tenantName}`, latency);
    if (latency >= 1) stats.interval.recordValue(Math.round(latency));
  }

  /** Heartbeats and presence frames are Chorus protocol: the peer has no presence. */
  send(_frame: string): boolean {
    return false;
  }
}

/** The generator uses either client through BenchClient's public surface: keep them in step. */
export type SameSurface = SocketIoClient extends Pick<import('../../generator/client.js').BenchClient, keyof import('../../generator/client.js').BenchClient> ? true : never;
export const sameSurface: SameSurface = true;
