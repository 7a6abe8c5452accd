// One consumer group in this process: tenant discovery, N runners (consumers) and the lag/pending
// gauges. main.ts starts it for a role; tests start it in-process.
import os from 'node:os';
import type { Config } from '../config/index.js';
import type { Sql } from '../core/db.js';
import type { Logger } from '../core/logger.js';
import { metrics } from '../core/metrics.js';
import { OTHER_TENANT, tenantLabels } from '../core/tenant-label.js';
import { createRedis, type RedisClient } from '../core/redis.js';
import { groupStats } from '../core/stream-commands.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import type { ProcessorDefinition } from './definition.js';
import { Runner, type FailureMemo } from './runner.js';
import { TenantDirectory } from './tenants.js';
import { TenantSweep } from './tenant-sweep.js';

const STATS_INTERVAL_MS = 5_000;

export interface ProcessorGroupOptions {
  definition: ProcessorDefinition;
  config: Config;
  sql: Sql;
  log: Logger;
  consumers: number;
  /** Restricts the tenants served (tests). */
  accept?: (tenantId: string) => boolean;
}

export interface ProcessorGroup {
  readonly redis: RedisClient;
  readonly directory: TenantDirectory;
  readonly runners: Runner[];
  stop(): Promise<void>;
}

export function consumerName(index: number): string {
  return `${os.hostname()}-${process.pid}-${index}`;
}

export async function startProcessorGroup(opts: ProcessorGroupOptions): Promise<ProcessorGroup> {
  const { definition, config, sql, log } = opts;
  const redis = createRedis(config, { name: `processor:${definition.name}` });
  redis.on('error', (err) => log.warn({ err, group: definition.name }, 'redis connection error'));
  const directory = new TenantDirectory({ config, redis, group: definition.name, log, accept: opts.accept, stream: definition.stream });
  await directory.start();
  const failures: FailureMemo = new Map();
  const runners = Array.from({ length: Math.max(1, opts.consumers) }, (_, i) =>
    new Runner({ definition, config, sql, redis, directory, log, consumer: consumerName(i), failures }));
  for (const r of runners) r.start();
  log.info({ group: definition.name, consumers: runners.map((r) => r.consumer) }, 'processor group started');

  const abort = new AbortController();
  const stats = reportStats(redis, directory, definition, log, abort.signal);
  return {
    redis,
    directory,
    runners,
    async stop() {
      abort.abort();
      await Promise.all(runners.map((r) => r.stop()));
      await Promise.all([directory.stop(), stats]);
      // Nothing is queued any more (a disconnect would strand queued commands while Redis is down).
      redis.disconnect();
    },
  };
}

/**
 * Sums XINFO lag and pending over the tenants into the group's gauges, every 5 s. Each tick asks the
 * active tenants and a bounded slice of the idle ones (whose figures change only with traffic, which
 * makes them active); the others count with their last known figures.
 */
async function reportStats(redis: RedisClient, directory: TenantDirectory, definition: ProcessorDefinition, log: Logger, signal: AbortSignal) {
  const queue = definition.name;
  const sweep = new TenantSweep();
  const known = new Map<string, { lag: number; pending: number }>();
  let reported = new Set<string>();
  let attempt = 0;
  while (!signal.aborted) {
    await sleep(attempt ? Math.max(STATS_INTERVAL_MS, backoffDelay(attempt)) : STATS_INTERVAL_MS, signal);
    if (signal.aborted) break;
    try {
      const tenants = directory.tenants();
      const active = directory.active();
      // A tenant with a backlog stays on every tick until it is drained, whoever reads it.
      for (const [t, s] of known) if (s.lag + s.pending > 0) active.add(t);
      await Promise.all(sweep.next(tenants, active).map(async (t) => {
        const s = await groupStats(redis, t, queue, definition.stream).catch((err) => {
          log.debug({ err, group: queue, tenant_id: t }, 'group stats of a tenant failed');
          return null;
        });
        if (s) known.set(t, s);
      }));
      const served = new Set(tenants);
      // By bounded tenant label: the top tenants by processed traffic, the others summed as `other`.
      const byLabel = new Map<string, { lag: number; pending: number }>([[OTHER_TENANT, { lag: 0, pending: 0 }]]);
      for (const [t, s] of known) {
        if (!served.has(t)) known.delete(t);
        else {
          const label = tenantLabels.peek(t);
          const sum = byLabel.get(label) ?? { lag: 0, pending: 0 };
          sum.lag += s.lag;
          sum.pending += s.pending;
          byLabel.set(label, sum);
        }
      }
      // Series of tenants that left the top are removed (other groups of this process share the gauges).
      for (const tenant of reported) {
        if (byLabel.has(tenant)) continue;
        metrics.processorLag.remove({ queue, tenant });
        metrics.processorPending.remove({ queue, tenant });
      }
      reported = new Set(byLabel.keys());
      for (const [tenant, sum] of byLabel) {
        metrics.processorLag.set({ queue, tenant }, sum.lag);
        metrics.processorPending.set({ queue, tenant }, sum.pending);
      }
      attempt = 0;
    } catch (err) {
      attempt++;
      log.warn({ err, group: queue, attempt }, 'group stats failed; backing off');
    }
  }
}
