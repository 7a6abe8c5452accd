// The stateful services of one data dir: the local Redis (unless REDIS_URL / REDIS_CLUSTER_NODES)
// and the local Postgres (unless DATABASE_URL), then the migrations. External services are used
// as they are and never stopped.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { createSql } from '../core/db.js';
import { migrate } from '../core/migrate.js';
import { startLocalRedis, stopLocalRedis, type LocalRedis } from './local-redis.js';
import { startLocalPostgres, stopLocalPostgres, type LocalPostgres } from './local-postgres.js';
import { startLocalClamd, stopLocalClamd, type LocalClamd } from './local-clamd.js';
import { startLocalSmtpSink, stopLocalSmtpSink } from './local-smtp-sink.js';
import { startLocalPushSink, stopLocalPushSink } from './local-push-sink.js';
import type { LocalSink } from './notify-sinks.js';

export interface ServicesOptions {
  /** Also expose the local Redis on 127.0.0.1:<port> (benchmarks). */
  redisTcpPort?: number;
  /** Run the migrations (default true). */
  migrate?: boolean;
}

export interface Services {
  /** Set when the Redis is local (started or adopted); undefined for an external one. */
  redis?: LocalRedis;
  postgres?: LocalPostgres;
  /** The local clamd, unless CHORUS_CLAMD_SOCKET names another or it failed to start (optional). */
  clamd?: LocalClamd;
  /** The local notification sinks (SMTP, push webhook), unless CHORUS_SMTP_URL / CHORUS_PUSH_GATEWAY_URL name real providers. */
  smtpSink?: LocalSink;
  pushSink?: LocalSink;
  /** Migrations applied by this start (empty when the schema was current). */
  migrations: string[];
  /** Stops the local services (also adopted ones: they belong to this data dir). */
  stopAll(): Promise<void>;
}

export function usesLocalRedis(config: Config): boolean {
  return !config.redis.url && !config.redis.clusterNodes?.length;
}

export function usesLocalPostgres(config: Config): boolean {
  return !config.database.url;
}

export async function runMigrations(config: Config, log: Logger): Promise<string[]> {
  const sql = createSql(config, { max: 1, app: 'chorus-migrate' });
  try {
    return await migrate(sql, log);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A socket dir outside the data dir (/tmp/chorus-<hash> for long paths) is removed once empty. */
function removeOutsideSocketDir(config: Config, log: Logger): void {
  if (!path.relative(config.dataDir, config.socketDir).startsWith('..')) return;
  try {
    fs.rmdirSync(config.socketDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY') log.warn({ dir: config.socketDir, err: (err as Error).message }, 'could not remove socket dir');
  }
}

async function stopEach(log: Logger, stops: [string, () => Promise<unknown>][]): Promise<void> {
  const results = await Promise.allSettled(stops.map(([, fn]) => fn()));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${stops[i]?.[0]}: ${(r.reason as Error).message}`] : []));
  if (failed.length) {
    log.error({ failed }, 'stopping services failed');
    throw new Error(`stopping services failed: ${failed.join('; ')}`);
  }
}

export async function startServices(config: Config, log: Logger, opts: ServicesOptions = {}): Promise<Services> {
  let redis: LocalRedis | undefined;
  let pg: LocalPostgres | undefined;
  let clamd: LocalClamd | undefined;
  let smtpSink: LocalSink | undefined;
  let pushSink: LocalSink | undefined;
  const stopAll = async () => {
    await stopEach(log, [
      ['redis', async () => redis?.stop()],
      ['postgres', async () => pg?.stop()],
      ['clamd', async () => clamd?.stop()],
      ['smtp-sink', async () => smtpSink?.stop()],
      ['push-sink', async () => pushSink?.stop()],
    ]);
    if (redis || pg) removeOutsideSocketDir(config, log);
  };
  try {
    if (usesLocalRedis(config)) redis = await startLocalRedis(config, log, { tcpPort: opts.redisTcpPort });
    else log.info({ cluster: !!config.redis.clusterNodes?.length }, 'using external redis');
    if (usesLocalPostgres(config)) pg = await startLocalPostgres(config, log);
    else log.info('using external postgres (DATABASE_URL)');
    const migrations = opts.migrate === false ? [] : await runMigrations(config, log);
    log.info({ applied: migrations.length }, 'migrations current');
    if (config.attachments.clamd.local) {
      // Optional: without clamd the stack runs, and attachments wait in `scanning` until one answers.
      clamd = await startLocalClamd(config, log).catch((err: Error) => {
        log.error({ err: err.message }, 'clamd did not start: attachments will wait in scanning until a clamd answers');
        return undefined;
      });
    }
    // Optional like clamd: without a sink, notifications of that channel retry until one answers.
    const sinkFailed = (name: string) => (err: Error) => {
      log.error({ err: err.message, sink: name }, 'notification sink did not start: that channel retries until it answers');
      return undefined;
    };
    if (config.notify.email.local) smtpSink = await startLocalSmtpSink(config, log).catch(sinkFailed('smtp-sink'));
    if (config.notify.push.local) pushSink = await startLocalPushSink(config, log).catch(sinkFailed('push-sink'));
    return { redis, postgres: pg, clamd, smtpSink, pushSink, migrations, stopAll };
  } catch (err) {
    // Leave nothing half-started behind that this call started itself.
    if (redis && !redis.reused) await redis.stop();
    if (pg && !pg.reused) await pg.stop();
    throw err;
  }
}

/** Stops whatever local services run for config.dataDir (`chorus services down`). */
export async function stopServices(
  config: Config, log: Logger,
): Promise<{ redis: boolean; postgres: boolean; clamd: boolean; smtpSink: boolean; pushSink: boolean }> {
  const out = { redis: false, postgres: false, clamd: false, smtpSink: false, pushSink: false };
  await stopEach(log, [
    ['smtp-sink', async () => (out.smtpSink = config.notify.email.local && (await stopLocalSmtpSink(config, log)))],
    ['push-sink', async () => (out.pushSink = config.notify.push.local && (await stopLocalPushSink(config, log)))],
    ['redis', async () => (out.redis = usesLocalRedis(config) && (await stopLocalRedis(config, log)))],
    ['postgres', async () => (out.postgres = usesLocalPostgres(config) && (await stopLocalPostgres(config, log)))],
    ['clamd', async () => (out.clamd = config.attachments.clamd.local && (await stopLocalClamd(config, log)))],
  ]);
  removeOutsideSocketDir(config, log);
  return out;
}
