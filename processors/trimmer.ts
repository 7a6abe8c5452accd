// Stream retention: every tenant stream trimmed to config.streams (age, then length), never past
// an entry some consumer group has not finished (core trimSafely). One per process is enough; it
// trims the event stream and the own streams of the process's groups.
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis.js';
import { keys } from '../core/keys.js';
import { trimSafely, type StreamKeyOf } from '../core/stream-commands.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import type { TenantDirectory } from './tenants.js';
import { TenantSweep } from './tenant-sweep.js';

export function startTrimmer(opts: {
  config: Config;
  redis: RedisClient;
  directory: TenantDirectory;
  log: Logger;
  /** The streams to trim per tenant (default: the event stream). */
  streams?: StreamKeyOf[];
  intervalMs?: number;
}): { stop(): Promise<void> } {
  const { config, redis, directory, log } = opts;
  const intervalMs = opts.intervalMs ?? 60_000;
  const streams = opts.streams ?? [keys.events];
  const abort = new AbortController();
  // Each run trims the tenants with traffic and a bounded slice of the idle ones (their streams only
  // age; retention is in hours, so a slow round over them is enough).
  const sweep = new TenantSweep();
  const loop = (async () => {
    let attempt = 0;
    while (!abort.signal.aborted) {
      await sleep(attempt ? Math.max(intervalMs, backoffDelay(attempt)) : intervalMs, abort.signal);
      if (abort.signal.aborted) break;
      let failed = 0;
      for (const tenantId of sweep.next(directory.tenants(), directory.active())) {
        for (const stream of streams) {
          try {
            const trimmed = await trimSafely(redis, tenantId, config.streams.retentionMs, config.streams.maxLen, stream);
            if (trimmed > 0) log.info({ tenant_id: tenantId, stream: stream(tenantId), trimmed }, 'stream trimmed');
          } catch (err) {
            failed++;
            log.warn({ err, tenant_id: tenantId, stream: stream(tenantId) }, 'stream trim failed');
          }
        }
      }
      attempt = failed ? attempt + 1 : 0;
    }
  })();
  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
