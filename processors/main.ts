// The processor role: `node dist/processors/main.js <group>[,<group>…] [--consumers N]`. Runs N
// consumers of each named consumer group (processors/registry.ts) in this process, the stream
// trimmer, and /metrics when CHORUS_METRICS_PORT is set; SIGTERM/SIGINT stop it gracefully
// (in-flight batches finish and are acked) and exit 0. Light groups share one process; heavy ones
// (attachments) get their own, and any group can be scaled out by starting more processes.
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../core/logger.js';
import { cacheHitRatio, createSql, lockWaitingSessions } from '../core/db.js';
import { keys } from '../core/keys.js';
import { startProcessorGroup } from './group.js';
import { findProcessor, registry } from './registry.js';
import type { ProcessorDefinition } from './definition.js';
import { startTrimmer } from './trimmer.js';
import { serveMetrics } from '../core/metrics-server.js';
import { readCacheHitRatioFrom, readLockWaitsFrom, setNodeLabel } from '../core/metrics.js';
import { tenantLabels } from '../core/tenant-label.js';
import { logSampler } from '../core/log-sample.js';
import { metricsGuard } from '../core/metrics-access.js';
import { startTracing } from '../core/tracing/sdk.js';

const USAGE = 'usage: node dist/processors/main.js <group>[:N][,<group>[:N]...] [--consumers N]';

/** The processor and consumer count, or the reason the command line is unusable. */
function parseCommandLine(): { definitions: { definition: ProcessorDefinition; consumers: number }[] } | string {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { consumers: { type: 'string', default: '1' } } });
  } catch (err) {
    return `${(err as Error).message}; ${USAGE}`;
  }
  const consumers = Number(parsed.values.consumers);
  const [groups] = parsed.positionals;
  if (!groups || parsed.positionals.length > 1 || !Number.isInteger(consumers) || consumers < 1 || consumers > 64) return USAGE;
  // `group:N` gives one group its own consumer count (e.g. counters:3); others take --consumers.
  const definitions: { definition: ProcessorDefinition; consumers: number }[] = [];
  for (const item of new Set(groups.split(','))) {
    const [group, n] = item.split(':') as [string, string | undefined];
    const count = n === undefined ? consumers : Number(n);
    if (!Number.isInteger(count) || count < 1 || count > 64) return USAGE;
    const definition = findProcessor(group);
    if (!definition) return `unknown processor group "${group}"; known: ${Object.keys(registry).join(', ')}`;
    definitions.push({ definition, consumers: count });
  }
  return { definitions };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    createLogger({ role: 'processor' }).fatal({ err }, 'invalid configuration');
    process.exit(1);
  }
  const cmd = parseCommandLine();
  if (typeof cmd === 'string') {
    createLogger({ role: 'processor', level: config.logLevel }).fatal(cmd);
    process.exit(2);
  }
  const { definitions } = cmd;
  const group = definitions.map((d) => d.definition.name).join(',');
  const consumers = definitions.reduce((n, d) => n + d.consumers, 0);

  const log = createLogger({ role: `processor:${group}`, level: config.logLevel });
  setNodeLabel(config.nodeName, `processor:${group}`);
  tenantLabels.start(config.tenantLabels);
  logSampler.configure(config.logSample);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });

  // Before the first batch, so that every batch span is exported (a no-op without an OTLP endpoint).
  const tracing = await startTracing(config.tracing, `chorus-processor-${definitions.map((d) => d.definition.name).join('+')}`, log);
  const sql = createSql(config, { max: Math.max(4, consumers * 2), app: `processor:${group}`.slice(0, 63) });
  readLockWaitsFrom(() => lockWaitingSessions(sql));
  readCacheHitRatioFrom(() => cacheHitRatio(sql));
  // A taken metrics port must not stop the processing: log it and run without the endpoint.
  const metricsServer = config.metricsPort
    ? serveMetrics(config.host, config.metricsPort, metricsGuard(config.metricsAccess), log).catch((err: unknown) => {
      log.error({ err, port: config.metricsPort }, 'metrics endpoint failed to start');
      return null;
    })
    : null;
  // Signals are handled from here on, also while startup waits for an unreachable Redis.
  const started = Promise.all(definitions.map(({ definition, consumers: n }) =>
    startProcessorGroup({ definition, config, sql, log: log.child({ group: definition.name }), consumers: n }))).then((groups) => ({
    running: { stop: () => Promise.all(groups.map((g) => g.stop())) },
    // The event stream, and the own streams of this process's groups (e.g. the attachment pipeline's).
    trimmer: startTrimmer({
      config, redis: groups[0]!.redis, directory: groups[0]!.directory, log,
      streams: [keys.events, ...new Set(definitions.flatMap(({ definition }) => (definition.stream ? [definition.stream] : [])))],
    }),
  }));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      const { running, trimmer } = await started;
      await trimmer.stop();
      await running.stop();
      await sql.end({ timeout: 5 });
      (await metricsServer)?.close();
      await tracing?.shutdown();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'graceful stop failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await started;
}

await main();
