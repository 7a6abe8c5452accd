// What the notification stages receive from their processor for one tenant batch.
import type { Config } from '../../config/index.js';
import type { Sql } from '../../core/db.js';
import type { DecodedEvent } from '../../core/events/index.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';

export interface NotifyContext {
  tenantId: string;
  events: DecodedEvent[];
  sql: Sql;
  redis: RedisClient;
  log: Logger;
  config: Config;
}
