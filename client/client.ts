// ChorusClient: one user's live connection to Chorus, following docs/protocol.md §6.
// - Connects with a token from the provider; reconnects after every close with `lastSeq`
//   (close-codes.ts says how soon), with capped exponential backoff and full jitter.
// - Emits stream events (`event`) each seq once, in order, and remembers the last one in the
//   storage; acknowledges it with `ack` (coalesced: the server's frame budget is 50/s).
// - Starts from `/api/sync` when it has no `lastSeq`, and again after `resync.required`: one
//   `snapshot` event, then the live events after it.
// - Heartbeats presence at the interval `hello` announces; throttles typing; re-subscribes presence
//   after each reconnect.
// - Sends messages through the offline queue (outbox.ts).

import { RestApi, newClientMessageId, type SendInput } from './api.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { closeAction } from './close-codes.js';
import { Emitter } from './emitter.js';
import { HttpClient } from './http.js';
import { Outbox, type QueuedMessage } from './outbox.js';
import { SeqTracker } from './seq.js';
import { memoryStorage, type KeyValueStorage } from './storage.js';
import { TokenSource, type TokenProvider } from './token.js';
import { TypingThrottle } from './typing.js';
import type { ClientFrame, Hello, Message, PresenceStatus, ServerFrame, StreamEvent, StreamEvents, SyncSnapshot } from './types.js';
import { OPEN, frameText, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export interface ChorusClientOptions {
  /** The API's origin, e.g. `https://chat.example.com`; the websocket is `/ws` on it. */
  baseUrl: string;
  /** Returns a bearer token; called again when it expires or is refused. */
  token: TokenProvider;
  /** The WebSocket class (default: the global one; in Node pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /** Where `lastSeq` and the offline queue are kept (default: memory). */
  storage?: KeyValueStorage;
  /** Prefix of the storage keys (default `chorus`); use one per user on a shared storage. */
  storageKey?: string;
  /** Reconnect delays (default 250 ms doubling up to 30 s, full jitter). */
  backoff?: BackoffOptions;
  /** The presence status heartbeats announce (default `online`). */
  status?: PresenceStatus;
  /** At most one `typing` frame per thread per this many ms (default 3000). */
  typingIntervalMs?: number;
  /** How often the last processed seq is acknowledged (default 1000 ms). */
  ackIntervalMs?: number;
  /** Longest pause before reconnecting after a drain (`reconnect` frame or 1001), spreading clients (default 500 ms). */
  drainJitterMs?: number;
}

export interface CloseInfo { code: number; reason: string; reconnectInMs: number | null }

export interface ClientEvents {
  /** A connection is live (its replay follows as `event`s). */
  open: Hello;
  close: CloseInfo;
  /** A stream event: each seq once, in seq order. */
  event: StreamEvent;
  /** The state as of `seq` (/api/sync): replace local state with it; events after it follow. */
  snapshot: SyncSnapshot;
  /** `resync.required` arrived; a `snapshot` follows. */
  resync: { reason: string };
  'presence.batch': { updates: { userId: string; status: PresenceStatus; version: number; at: string }[] };
  'presence.summary': { counts: Record<PresenceStatus, number> };
  typing: { threadId: string; userId: string };
  /** An `error` frame: the server refused a frame this client sent. */
  serverError: { code: string; message: string };
  /** A queued message was accepted (202). */
  sent: { clientMessageId: string; message: Message };
  /** A queued message was refused for good (4xx) and left the queue. */
  sendFailed: { item: QueuedMessage; error: unknown };
  /** Something went wrong in the background (sync failing, storage); the client keeps trying. */
  warning: { what: string; error: unknown };
}

export class ChorusClient extends Emitter<ClientEvents> {
  readonly api: RestApi;
  readonly tokens: TokenSource;
  private readonly o: Required<Pick<ChorusClientOptions, 'storageKey' | 'typingIntervalMs' | 'ackIntervalMs' | 'drainJitterMs'>> & ChorusClientOptions;
  private readonly storage: KeyValueStorage;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly seqs = new SeqTracker();
  private readonly outbox: Outbox;
  private readonly typingThrottle: TypingThrottle;
  private readonly subscriptions = new Set<string>();
  private status: PresenceStatus;
  private ws: WebSocketLike | undefined;
  /** Bumped for every socket: frames and closes of an older one are ignored. */
  private generation = 0;
  private running = false;
  private attempt = 0;
  private hello: Hello | undefined;
  private drainAnnounced = false;
  private lastSent: ClientFrame | undefined;
  private timers: { connect?: ReturnType<typeof setTimeout>; heartbeat?: ReturnType<typeof setInterval>; ack?: ReturnType<typeof setTimeout> } = {};
  private pendingAck: string | undefined;
  private needSync = false;
  /** Diagnostics: how many sockets were opened, and snapshots taken. */
  readonly stats = { connects: 0, snapshots: 0 };

  constructor(options: ChorusClientOptions) {
    super();
    this.o = { storageKey: 'chorus', typingIntervalMs: 3000, ackIntervalMs: 1000, drainJitterMs: 500, ...options };
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) throw new Error('no WebSocket available: pass `WebSocket` in the options (in Node: the `ws` package)');
    this.WebSocketImpl = ws;
    this.storage = options.storage ?? memoryStorage();
    this.tokens = new TokenSource(options.token);
    this.api = new RestApi(new HttpClient({ baseUrl: options.baseUrl, fetch: options.fetch, backoff: options.backoff }, this.tokens));
    this.status = options.status ?? 'online';
    this.typingThrottle = new TypingThrottle(this.o.typingIntervalMs);
    this.outbox = new Outbox(this.api, this.storage, `${this.o.storageKey}.outbox`, {
      sent: (item, message) => this.emit('sent', { clientMessageId: item.clientMessageId, message }),
      failed: (item, error) => this.emit('sendFailed', { item, error }),
    }, options.backoff);
  }

  /** The last processed seq (what a reconnect resumes from). */
  get lastSeq(): string | null { return this.seqs.last; }
  get connected(): boolean { return this.hello !== undefined && this.ws?.readyState === OPEN; }

  /** Connects (from the stored `lastSeq`, or from a fresh /api/sync) and keeps reconnecting until `stop`. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const saved = await this.storage.get(`${this.o.storageKey}.lastSeq`);
    if (saved) this.seqs.reset(saved);
    this.needSync = !saved;
    this.outbox.flush();
    this.schedule(0);
  }

  /** Closes the socket and stops reconnecting; queued messages stay in the storage. */
  stop(): void {
    this.running = false;
    this.generation++;
    this.outbox.stop();
    clearTimeout(this.timers.connect);
    this.stopLiveTimers();
    this.ws?.close(1000, 'client stopped');
    this.ws = undefined;
    this.hello = undefined;
  }

  /** Drops the current connection as a network failure would (tests, "reconnect now" buttons). */
  reconnect(): void {
    this.ws?.close(4000, 'client reconnect');
  }

  /** Typed listener for one stream event type. */
  onEvent<K extends keyof StreamEvents>(type: K, fn: (e: StreamEvent<K>) => void): () => void {
    return this.on('event', (e) => { if (e.type === type) fn(e as StreamEvent<K>); });
  }

  // ---- sending

  /** Queues a message (kept across reconnects and, with a persistent storage, reloads); resolves once accepted. */
  send(input: SendInput): Promise<Message> {
    return this.outbox.enqueue({ ...input, clientMessageId: input.clientMessageId ?? newClientMessageId() });
  }
  /** Messages queued and not yet accepted. */
  get queued(): readonly QueuedMessage[] { return this.outbox.pending; }

  /** Tells the thread's other participants this user is typing (throttled; dropped while offline). */
  typing(threadId: string): boolean {
    if (!this.connected || !this.typingThrottle.shouldSend(threadId)) return false;
    return this.sendFrame({ type: 'typing', data: { threadId } });
  }

  /** Sets the presence status heartbeats announce, and announces it now. */
  setStatus(status: PresenceStatus): void {
    this.status = status;
    this.sendFrame({ type: 'presence.heartbeat', data: { status } });
  }

  /** Presence updates for these threads' participants, kept across reconnects. */
  subscribePresence(threadIds: string[]): void {
    for (const t of threadIds) this.subscriptions.add(t);
    this.sendFrame({ type: 'presence.subscribe', data: { threadIds } });
  }
  unsubscribePresence(threadIds: string[]): void {
    for (const t of threadIds) this.subscriptions.delete(t);
    this.sendFrame({ type: 'presence.unsubscribe', data: { threadIds } });
  }

  private sendFrame(frame: ClientFrame): boolean {
    if (!this.connected) return false;
    this.lastSent = frame;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  // ---- connection lifecycle

  private schedule(delayMs: number): void {
    clearTimeout(this.timers.connect);
    this.timers.connect = setTimeout(() => { void this.connect(); }, delayMs);
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    const gen = ++this.generation;
    if (this.needSync) {
      try {
        await this.takeSnapshot();
      } catch (error) {
        this.emit('warning', { what: 'sync failed; retrying', error });
        if (gen === this.generation) this.schedule(backoffDelay(this.attempt++, this.o.backoff));
        return;
      }
    }
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (error) {
      this.emit('warning', { what: 'token provider failed; retrying', error });
      if (gen === this.generation) this.schedule(backoffDelay(this.attempt++, this.o.backoff));
      return;
    }
    if (!this.running || gen !== this.generation) return;
    const q = new URLSearchParams({ token });
    if (this.seqs.last) q.set('lastSeq', this.seqs.last);
    const url = `${this.o.baseUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws?${q}`;
    const ws = new this.WebSocketImpl(url);
    this.ws = ws;
    this.stats.connects++;
    this.drainAnnounced = false;
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onerror = () => { /* a close event follows with the code */ };
    ws.onmessage = (ev: { data: unknown }) => {
      if (gen !== this.generation) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(frameText(ev.data)) as ServerFrame;
      } catch (error) {
        this.emit('warning', { what: 'a frame that is not JSON', error });
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev: { code: number; reason?: string }) => {
      if (gen !== this.generation) return;
      this.onClose(ev.code, String(ev.reason ?? ''), opened, token);
    };
  }

  /** /api/sync, then one `snapshot`; the next socket resumes from its seq. */
  private async takeSnapshot(): Promise<void> {
    const snap = await this.api.sync();
    this.needSync = false;
    this.seqs.reset(snap.seq);
    await this.storage.set(`${this.o.storageKey}.lastSeq`, snap.seq);
    this.stats.snapshots++;
    this.emit('snapshot', snap);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'hello':
        this.hello = f.data as Hello;
        this.attempt = 0;
        this.startHeartbeat(this.hello.heartbeatIntervalMs);
        if (this.subscriptions.size) this.sendFrame({ type: 'presence.subscribe', data: { threadIds: [...this.subscriptions].slice(0, 500) } });
        this.emit('open', this.hello);
        this.outbox.flush();
        return;
      case 'resync.required':
        // Nothing more from this socket: the snapshot replaces it, and the next one resumes after it.
        this.emit('resync', { reason: String((f.data as { reason?: unknown })?.reason ?? 'unknown') });
        this.needSync = true;
        this.drop(1000, 'resync');
        this.schedule(0);
        return;
      case 'reconnect':
        this.drainAnnounced = true;
        return;
      case 'error':
        this.emit('serverError', f.data as { code: string; message: string });
        return;
      case 'pong':
        return;
      case 'presence.batch':
      case 'presence.summary':
      case 'typing':
        this.emit(f.type, f.data);
        return;
    }
    if (typeof f.seq !== 'string' || !this.seqs.accept(f.seq)) return;
    this.emit('event', { type: f.type, seq: f.seq, ts: f.ts, data: f.data });
    const stored = this.storage.set(`${this.o.storageKey}.lastSeq`, f.seq);
    if (stored instanceof Promise) stored.catch((error: unknown) => this.emit('warning', { what: 'storing lastSeq failed', error }));
    this.scheduleAck(f.seq);
  }

  private onClose(code: number, reason: string, opened: boolean, token: string): void {
    const hadHello = this.hello !== undefined;
    this.stopLiveTimers();
    this.ws = undefined;
    this.hello = undefined;
    if (!this.running) return;
    let delay: number;
    switch (closeAction(code, this.drainAnnounced)) {
      case 'resume-now':
        delay = 0;
        break;
      case 'resume-soon':
        delay = Math.floor(Math.random() * this.o.drainJitterMs);
        break;
      case 'new-token':
        this.tokens.invalidate(token);
        delay = backoffDelay(this.attempt++, this.o.backoff);
        break;
      case 'drop-last-frame':
        if (this.lastSent?.type === 'presence.subscribe') for (const t of this.lastSent.data.threadIds) this.subscriptions.delete(t);
        this.lastSent = undefined;
        delay = backoffDelay(this.attempt++, this.o.backoff);
        break;
      default:
        // Refused before the socket opened (an HTTP answer to the upgrade: 401 among others, which
        // browsers do not reveal): the token may be to blame, so the first such failure in a row
        // asks for a new one.
        if (!opened && !hadHello && this.attempt === 0) this.tokens.invalidate(token);
        delay = backoffDelay(this.attempt++, this.o.backoff);
    }
    this.emit('close', { code, reason, reconnectInMs: delay });
    this.schedule(delay);
  }

  /** Closes the current socket, ignoring its close event (the caller decides what follows). */
  private drop(code: number, reason: string): void {
    this.generation++;
    this.stopLiveTimers();
    this.ws?.close(code, reason);
    this.ws = undefined;
    this.hello = undefined;
  }

  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.timers.heartbeat);
    this.sendFrame({ type: 'presence.heartbeat', data: { status: this.status } });
    this.timers.heartbeat = setInterval(() => this.sendFrame({ type: 'presence.heartbeat', data: { status: this.status } }), intervalMs);
  }

  private scheduleAck(seq: string): void {
    this.pendingAck = seq;
    this.timers.ack ??= setTimeout(() => {
      this.timers.ack = undefined;
      if (this.pendingAck) this.sendFrame({ type: 'ack', data: { seq: this.pendingAck } });
      this.pendingAck = undefined;
    }, this.o.ackIntervalMs);
  }

  private stopLiveTimers(): void {
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.ack);
    this.timers.heartbeat = undefined;
    this.timers.ack = undefined;
    this.pendingAck = undefined;
  }
}
