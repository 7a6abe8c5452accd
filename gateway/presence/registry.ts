// Who watches whom on this gateway: presence subscribers (connections), the threads they subscribed
// to with those threads' members, and per user the subscribers watching them. Pure bookkeeping, no
// I/O: every change reports which users became watched or unwatched on this gateway, so the fanout
// can (un)subscribe their shard channels and load or forget their state.
import type { PresenceUpdate } from './status.js';

/** The identity a subscriber needs from its connection (the websocket Connection satisfies it). */
export interface SubscriberConn {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
}

export interface PendingItem {
  update: PresenceUpdate;
  /** A live change (from a shard channel), not a snapshot: its fanout latency is measured. */
  live: boolean;
}

export interface Subscriber<C extends SubscriberConn = SubscriberConn> {
  conn: C;
  threads: Set<string>;
  /** Watched user -> how many of the subscribed threads have them as a member. */
  watch: Map<string, number>;
  /** Version last written to the socket, per user: nothing older or equal is sent again. */
  sent: Map<string, number>;
  /** Updates waiting for the next presence.batch (latest per user). */
  pending: Map<string, PendingItem>;
  timer: NodeJS.Timeout | null;
  /** Receives presence.summary instead of per-user updates until the gateway leaves summary mode. */
  summary: boolean;
}

interface ThreadEntry<C extends SubscriberConn> {
  members: Set<string>;
  subscribers: Set<Subscriber<C>>;
}

export interface TenantPresence<C extends SubscriberConn> {
  threads: Map<string, ThreadEntry<C>>;
  watchers: Map<string, Set<Subscriber<C>>>;
  /** Latest known state of every user watched on this gateway. */
  known: Map<string, PresenceUpdate>;
}

export interface WatchChanges<C extends SubscriberConn> {
  /** Users nobody on this gateway watched before. */
  gatewayAdded: string[];
  /** Users nobody on this gateway watches any more. */
  gatewayRemoved: string[];
  /** Subscribers that started watching a user (they need that user's current state). */
  subscriberAdded: { sub: Subscriber<C>; userId: string }[];
}

export class Registry<C extends SubscriberConn = SubscriberConn> {
  readonly tenants = new Map<string, TenantPresence<C>>();
  readonly subscribers = new Map<string, Subscriber<C>>();

  tenant(tenantId: string): TenantPresence<C> | undefined {
    return this.tenants.get(tenantId);
  }

  get(conn: C): Subscriber<C> | undefined {
    return this.subscribers.get(conn.id);
  }

  /** Threads (of this connection) whose members are not known on this gateway yet. */
  missingThreads(tenantId: string, threadIds: string[]): string[] {
    const t = this.tenants.get(tenantId);
    return threadIds.filter((th) => !t?.threads.has(th));
  }

  /** Subscribes `conn` to threads; `members` must hold the members of every thread not known yet. */
  addThreads(conn: C, threadIds: string[], members: Map<string, string[]>): WatchChanges<C> {
    const ch = changes<C>();
    const t = this.tenantOf(conn.tenantId);
    let sub = this.subscribers.get(conn.id);
    if (!sub) {
      sub = { conn, threads: new Set(), watch: new Map(), sent: new Map(), pending: new Map(), timer: null, summary: false };
      this.subscribers.set(conn.id, sub);
    }
    for (const th of threadIds) {
      if (sub.threads.has(th)) continue;
      let entry = t.threads.get(th);
      if (!entry) t.threads.set(th, (entry = { members: new Set(members.get(th) ?? []), subscribers: new Set() }));
      entry.subscribers.add(sub);
      sub.threads.add(th);
      for (const u of entry.members) this.incWatch(t, sub, u, ch);
    }
    return ch;
  }

  removeThreads(conn: C, threadIds: Iterable<string>): WatchChanges<C> {
    const ch = changes<C>();
    const sub = this.subscribers.get(conn.id);
    const t = this.tenants.get(conn.tenantId);
    if (!sub || !t) return ch;
    for (const th of [...threadIds]) this.dropThread(t, sub, th, ch);
    this.cleanup(conn.tenantId);
    return ch;
  }

