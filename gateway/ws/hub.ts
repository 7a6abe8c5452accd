// The gateway's fanout hub: tails the streams of the tenants it hosts connections for, and routes
// each event to the connections allowed to see it, in stream order. A connection joins through
// `attach`, which replays (lastSeq, now] and merges the live events that arrived meanwhile, so a
// client never sees a gap or a duplicate.
import os from 'node:os';
import type { Config } from '../../config/index.js';
import type { RedisClient } from '../../core/redis.js';
import { createRedis, groupBySlot, isCluster } from '../../core/redis.js';
import type { Logger } from '../../core/logger.js';
import { EVENT, FRAME, controlFrame, hasPerUser, personalData, personalizer, priorityOf, streamFrame, type StreamEvent } from '../../core/events/index.js';
import { compareSeq, seqMillis, type Seq } from '../../core/seq.js';
import { mayHaveGap, membershipSnapshot, rangeAfter, readAfter } from '../../core/stream-commands.js';
import { keys } from '../../core/keys.js';
import { backoffDelay, sleep } from '../../core/backoff.js';
import { metrics } from '../../core/metrics.js';
import { CLOSE_SLOW_CONSUMER, type Connection } from './connection.js';
import { applyEvent, membershipBefore } from './visibility.js';
import { RecentEvents } from './recent-events.js';
import { errorFrame } from './error-frame.js';
import { SpanKind, startSpan } from '../../core/tracing/index.js';
import { rememberFanout } from './ack-span.js';

interface TenantState {
  /** Last position read by the tail; null until the first connection's snapshot sets it. */
  position: Seq | null;
  /** What the tail read recently, shared by resuming connections (null until position is set). */
  recent: RecentEvents | null;
  byThread: Map<string, Set<Connection>>;
  byUser: Map<string, Set<Connection>>;
  opening: Set<Connection>;
  connections: number;
}

const TAIL_COUNT = 500;
const POLL_MS = 25;
/** Events of one tenant dispatched before the next tenant's turn. */
const FAIR_SLICE = 32;

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s && s.delete(v) && s.size === 0) m.delete(k);
}

export class Hub {
  private tenants = new Map<string, TenantState>();
  private tailRedis: RedisClient;
  private tailClientId: number | null = null;
  private running = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  /** Called when the first connection of a tenant arrives and when its last one leaves. */
  onTenantChange: ((tenantId: string, hosted: boolean) => void) | null = null;
  /** Called for every participant.added/removed the tail reads (presence keeps subscribed threads' members current). */
  onMembershipChange: ((tenantId: string, threadId: string, userIds: string[], op: 'add' | 'remove') => void) | null = null;

