// What route handlers share: clients, config, logger. Built once per gateway process.
import type { Config } from '../../config/index.js';
import type { RedisClient } from '../../core/redis.js';
import type { Sql } from '../../core/db.js';
import type { Authenticator } from '../../core/auth.js';
import type { Logger } from '../../core/logger.js';

export interface RouteContext {
  config: Config;
  redis: RedisClient;
  sql: Sql;
  auth: Authenticator;
  log: Logger;
}
