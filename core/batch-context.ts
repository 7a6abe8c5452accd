// What a batch handler gets: one tenant's decoded entries and the process's connections and
// configuration. The processor runner hands it to every definition (processors/definition.ts), and
// the notification stages, which live below the processors, take the same value.
import type { Config } from '../config/index.js';
import type { Sql } from './db.js';
import type { DecodedEvent } from './events/index.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis.js';

export interface BatchContext {
  tenantId: string;
  /**
   * Entries of one tenant stream, oldest first, all of a type the definition can handle, each decoded
   * once by the runner (core/events decodeEvent): `switch (e.type)` narrows `e.payload`.
   */
  events: DecodedEvent[];
  sql: Sql;
  /** Shared non-blocking connection (never use it for blocking reads). */
  redis: RedisClient;
  log: Logger;
  /** The process's configuration, loaded by its entry point and handed down by the runner. */
  config: Config;
}
