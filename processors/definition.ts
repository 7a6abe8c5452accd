// What a processor is: a plain definition object (Emmett style). The shared runner (runner.ts) owns
// reading, acking, claiming, backoff and dead-lettering; a definition only says which events it
// wants and how to apply a batch of them.
import type { BatchContext } from '../core/batch-context.js';
import type { Sql } from '../core/db.js';
import type { RedisClient } from '../core/redis.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/index.js';

/** What a definition's handler gets for one tenant batch (core/batch-context.ts). */
export type ProcessorContext = BatchContext;

/** What a definition's periodic upkeep gets: the tenants served, the shared clients, the configuration. */
export interface PeriodicContext {
  tenants: string[];
  /** Of those, the ones with traffic in the last minute (processors/tenants.ts `active`): visit these every tick, the rest a slice at a time. */
  active: ReadonlySet<string>;
  sql: Sql;
  redis: RedisClient;
  log: Logger;
  config: Config;
}

export interface ProcessorDefinition {
  /** Consumer group name; also the `queue` label of metrics and the suffix of the dead-letter stream. */
  name: string;
  /**
   * Entries of other types are acked without calling `handle` (and without being decoded). An entry
   * of a handled type that does not decode is dead-lettered at once, with the reason.
   */
  canHandle(type: string): boolean;
  /**
   * Applies one tenant's batch. Delivery is at-least-once and consumers of the group run in parallel,
   * so this must be idempotent and tolerate any order of entries, across and within batches.
   * Resolving acks the whole batch. Throwing acks nothing: a dependency error (core/errors.ts
   * isDependencyError) is retried with backoff; any other error makes the runner retry entry by
   * entry so that only the poison entries stay pending (and are dead-lettered after maxDeliveries,
   * or at once when the failure is the entry's own data: runner.ts entryFault).
   */
  handle(ctx: ProcessorContext): Promise<void>;
  /**
   * The tenant stream the group reads (default keys.events). Groups over their own queues (the
   * notification channels) name them here; group creation, reads, acks, claims, dead letters and
   * stats then use that stream.
   */
  stream?: (tenantId: string) => string;
  /** Entries per read (default CHORUS_PROCESSOR_BATCH): smaller for handlers that wait on slow providers. */
  batch?: (config: Config) => number;
  /**
   * Upkeep every consumer runs every `intervalMs` over the tenants it serves (e.g. moving due retries
   * back onto the stream). Must be safe to run concurrently from several consumers (atomic scripts).
   */
  periodic?: { intervalMs: (config: Config) => number; run: (ctx: PeriodicContext) => Promise<void> };
}
