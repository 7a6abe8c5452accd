// The receiving side on one gateway: shard messages enter an inbound queue, which is applied in
// slices (so a burst never blocks the event loop) to the latest known state of watched users and
// handed to the subscribers' batches. When the queue depth (inbound + pending in batches) passes
// the summary threshold, affected subscribers get presence.summary every interval instead of
// per-user updates; below the recovery watermark each gets one catch-up of exactly what changed.
import type { Config } from '../../config/index.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { EVENT, controlFrame } from '../../core/events/index.js';
import { metrics } from '../../core/metrics.js';
import { Registry, type Subscriber, type WatchChanges } from './registry.js';
import { Batcher, type WritableConn } from './batcher.js';
import { SummaryMode, summaryCounts } from './summary-mode.js';
import { ShardChannels } from './shard-channels.js';
import { readPresence } from '../../core/presence.js';
import { parseUpdate, shardOf, tenantOfChannel, type PresenceUpdate } from './status.js';

/** Inbound updates applied per macrotask before yielding to I/O. */
const DRAIN_SLICE = 2000;
/** How often the queue depth is compared with the summary thresholds. */
const CHECK_MS = 100;

export class PresenceFanout<C extends WritableConn = WritableConn> {
  readonly registry = new Registry<C>();
  readonly mode: SummaryMode;
  private readonly batcher: Batcher<C>;
  private readonly channels: ShardChannels;
  private inbound: { tenantId: string; update: PresenceUpdate }[] = [];
  private inboundAt = 0;
  private drainScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  /** Subscribers receiving presence.summary: during summary mode, and after it while their socket is backed up. */
  private readonly summarized = new Set<Subscriber<C>>();
  private reconciling: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly log: Logger,
  ) {
    const p = config.presence;
    this.batcher = new Batcher<C>({ batchMax: p.batchMax, batchMs: p.batchMs, softBuffer: config.gateway.softBuffer });
    this.mode = new SummaryMode({ threshold: p.summaryThreshold, recovery: p.summaryRecovery, minDwellMs: p.summaryIntervalMs });
    this.channels = new ShardChannels(config, log, (ch, m) => this.onMessage(ch, m), () => void this.reconcile('reconnect'));
  }

  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(CHECK_MS, () => this.checkMode());
    every(this.config.presence.summaryIntervalMs, () => this.sendSummaries());
    every(this.config.presence.reconcileMs, () => void this.reconcile('periodic'));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const sub of this.registry.subscribers.values()) this.batcher.drop(sub);
    this.summarized.clear();
    this.channels.close();
  }

  /** Updates received but not yet written: the backstop's queue depth. */
  depth(): number {
    let n = this.inbound.length - this.inboundAt;
    for (const sub of this.registry.subscribers.values()) n += sub.pending.size;
    return n;
  }

  /**
   * Makes `conn` a subscriber of these threads' members (the caller checked participation): the
   * shard channels are subscribed before the state is read, so no change falls in between.
   */
  async subscribe(conn: C, threadIds: string[]): Promise<void> {
    const missing = this.registry.missingThreads(conn.tenantId, threadIds);
    const members = new Map<string, string[]>();
    const lists = await Promise.all(missing.map((th) => this.redis.smembers(keys.threadMembers(conn.tenantId, th))));
    missing.forEach((th, i) => members.set(th, lists[i]!));
    if (conn.closed) return;
    await this.applyChanges(conn.tenantId, this.registry.addThreads(conn, threadIds, members));
  }

  unsubscribe(conn: C, threadIds: string[]): void {
    void this.applyChanges(conn.tenantId, this.registry.removeThreads(conn, threadIds));
  }

  removeConnection(conn: C): void {
    const ch = this.registry.removeSubscriber(conn);
    if (ch.sub) {
      this.batcher.drop(ch.sub);
      this.summarized.delete(ch.sub);
    }
    void this.applyChanges(conn.tenantId, ch);
  }

  /** Membership events from the hub's tail keep subscribed threads' member lists current. */
  membershipChanged(tenantId: string, threadId: string, userIds: string[], op: 'add' | 'remove'): void {
    for (const u of userIds) {
      const ch = op === 'add' ? this.registry.memberAdded(tenantId, threadId, u) : this.registry.memberRemoved(tenantId, threadId, u);
      this.applyChanges(tenantId, ch).catch((err: unknown) =>
        this.log.warn({ err, tenant_id: tenantId, thread_id: threadId, user_id: u }, 'presence membership change failed'));
    }
  }

  private async applyChanges(tenantId: string, ch: WatchChanges<C>): Promise<void> {
    for (const u of ch.gatewayRemoved) this.channels.release(keys.presenceChannel(tenantId, shardOf(this.config, tenantId, u)));
    const t = this.registry.tenant(tenantId);
    // Users already known here: their state goes to the new watchers at once.
    for (const { sub, userId } of ch.subscriberAdded) {
      const k = t?.known.get(userId);
      if (k) this.deliver(sub, k, false);
    }
    const load = ch.gatewayAdded;
    if (!load.length) return;
    // One acquire per user (released per user): the channel stays while any of its users is watched.
    await Promise.all(load.map((u) => this.channels.acquire(keys.presenceChannel(tenantId, shardOf(this.config, tenantId, u)))));
    const records = await readPresence(this.redis, tenantId, load);
    for (const r of records) {
      this.apply(tenantId, { userId: r.userId, status: r.status, version: r.version, at: r.at ?? new Date().toISOString() }, false);
    }
  }

  private onMessage(channel: string, message: string): void {
    const tenantId = tenantOfChannel(channel);
    const update = parseUpdate(message);
    if (!tenantId || !update) {
      this.log.warn({ channel }, 'malformed presence message');
      return;
    }
    this.inbound.push({ tenantId, update });
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.drainScheduled = false;
    // Checked before each slice, when the backlog read from the socket is at its largest.
    this.checkMode();
    const end = Math.min(this.inbound.length, this.inboundAt + DRAIN_SLICE);
    for (; this.inboundAt < end; this.inboundAt++) {
      const m = this.inbound[this.inboundAt]!;
      this.apply(m.tenantId, m.update, true);
    }
    if (this.inboundAt >= this.inbound.length) {
      this.inbound = [];
      this.inboundAt = 0;
    } else this.scheduleDrain();
  }

  /** Takes one update into the known state (newer versions only) and hands it to the watchers. */
  private apply(tenantId: string, update: PresenceUpdate, live: boolean): void {
    const t = this.registry.tenant(tenantId);
    const watchers = t?.watchers.get(update.userId);
    if (!t || !watchers) return;
    const k = t.known.get(update.userId);
    if (k && k.version >= update.version) {
      if (live && k.version === update.version) metrics.presenceDuplicates.inc({ stage: 'gateway' });
      return;
    }
    t.known.set(update.userId, update);
    for (const sub of watchers) this.deliver(sub, update, live);
  }

  private deliver(sub: Subscriber<C>, update: PresenceUpdate, live: boolean): void {
    // Deferred: the catch-up at the end of summary mode sends whatever is newer than what was sent.
    if (sub.summary) return;
    if (this.mode.active) return this.enterSummary(sub);
    this.batcher.enqueue(sub, update, live);
  }

  private enterSummary(sub: Subscriber<C>): void {
    sub.summary = true;
    this.summarized.add(sub);
    this.batcher.drop(sub);
    this.writeSummary(sub);
  }

  private backedUp(sub: Subscriber<C>): boolean {
    return sub.conn.ws.getBufferedAmount() > this.config.gateway.softBuffer;
  }

  /**
   * Back to per-user updates with one catch-up batch; a subscriber whose socket is still backed up
   * stays on summaries until it drains (its catch-up would only queue up again and re-enter the mode).
   */
  private leaveSummary(sub: Subscriber<C>): boolean {
    if (sub.conn.closed) {
      this.summarized.delete(sub);
      return false;
    }
    if (this.backedUp(sub)) return false;
    sub.summary = false;
    this.summarized.delete(sub);
    this.catchUp(sub);
    return true;
  }

  private checkMode(): void {
    const depth = this.depth();
    metrics.presenceQueueDepth.set(depth);
    const change = this.mode.check(depth, Date.now());
    if (change === 'enter') {
      const p = this.config.presence;
      let affected = 0;
      for (const sub of this.registry.subscribers.values()) {
        if (!sub.pending.size) continue;
        this.enterSummary(sub);
        affected++;
      }
      metrics.presenceSummaryMode.set(1);
      metrics.presenceSummaryTransitions.inc({ direction: 'enter' });
      this.log.warn({ depth, threshold: p.summaryThreshold, recovery: p.summaryRecovery, subscribers_deferred: affected },
        'presence queue over threshold: entering summary mode (presence.summary instead of per-user updates)');
    } else if (change === 'exit') {
      let caughtUp = 0;
      for (const sub of [...this.summarized]) if (this.leaveSummary(sub)) caughtUp++;
      metrics.presenceSummaryMode.set(0);
      metrics.presenceSummaryTransitions.inc({ direction: 'exit' });
      this.log.warn({ depth, recovery: this.config.presence.summaryRecovery, subscribers_caught_up: caughtUp,
        subscribers_backed_up: this.summarized.size, duration_ms: Date.now() - this.mode.since },
      'presence queue drained: leaving summary mode, catch-up batches sent');
    }
  }

  /** After summary mode: every watched user whose known version is newer than what this subscriber got. */
  private catchUp(sub: Subscriber<C>): void {
    const t = this.registry.tenant(sub.conn.tenantId);
    if (!t) return;
    for (const u of sub.watch.keys()) {
      const k = t.known.get(u);
      if (k && k.version > (sub.sent.get(u) ?? -1)) sub.pending.set(u, { update: k, live: false });
    }
    this.batcher.flush(sub, 'catch_up');
  }

  private sendSummaries(): void {
    for (const sub of [...this.summarized]) {
      if (!this.mode.active && this.leaveSummary(sub)) continue;
      this.writeSummary(sub);
    }
  }

  private writeSummary(sub: Subscriber<C>): void {
    const t = this.registry.tenant(sub.conn.tenantId);
    if (!t || sub.conn.closed) return;
    const counts = summaryCounts(sub.watch.keys(), t.known);
    sub.conn.ws.cork(() => {
      if (sub.conn.write(controlFrame(EVENT.presenceSummary, { counts }), 'best_effort')) metrics.presenceFrames.inc({ kind: 'summary' });
    });
  }

  /**
   * Re-reads the state of every watched user and applies what is newer: repairs updates lost while
   * the subscriber connection was down, or never published because a publisher died mid-way.
   */
  reconcile(reason: 'reconnect' | 'periodic'): Promise<void> {
    if (this.reconciling) return this.reconciling;
    const run = async () => {
      for (const [tenantId, t] of this.registry.tenants) {
        const users = [...t.watchers.keys()];
        if (!users.length) continue;
        const records = await readPresence(this.redis, tenantId, users);
        let repaired = 0;
        for (const r of records) {
          const k = t.known.get(r.userId);
          if (k && k.version >= r.version) continue;
          repaired++;
          this.apply(tenantId, { userId: r.userId, status: r.status, version: r.version, at: r.at ?? new Date().toISOString() }, false);
        }
        if (repaired) this.log.info({ tenant_id: tenantId, repaired, reason }, 'presence reconcile applied newer state');
      }
    };
    this.reconciling = run().catch((err: unknown) => this.log.warn({ err, reason }, 'presence reconcile failed')).finally(() => { this.reconciling = null; });
    return this.reconciling;
  }
}