  /** Names this gateway process in hello frames and logs (which node a client is on). */
  readonly gatewayId = `${os.hostname()}-${process.pid}`;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    private readonly log: Logger,
  ) {
    this.tailRedis = createRedis(config, { name: 'gateway-tail', blocking: true });
    this.tailRedis.on('error', (err) => this.log.warn({ err }, 'tail redis error'));
    this.tailRedis.on('ready', () => {
      if (isCluster(this.tailRedis)) return;
      this.tailRedis.client('ID').then((id) => { this.tailClientId = Number(id); },
        (err) => this.log.warn({ err }, 'CLIENT ID failed'));
    });
  }

  start(): void {
    this.running = true;
    this.loopDone = this.tailLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.interruptTail();
    await this.loopDone;
    this.tailRedis.disconnect();
  }

  get connectionCount(): number {
    let n = 0;
    for (const t of this.tenants.values()) n += t.connections;
    return n;
  }

  /** Live connections of a thread's participants (for best-effort events such as typing). */
  threadConnections(tenantId: string, threadId: string): Iterable<Connection> {
    return this.tenants.get(tenantId)?.byThread.get(threadId) ?? [];
  }

  /** Connections of one user / of one tenant on this gateway (for connection caps). */
  userConnectionCount(tenantId: string, userId: string): number {
    return this.tenants.get(tenantId)?.byUser.get(userId)?.size ?? 0;
  }

  tenantConnectionCount(tenantId: string): number {
    return this.tenants.get(tenantId)?.connections ?? 0;
  }

  /** Every connection (for drain). */
  *allConnections(): Iterable<Connection> {
    for (const t of this.tenants.values()) for (const set of t.byUser.values()) yield* set;
  }

  /**
   * Brings a new connection up to date and makes it live: snapshot of membership + head (atomic),
   * replay of (lastSeq, head] filtered by what the user could see at each point, then the live
   * events buffered meanwhile.
   */
  async attach(conn: Connection, lastSeq: Seq | null): Promise<void> {
    const t = this.tenant(conn.tenantId);
    t.connections++;
    t.opening.add(conn);
    addTo(t.byUser, conn.userId, conn);
    try {
      const snap = await membershipSnapshot(this.redis, conn.tenantId, conn.userId);
      const head = snap.info.lastGeneratedId;
      // The tail may already be past our head (another connection of this tenant set its start
      // later): events in (head, liveFrom] were never dispatched to us, so we read them ourselves.
      let liveFrom = head;
      if (t.position === null) {
        t.position = head;
        t.recent = new RecentEvents(head, this.config.gateway.replayCacheEvents);
        this.interruptTail();
      } else if (compareSeq(t.position, head) > 0) liveFrom = t.position;
      let replay: StreamEvent[] = [];
      let resumed = false;
      let resync: string | null = null;
      if (lastSeq) {
        if (compareSeq(lastSeq, head) > 0) resync = 'unknown_seq';
        else if (mayHaveGap(snap.info, lastSeq)) resync = 'gap_too_old';
        else {
          const r = await this.fetchRange(conn.tenantId, lastSeq, head);
          if (r === null) resync = 'gap_too_old';
          else {
            replay = r;
            resumed = true;
          }
        }
      }
      const catchUp = compareSeq(liveFrom, head) > 0 ? (await this.fetchRange(conn.tenantId, head, liveFrom, Infinity)) ?? [] : [];
      if (conn.closed) return;
      // Membership at lastSeq (or at head when not resuming), then forward through replay and catch-up.
      const threads = membershipBefore(snap.threads, conn.userId, replay);
      const frames: { frame: string; e: StreamEvent; revoked: boolean }[] = [];
      let replayed = 0;
      for (const e of [...replay, ...catchUp]) {
        const d = applyEvent(threads, conn.userId, e);
        if (!d) continue;
        frames.push({ frame: this.frameFor(e, d === 'revoked', conn.userId), e, revoked: d === 'revoked' });
        if (compareSeq(e.seq, head) <= 0) replayed++;
      }
      conn.threads = threads;
      conn.cursor = liveFrom;
      for (const th of threads) addTo(t.byThread, th, conn);
      const hello = controlFrame(FRAME.hello, {
        connectionId: conn.id, userId: conn.userId, tenantId: conn.tenantId, headSeq: head, gatewayId: this.gatewayId,
        heartbeatIntervalMs: this.config.gateway.heartbeatIntervalMs, resumed, replayed,
      });
      conn.ws.cork(() => {
        if (!conn.write(hello, 'critical')) return;
        if (resync) {
          conn.write(controlFrame(FRAME.resyncRequired, { reason: resync }), 'critical');
          return;
        }
        for (const f of frames) if (!conn.write(f.frame, priorityOf(f.revoked ? EVENT.permissionRevoked : f.e.type))) return;
      });
      metrics.wsReplayed.inc(replayed);
      // Live events that arrived while we were replaying: those after head, in order.
      t.opening.delete(conn);
      if (conn.closed) return;
      conn.state = 'live';
      const buffered = conn.pending;
      conn.pending = [];
      for (const e of buffered) this.deliver(t, conn, e);
      conn.flush();
      conn.runDeferred();
    } catch (err) {
      this.log.error({ err, tenant_id: conn.tenantId, user_id: conn.userId, connection_id: conn.id }, 'connection attach failed');
      conn.ws.cork(() => conn.write(errorFrame('dependency_unavailable', 'could not load your state, reconnect'), 'critical'));
      conn.close(1011, 'attach failed');
    }
  }

  detach(conn: Connection): void {
    const t = this.tenants.get(conn.tenantId);
    if (!t) return;
    t.opening.delete(conn);
    removeFrom(t.byUser, conn.userId, conn);
    for (const th of conn.threads) removeFrom(t.byThread, th, conn);
    t.connections--;
    if (t.connections <= 0) {
      this.tenants.delete(conn.tenantId);
      this.interruptTail();
      this.onTenantChange?.(conn.tenantId, false);
    }
  }

  /**
   * Events in (after, until]: from the tenant's recent-events cache where it reaches back far enough,
   * the rest page by page from Redis; null when more than `limit` (the replay bound) would be needed.
   */
  private async fetchRange(tenantId: string, after: Seq, until: Seq, limit = this.config.gateway.replayMaxEvents): Promise<StreamEvent[] | null> {
    const recent = this.tenants.get(tenantId)?.recent;
    if (recent?.covers(after)) {
      const held = recent.newest;
      const cached = recent.range(after, until);
      if (cached.length > limit) return null;
      if (compareSeq(until, held) <= 0) {
        metrics.wsReplayCache.inc({ outcome: 'hit' });
        return cached;
      }
      // The tail has not read up to `until` yet: the cache serves the start, Redis the rest.
      const rest = await this.fetchFromRedis(tenantId, compareSeq(held, after) > 0 ? held : after, until, limit - cached.length);
      metrics.wsReplayCache.inc({ outcome: 'partial' });
      return rest && [...cached, ...rest];
    }
    metrics.wsReplayCache.inc({ outcome: 'miss' });
    return this.fetchFromRedis(tenantId, after, until, limit);
  }

  private async fetchFromRedis(tenantId: string, after: Seq, until: Seq, limit: number): Promise<StreamEvent[] | null> {
    const out: StreamEvent[] = [];
    let from = after;
    while (compareSeq(from, until) < 0) {
      const page = await rangeAfter(this.redis, tenantId, from, until, 1000);
      if (!page.length) break;
      out.push(...page);
      if (out.length > limit) return null;
      from = page[page.length - 1]!.seq;
    }
    return out;
  }

  private tenant(id: string): TenantState {
    let t = this.tenants.get(id);
    if (!t) {
      t = { position: null, recent: null, byThread: new Map(), byUser: new Map(), opening: new Set(), connections: 0 };
      this.tenants.set(id, t);
      this.onTenantChange?.(id, true);
    }
    return t;
  }

  private frameFor(e: StreamEvent, revoked: boolean, userId: string): string {
    if (revoked) return streamFrame(EVENT.permissionRevoked, e, JSON.stringify({ threadId: e.threadId, reason: 'removed' }));
    if (hasPerUser(e)) return streamFrame(e.type, e, personalData(e, userId));
    return streamFrame(e.type, e);
  }

  /**
   * Routes one event to one live connection, moving its membership along. `frameOf` is the event's
   * frame for a recipient, computed once per event by dispatch (shared, or personalized by splicing).
   */
  private deliver(t: TenantState, conn: Connection, e: StreamEvent, frameOf?: (userId: string) => string): void {
    if (compareSeq(e.seq, conn.cursor) <= 0) return;
    conn.cursor = e.seq;
    const before = e.threadId ? conn.threads.has(e.threadId) : false;
    const d = applyEvent(conn.threads, conn.userId, e);
    if (e.threadId) {
      const after = conn.threads.has(e.threadId);
      if (after && !before) addTo(t.byThread, e.threadId, conn);
      if (!after && before) removeFrom(t.byThread, e.threadId, conn);
    }
    if (!d) return;
    const type = d === 'revoked' ? EVENT.permissionRevoked : e.type;
    conn.queue(d === 'event' && frameOf ? frameOf(conn.userId) : this.frameFor(e, d === 'revoked', conn.userId), priorityOf(type), seqMillis(e.seq));
  }

  private dispatch(tenantId: string, events: StreamEvent[]): void {
    const t = this.tenants.get(tenantId);
    if (!t) return;
    const touched = new Set<Connection>();
    for (const e of events) {
      if (t.position && compareSeq(e.seq, t.position) <= 0) continue;
      t.position = e.seq;
      t.recent?.push(e);
      if (this.onMembershipChange && e.threadId && e.users && (e.type === EVENT.participantAdded || e.type === EVENT.participantRemoved)) {
        this.onMembershipChange(tenantId, e.threadId, e.users, e.type === EVENT.participantAdded ? 'add' : 'remove');
      }
      for (const c of t.opening) {
        c.pending.push(e);
        if (c.pending.length > this.config.gateway.replayMaxEvents) c.close(CLOSE_SLOW_CONSUMER, 'resume with lastSeq');
      }
      const recipients = new Set<Connection>();
      if (e.threadId) for (const c of t.byThread.get(e.threadId) ?? []) recipients.add(c);
      for (const u of e.users ?? []) for (const c of t.byUser.get(u) ?? []) recipients.add(c);
      if (!recipients.size) continue;
      // Tracing on and the entry written under a trace: the fanout continues it (one test otherwise).
      const fanout = e.traceparent ? startSpan(`fanout ${e.type}`, {
        kind: SpanKind.CONSUMER, parent: e.traceparent,
        attributes: { 'chorus.tenant_id': tenantId, 'chorus.seq': e.seq, 'chorus.recipients': recipients.size },
      }) : undefined;
      if (fanout) rememberFanout(tenantId, e.seq, fanout.ctx);
      let frameOf: (userId: string) => string;
      if (hasPerUser(e)) {
        const personal = personalizer(e);
        frameOf = (userId) => streamFrame(e.type, e, personal(userId));
      } else {
        const shared = streamFrame(e.type, e);
        frameOf = () => shared;
      }
      for (const c of recipients) {
        if (c.state !== 'live') continue;
        this.deliver(t, c, e, frameOf);
        touched.add(c);
      }
      fanout?.span.end();
    }
    for (const c of touched) c.flush();
  }

  /**
   * Tenant fairness: a hot tenant's batch is dispatched in slices, round-robin with the other
   * tenants of the same read, so its fanout work cannot delay a quiet tenant's next event by more
   * than one slice.
   */
  private dispatchFairly(batches: { tenantId: string; events: StreamEvent[] }[]): number {
    let total = 0;
    const queues = batches.filter((b) => b.events.length).map((b) => ({ tenantId: b.tenantId, events: b.events, at: 0 }));
    while (queues.length) {
      for (let i = 0; i < queues.length; ) {
        const q = queues[i]!;
        const slice = q.events.slice(q.at, q.at + FAIR_SLICE);
        q.at += slice.length;
        total += slice.length;
        this.dispatch(q.tenantId, slice);
        if (q.at >= q.events.length) queues.splice(i, 1);
        else i++;
      }
    }
    return total;
  }

  private interruptTail(): void {
    this.wake?.();
    if (this.tailClientId !== null && !isCluster(this.redis)) {
      this.redis.client('UNBLOCK', this.tailClientId).catch((err) => this.log.debug({ err }, 'CLIENT UNBLOCK failed'));
    }
  }

  private async tailLoop(): Promise<void> {
    let failures = 0;
    const cluster = isCluster(this.tailRedis);
    while (this.running) {
      const positions = [...this.tenants.entries()]
        .filter(([, t]) => t.position !== null)
        .map(([tenantId, t]) => ({ tenantId, after: t.position as Seq }));
      if (!positions.length) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
        this.wake = null;
        continue;
      }
      try {
        const groups = groupBySlot(positions, (p) => keys.events(p.tenantId), cluster);
        let got = 0;
        if (groups.length === 1) {
          const batches = await readAfter(this.tailRedis, groups[0]!, TAIL_COUNT, 1000);
          got = this.dispatchFairly(batches);
        } else {
          // Cluster: one non-blocking read per slot, then a short poll when everything was quiet.
          const all = await Promise.all(groups.map((g) => readAfter(this.tailRedis, g, TAIL_COUNT, 0)));
          got = this.dispatchFairly(all.flat());
          if (!got) await sleep(POLL_MS);
        }
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        if (String((err as Error).message).includes('UNBLOCKED')) continue;
        failures++;
        const delay = backoffDelay(failures, { baseMs: 100, capMs: 5000 });
        this.log.warn({ err, failures, delay_ms: delay }, 'stream tail failed, backing off');
        await sleep(delay);
      }
    }
  }
}
