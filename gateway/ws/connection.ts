// One websocket connection: its identity, the threads it may see, its stream cursor and the
// priority-aware, backpressure-bounded writer. uWS owns the socket buffer; we decide what enters it.
import type { WebSocket } from 'uWebSockets.js';
import type { Priority, StreamEvent } from '../../core/events/index.js';
import type { Seq } from '../../core/seq.js';
import { metrics } from '../../core/metrics.js';
import { OTHER_TENANT, TenantChildren } from '../../core/tenant-label.js';
import { logSampler } from '../../core/log-sample.js';
import type { Logger } from '../../core/logger.js';

export interface SocketData {
  conn?: Connection;
  principal: { tenantId: string; userId: string; admin: boolean };
  lastSeq: Seq | null;
  connectionId: string;
}

export interface BufferLimits {
  /** Above this many buffered bytes, best-effort frames are dropped (important ones above twice it). */
  soft: number;
  /** A critical frame that would take the buffer past this closes the connection with 4008. */
  hard: number;
}

export const CLOSE_SLOW_CONSUMER = 4008;

const PRIORITIES: readonly Priority[] = ['critical', 'important', 'best_effort'];
type Child<M extends { labels: (...a: never[]) => unknown }> = ReturnType<M['labels']>;
/**
 * The metric children, looked up once per tenant label (core/tenant-label.ts): writing a frame must
 * not hash label values. Sent counts are added once per flush, which also counts the tenant's
 * traffic for the top-N ranking; fanout latency is observed per frame on its per-priority child.
 */
const sentBy = new TenantChildren((tenant) => Object.fromEntries(PRIORITIES.map((p) => [p, metrics.wsEventsSent.labels({ priority: p, tenant })])) as
  Record<Priority, Child<typeof metrics.wsEventsSent>>);
const latencyBy = Object.fromEntries(PRIORITIES.map((p) => [p, metrics.fanoutLatency.labels({ priority: p })])) as
  Record<Priority, Child<typeof metrics.fanoutLatency>>;
/**
 * Drops by priority, created at zero so the series exist before the first drop: `increase()` of a
 * counter that appears at 1 misses that first drop, and the critical-drop alert and SLI
 * (ops/observability/) watch a series that must be there. Critical frames never reach drop() (the
 * connection is closed with 4008 instead); their zero series is what would show a regression.
 */
const droppedBy = new TenantChildren((tenant) => Object.fromEntries(PRIORITIES.map((p) => {
  const child = metrics.wsEventsDropped.labels({ priority: p, reason: 'queue_overflow', tenant });
  child.inc(0); // a child exists in the output only once it has a value
  return [p, child];
})) as Record<Priority, Child<typeof metrics.wsEventsDropped>>);
droppedBy.get(OTHER_TENANT, 0);

export type ConnState = 'opening' | 'live' | 'closed';

export class Connection {
  state: ConnState = 'opening';
  /** Threads the user participates in, as of `cursor`. */
  threads = new Set<string>();
  /** The last stream position this connection has been brought up to. */
  cursor: Seq = '0-0' as Seq;
  /** Live events that arrived while the connection was still replaying. */
  pending: StreamEvent[] = [];
  /** Frames collected during one dispatch round, written under one cork. */
  private outbox: { frame: string; priority: Priority; at: number }[] = [];
  /** Times of recent bad or rate-limited frames (flood detection). */
  badFrames: number[] = [];
  /** Local token bucket of client frames. */
  private frameTokens = -1;
  private frameTs = 0;

  constructor(
    readonly ws: WebSocket<SocketData>,
    readonly id: string,
    readonly tenantId: string,
    readonly userId: string,
    private readonly limits: BufferLimits,
    private readonly log: Logger,
  ) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  queue(frame: string, priority: Priority, acceptedAtMs = 0): void {
    if (this.state !== 'closed') this.outbox.push({ frame, priority, at: acceptedAtMs });
  }

