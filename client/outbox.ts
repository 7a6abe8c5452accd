// The offline send queue. `send` puts a message (with its `clientMessageId`) in the queue, kept in
// the storage so that it survives reconnects and reloads; one loop posts the queue in order and
// retries each entry with the same `clientMessageId` until the server accepts it (the contract
// returns the first message again for a repeated id, so retries never duplicate) or refuses it
// for good (a 4xx other than 401/429: dropped and reported).

import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import { ChorusApiError } from './http.js';
import type { RestApi, SendInput } from './api.js';
import type { KeyValueStorage } from './storage.js';
import type { Message } from './types.js';

export type QueuedMessage = SendInput & { clientMessageId: string };

export interface OutboxHooks {
  sent(item: QueuedMessage, message: Message): void;
  failed(item: QueuedMessage, error: unknown): void;
}

export class Outbox {
  private items: QueuedMessage[] = [];
  private loaded: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly wake = { abort: new AbortController() };
  /** Resolvers of `send` calls, by clientMessageId (not persisted: a reload only keeps the queue). */
  private readonly waiting = new Map<string, { resolve: (m: Message) => void; reject: (e: unknown) => void }>();

  constructor(
    private readonly api: RestApi, private readonly storage: KeyValueStorage, private readonly key: string,
    private readonly hooks: OutboxHooks, private readonly backoff: BackoffOptions = {},
  ) {}

  /** Entries not yet accepted by the server, oldest first. */
  get pending(): readonly QueuedMessage[] { return this.items; }

  async load(): Promise<void> {
    this.loaded ??= (async () => {
      const raw = await this.storage.get(this.key);
      const saved = raw ? (JSON.parse(raw) as QueuedMessage[]) : [];
      const known = new Set(this.items.map((i) => i.clientMessageId));
      this.items = [...saved.filter((i) => !known.has(i.clientMessageId)), ...this.items];
    })();
    return this.loaded;
  }

  /** Queues a message; resolves with the accepted message (or rejects when refused for good). */
  async enqueue(item: QueuedMessage): Promise<Message> {
    await this.load();
    const done = new Promise<Message>((resolve, reject) => this.waiting.set(item.clientMessageId, { resolve, reject }));
    if (!this.items.some((i) => i.clientMessageId === item.clientMessageId)) {
      this.items.push(item);
      await this.save();
    }
    this.flush();
    return done;
  }

  /** Starts posting the queue (no-op while already running); wakes a loop that is waiting out a backoff. */
  flush(): void {
    this.stopped = false;
    this.wake.abort.abort();
    this.wake.abort = new AbortController();
    this.running ??= this.run().finally(() => { this.running = undefined; });
  }

  stop(): void {
    this.stopped = true;
    this.wake.abort.abort();
  }

  private async run(): Promise<void> {
    await this.load();
    let attempt = 0;
    while (!this.stopped && this.items.length) {
      const item = this.items[0]!;
      try {
        const message = await this.api.sendMessage(item);
        attempt = 0;
        await this.settle(item, { message });
      } catch (error) {
        if (error instanceof ChorusApiError && error.status >= 400 && error.status < 500 && error.status !== 429 && error.status !== 401) {
          await this.settle(item, { error });
          continue;
        }
        // Offline, 5xx, 429 after http.ts's own retries: keep it first in line and try again later.
        await sleep(backoffDelay(attempt++, this.backoff), this.wake.abort.signal);
      }
    }
  }

  private async settle(item: QueuedMessage, r: { message: Message } | { error: unknown }): Promise<void> {
    this.items = this.items.filter((i) => i.clientMessageId !== item.clientMessageId);
    await this.save();
    const w = this.waiting.get(item.clientMessageId);
    this.waiting.delete(item.clientMessageId);
    if ('message' in r) {
      this.hooks.sent(item, r.message);
      w?.resolve(r.message);
    } else {
      this.hooks.failed(item, r.error);
      w?.reject(r.error);
    }
  }

  private async save(): Promise<void> {
    if (this.items.length) await this.storage.set(this.key, JSON.stringify(this.items));
    else await this.storage.remove(this.key);
  }
}
