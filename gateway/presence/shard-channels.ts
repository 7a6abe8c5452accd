// This gateway's subscriptions to presence shard channels, reference-counted by watched user: a
// gateway listens only to the shards of users its subscribers care about. Sharded pub/sub
// (SSUBSCRIBE) on a Cluster, so a shard's messages are served by the node owning the tenant's slot;
// plain SUBSCRIBE on a single Redis (as typing does).
import type { Config } from '../../config/index.js';
import type { Logger } from '../../core/logger.js';
import { createRedis, isCluster, type RedisClient } from '../../core/redis.js';
import { metrics } from '../../core/metrics.js';

export class ShardChannels {
  private readonly sub: RedisClient;
  private readonly refs = new Map<string, number>();
  private readonly subscribed = new Map<string, Promise<void>>();
  private connectedOnce = false;

  constructor(
    config: Config,
    private readonly log: Logger,
    onMessage: (channel: string, message: string) => void,
    /** Called after a reconnect: messages published while disconnected are lost, state must be re-read. */
    onReconnect: () => void,
  ) {
    this.sub = createRedis(config, { name: 'gateway-presence', blocking: true });
    this.sub.on('error', (err) => this.log.warn({ err }, 'presence subscriber error'));
    this.sub.on(isCluster(this.sub) ? 'smessage' : 'message', onMessage);
    this.sub.on('ready', () => {
      if (this.connectedOnce) onReconnect();
      this.connectedOnce = true;
    });
  }

  get count(): number {
    return this.refs.size;
  }

  /** One more watched user on `channel`; resolves once the subscription is in place. */
  acquire(channel: string): Promise<void> {
    const n = this.refs.get(channel) ?? 0;
    this.refs.set(channel, n + 1);
    if (n === 0) {
      const op = isCluster(this.sub) ? this.sub.ssubscribe(channel) : this.sub.subscribe(channel);
      this.subscribed.set(channel, op.then(
        () => undefined,
        // ioredis re-subscribes on reconnect and the periodic reconcile repairs state meanwhile.
        (err: unknown) => this.log.warn({ err, channel }, 'presence shard subscribe failed'),
      ));
      metrics.presenceShardSubscriptions.set(this.refs.size);
    }
    return this.subscribed.get(channel) ?? Promise.resolve();
  }

  release(channel: string): void {
    const n = this.refs.get(channel) ?? 0;
    if (n > 1) {
      this.refs.set(channel, n - 1);
      return;
    }
    if (n === 0) return;
    this.refs.delete(channel);
    this.subscribed.delete(channel);
    metrics.presenceShardSubscriptions.set(this.refs.size);
    const op = isCluster(this.sub) ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel);
    op.catch((err: unknown) => this.log.warn({ err, channel }, 'presence shard unsubscribe failed'));
  }

  close(): void {
    this.refs.clear();
    this.subscribed.clear();
    metrics.presenceShardSubscriptions.set(0);
    this.sub.disconnect();
  }
}