  /** Writes the queued frames under one cork. */
  flush(): void {
    if (this.state === 'closed' || !this.outbox.length) return;
    const out = this.outbox;
    this.outbox = [];
    this.counting = true;
    try {
      this.ws.cork(() => {
        for (const f of out) if (!this.write(f.frame, f.priority, f.at)) break;
      });
    } finally {
      this.counting = false;
      const sent = this.sent;
      const n = sent.critical + sent.important + sent.best_effort;
      if (n) {
        const by = sentBy.get(this.tenantId, n);
        for (const p of PRIORITIES) {
          if (sent[p]) by[p].inc(sent[p]);
          sent[p] = 0;
        }
      }
    }
  }

  /** Frames written during the current flush, by priority (added to the counter once, at its end). */
  private sent: Record<Priority, number> = { critical: 0, important: 0, best_effort: 0 };
  private counting = false;

  /** Sends one frame now (corked by the caller when outside a uWS handler). */
  write(frame: string, priority: Priority, acceptedAtMs = 0): boolean {
    if (this.state === 'closed') return false;
    const buffered = this.ws.getBufferedAmount();
    if (priority === 'best_effort' && buffered > this.limits.soft) return this.drop(priority, 'queue_overflow');
    if (priority === 'important' && buffered > this.limits.soft * 2) return this.drop(priority, 'queue_overflow');
    if (priority === 'critical' && buffered + frame.length > this.limits.hard) {
      // Never drop a critical event: close, and the client resumes from its last seq losing nothing.
      this.log.warn({ connection_id: this.id, tenant_id: this.tenantId, user_id: this.userId, buffered, reason: 'queue_overflow' },
        'slow consumer: closing with 4008');
      this.close(CLOSE_SLOW_CONSUMER, 'slow consumer: resume with lastSeq');
      return false;
    }
    this.ws.send(frame, false);
    if (this.counting) this.sent[priority]++;
    else sentBy.get(this.tenantId)[priority].inc();
    if (acceptedAtMs) latencyBy[priority].observe(Math.max(0, Date.now() - acceptedAtMs) / 1000);
    return true;
  }

  private drop(priority: Priority, reason: 'queue_overflow'): boolean {
    droppedBy.get(this.tenantId)[priority].inc();
    if (logSampler.take('ws_drop')) {
      this.log.info({ connection_id: this.id, tenant_id: this.tenantId, user_id: this.userId, priority, reason, sampled_1_in: logSampler.rate }, 'event dropped');
    }
    return true; // the connection stays usable; later (critical) frames still go out
  }

  private early: (() => void)[] = [];

  /** Queues work until the connection is live; false when too much is queued already. */
  deferUntilLive(fn: () => void, max: number): boolean {
    if (this.early.length >= max) return false;
    this.early.push(fn);
    return true;
  }

  /** Runs what was deferred while opening (called by the hub once hello and replay are out). */
  runDeferred(): void {
    const fns = this.early;
    this.early = [];
    if (fns.length) this.ws.cork(() => { for (const fn of fns) if (!this.closed) fn(); });
  }

  /** Takes one token from the connection's frame bucket; false when the client sends too fast. */
  takeFrameToken(ratePerS: number, burst: number): boolean {
    if (ratePerS <= 0) return true;
    const now = Date.now();
    if (this.frameTokens < 0) this.frameTokens = burst;
    else this.frameTokens = Math.min(burst, this.frameTokens + ((now - this.frameTs) * ratePerS) / 1000);
    this.frameTs = now;
    if (this.frameTokens < 1) return false;
    this.frameTokens -= 1;
    return true;
  }

  /** The peer closed or uWS closed the socket: never touch `ws` again. */
  markClosed(): void {
    this.state = 'closed';
    this.outbox = [];
    this.pending = [];
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.outbox = [];
    this.pending = [];
    try {
      this.ws.end(code, reason);
    } catch (err) {
      // The socket may already be gone (closed by the peer in the same tick): nothing left to do.
      this.log.debug({ err, connection_id: this.id }, 'end on a closed socket');
    }
  }
}