  removeSubscriber(conn: C): WatchChanges<C> & { sub?: Subscriber<C> } {
    const sub = this.subscribers.get(conn.id);
    if (!sub) return changes<C>();
    const ch = this.removeThreads(conn, sub.threads);
    this.subscribers.delete(conn.id);
    return { ...ch, sub };
  }

  /** A participant joined a thread: its subscribers on this gateway start watching them. */
  memberAdded(tenantId: string, threadId: string, userId: string): WatchChanges<C> {
    const ch = changes<C>();
    const t = this.tenants.get(tenantId);
    const entry = t?.threads.get(threadId);
    if (!t || !entry || entry.members.has(userId)) return ch;
    entry.members.add(userId);
    for (const sub of entry.subscribers) this.incWatch(t, sub, userId, ch);
    return ch;
  }

  /**
   * A participant left a thread: subscribers stop watching them through it, and their own
   * connections lose the subscription to that thread (they may no longer see who is in it).
   */
  memberRemoved(tenantId: string, threadId: string, userId: string): WatchChanges<C> {
    const ch = changes<C>();
    const t = this.tenants.get(tenantId);
    const entry = t?.threads.get(threadId);
    if (!t || !entry || !entry.members.has(userId)) return ch;
    const own: Subscriber<C>[] = [];
    for (const sub of entry.subscribers) {
      this.decWatch(t, sub, userId, ch);
      if (sub.conn.userId === userId) own.push(sub);
    }
    entry.members.delete(userId);
    for (const sub of own) {
      this.dropThread(t, sub, threadId, ch);
      this.cleanup(tenantId);
    }
    return ch;
  }

  private tenantOf(tenantId: string): TenantPresence<C> {
    let t = this.tenants.get(tenantId);
    if (!t) this.tenants.set(tenantId, (t = { threads: new Map(), watchers: new Map(), known: new Map() }));
    return t;
  }

  private dropThread(t: TenantPresence<C>, sub: Subscriber<C>, threadId: string, ch: WatchChanges<C>): void {
    if (!sub.threads.delete(threadId)) return;
    const entry = t.threads.get(threadId);
    if (!entry) return;
    entry.subscribers.delete(sub);
    for (const u of entry.members) this.decWatch(t, sub, u, ch);
    if (!entry.subscribers.size) t.threads.delete(threadId);
  }

  private incWatch(t: TenantPresence<C>, sub: Subscriber<C>, userId: string, ch: WatchChanges<C>): void {
    const n = sub.watch.get(userId) ?? 0;
    sub.watch.set(userId, n + 1);
    if (n > 0) return;
    ch.subscriberAdded.push({ sub, userId });
    let w = t.watchers.get(userId);
    if (!w) {
      t.watchers.set(userId, (w = new Set()));
      ch.gatewayAdded.push(userId);
    }
    w.add(sub);
  }

  private decWatch(t: TenantPresence<C>, sub: Subscriber<C>, userId: string, ch: WatchChanges<C>): void {
    const n = sub.watch.get(userId) ?? 0;
    if (n > 1) {
      sub.watch.set(userId, n - 1);
      return;
    }
    if (n === 0) return;
    sub.watch.delete(userId);
    sub.sent.delete(userId);
    sub.pending.delete(userId);
    const w = t.watchers.get(userId);
    if (!w) return;
    w.delete(sub);
    if (!w.size) {
      t.watchers.delete(userId);
      t.known.delete(userId);
      ch.gatewayRemoved.push(userId);
    }
  }

  /** Forgets a tenant nobody on this gateway watches any more. */
  private cleanup(tenantId: string): void {
    const t = this.tenants.get(tenantId);
    if (t && !t.threads.size && !t.watchers.size) this.tenants.delete(tenantId);
  }
}

function changes<C extends SubscriberConn>(): WatchChanges<C> {
  return { gatewayAdded: [], gatewayRemoved: [], subscriberAdded: [] };
}
