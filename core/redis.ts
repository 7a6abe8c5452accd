// Redis clients: standalone (REDIS_URL, or the local unix socket) or Cluster (REDIS_CLUSTER_NODES).
// Everything that talks to Redis gets its client here; blocking reads get their own duplicate.
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { Config } from '../config/index.js';
import { metrics } from './metrics.js';

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
    return timeCommands(new Cluster(
      config.redis.clusterNodes.map((n) => {
        const [host, port] = n.split(':');
        return { host, port: Number(port ?? 6379) };
      }),
      { redisOptions: common, enableAutoPipelining: !opts.blocking, scaleReads: 'master' },
    ), opts.blocking ? 0 : config.redisLatencySample);
  }
  const every = opts.blocking ? 0 : config.redisLatencySample;
  if (config.redis.url) return timeCommands(new Redis(config.redis.url, common), every);
  return timeCommands(new Redis({ ...common, path: config.redis.socketPath }), every);
}

type Sent = Parameters<Redis['sendCommand']>[0];

/**
 * Times one command in `every` (chorus_redis_command_duration_seconds, by command): from the call
 * to the reply, so queueing behind a pipeline counts, as the caller feels it. Blocking clients are
 * never timed (their reads wait by design). Sampling keeps the write path's cost to a counter.
 */
function timeCommands<C extends RedisClient>(client: C, every: number): C {
  if (every <= 0) return client;
  const send = client.sendCommand.bind(client) as (command: Sent, ...rest: unknown[]) => unknown;
  const children = new Map<string, ReturnType<typeof metrics.redisCommandDuration.labels>>();
  let n = 0;
  (client as { sendCommand: (command: Sent, ...rest: unknown[]) => unknown }).sendCommand = (command, ...rest) => {
    if (++n >= every) {
      n = 0;
      let child = children.get(command.name);
      if (!child) children.set(command.name, (child = metrics.redisCommandDuration.labels({ command: command.name })));
      const end = child.startTimer();
      command.promise.then(() => end(), () => end());
    }
    return send(command, ...rest);
  };
  return client;
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
