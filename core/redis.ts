// Redis clients: standalone (REDIS_URL, or the local unix socket) or Cluster (REDIS_CLUSTER_NODES).
// Everything that talks to Redis gets its client here; blocking reads get their own duplicate.
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { Config } from '../config/index.js';

export type RedisClient = Redis | Cluster;

export function createRedis(config: Config, opts: { name: string; blocking?: boolean } = { name: 'chorus' }): RedisClient {
  const common: RedisOptions = {
    connectionName: opts.name,
    // Commands wait while reconnecting rather than failing at once; callers see 503 after the retries.
    maxRetriesPerRequest: opts.blocking ? null : 3,
    enableAutoPipelining: !opts.blocking,
    // A command never waits forever on a lost connection: callers answer 503 and retry instead.
    ...(opts.blocking ? {} : { commandTimeout: config.redis.commandTimeoutMs }),
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)) + Math.floor(Math.random() * 100),
  };
  if (config.redis.clusterNodes?.length) {
    return new Cluster(
      config.redis.clusterNodes.map((n) => {
        const [host, port] = n.split(':');
        return { host, port: Number(port ?? 6379) };
      }),
      { redisOptions: common, enableAutoPipelining: !opts.blocking, scaleReads: 'master' },
    );
  }
  if (config.redis.url) return new Redis(config.redis.url, common);
  return new Redis({ ...common, path: config.redis.socketPath });
}

export function isCluster(r: RedisClient): r is Cluster {
  return r instanceof Cluster;
}

/** Groups keys by cluster slot: multi-key stream reads must stay within one slot on a Cluster. */
export function groupBySlot<T>(items: T[], keyOf: (t: T) => string, cluster: boolean): T[][] {
  if (!cluster) return items.length ? [items] : [];
  const bySlot = new Map<number, T[]>();
  for (const it of items) {
    const slot = calculateSlot(keyOf(it));
    let g = bySlot.get(slot);
    if (!g) bySlot.set(slot, (g = []));
    g.push(it);
  }
  return [...bySlot.values()];
}
