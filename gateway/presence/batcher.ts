// Per-subscriber batching: updates wait in the subscriber's pending map (latest per user) and leave
// as one presence.batch frame of at most batchMax users, when batchMax are waiting or batchMs after
// the first one arrived, whichever comes first. A socket over its soft buffer keeps its updates
// pending (retried a window later) instead of dropping them, so a slow client catches up with the
// latest state rather than missing changes.
import type { WebSocket } from 'uWebSockets.js';
import { EVENT, controlFrame, type Priority } from '../../core/events/index.js';
import { metrics } from '../../core/metrics.js';
import type { PendingItem, Subscriber, SubscriberConn } from './registry.js';
import type { PresenceUpdate } from './status.js';

/** What the batcher needs of a websocket connection (gateway/ws/connection.ts provides it). */
export interface WritableConn extends SubscriberConn {
  readonly closed: boolean;
  readonly ws: Pick<WebSocket<unknown>, 'cork' | 'getBufferedAmount'>;
  write(frame: string, priority: Priority): boolean;
}

export interface BatchLimits {
  batchMax: number;
  batchMs: number;
  /** Bytes buffered on the socket above which presence waits (the connection's best-effort limit). */
  softBuffer: number;
}

export type FrameKind = 'batch' | 'catch_up';

export class Batcher<C extends WritableConn = WritableConn> {
  constructor(private readonly limits: BatchLimits) {}

  /** Queues one update for a subscriber, unless it already has this version or a newer one. */
  enqueue(sub: Subscriber<C>, update: PresenceUpdate, live: boolean): void {
    if (update.version <= (sub.sent.get(update.userId) ?? -1)) {
      metrics.presenceDuplicates.inc({ stage: 'fanout' });
      return;
    }
    const prev = sub.pending.get(update.userId);
    if (prev && prev.update.version >= update.version) return;
    sub.pending.set(update.userId, { update, live: live || (prev?.live ?? false) });
    if (sub.pending.size >= this.limits.batchMax) this.flush(sub);
    else this.arm(sub);
  }

  /** Writes what is pending now, in frames of at most batchMax users. */
  flush(sub: Subscriber<C>, kind: FrameKind = 'batch'): void {
    if (sub.timer) {
      clearTimeout(sub.timer);
      sub.timer = null;
    }
    const conn = sub.conn;
    if (conn.closed) {
      sub.pending.clear();
      return;
    }
    if (!sub.pending.size) return;
    conn.ws.cork(() => {
      while (sub.pending.size) {
        if (conn.ws.getBufferedAmount() > this.limits.softBuffer) break;
        const items: PendingItem[] = [];
        for (const [userId, item] of sub.pending) {
          items.push(item);
          sub.pending.delete(userId);
          if (items.length >= this.limits.batchMax) break;
        }
        this.write(sub, items, kind);
      }
    });
    // Still pending: the socket is backed up; try again a window later with whatever is latest then.
    if (sub.pending.size && !conn.closed) this.arm(sub);
  }

  /** Forgets everything pending for a subscriber (deferred by summary mode, or the connection left). */
  drop(sub: Subscriber<C>): number {
    if (sub.timer) {
      clearTimeout(sub.timer);
      sub.timer = null;
    }
    const n = sub.pending.size;
    sub.pending.clear();
    return n;
  }

  private arm(sub: Subscriber<C>): void {
    if (!sub.timer) {
      sub.timer = setTimeout(() => {
        sub.timer = null;
        this.flush(sub);
      }, this.limits.batchMs);
    }
  }

  private write(sub: Subscriber<C>, items: PendingItem[], kind: FrameKind): void {
    const updates = items.map((i) => i.update);
    if (!sub.conn.write(controlFrame(EVENT.presenceBatch, { updates }), 'best_effort')) return;
    metrics.presenceFrames.inc({ kind });
    const now = Date.now();
    for (const i of items) {
      sub.sent.set(i.update.userId, i.update.version);
      if (i.live) metrics.presenceFanoutLatency.observe(Math.max(0, now - Date.parse(i.update.at)) / 1000);
    }
  }
}
