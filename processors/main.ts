// The processor role: `node dist/processors/main.js <group> [--consumers N]`. Runs N consumers of
// one consumer group (processors/registry.ts) plus the stream trimmer; SIGTERM/SIGINT stop it
// gracefully (in-flight batches finish and are acked) and exit 0.
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../core/logger.js';
import { createSql } from '../core/db.js';
import { startProcessorGroup } from './group.js';
import { findProcessor, registry } from './registry.js';
import type { ProcessorDefinition } from './definition.js';
import { startTrimmer } from './trimmer.js';

const USAGE = 'usage: node dist/processors/main.js <group> [--consumers N]';

/** The processor and consumer count, or the reason the command line is unusable. */
function parseCommandLine(): { definition: ProcessorDefinition; consumers: number } | string {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { consumers: { type: 'string', default: '1' } } });
  } catch (err) {
    return `${(err as Error).message}; ${USAGE}`;
  }
  const consumers = Number(parsed.values.consumers);
  const [group] = parsed.positionals;
  if (!group || parsed.positionals.length > 1 || !Number.isInteger(consumers) || consumers < 1 || consumers > 64) return USAGE;
  const definition = findProcessor(group);
  if (!definition) return `unknown processor group "${group}"; known: ${Object.keys(registry).join(', ')}`;
  return { definition, consumers };
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
  const { definition, consumers } = cmd;
  const group = definition.name;

  const log = createLogger({ role: `processor:${group}`, level: config.logLevel });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });

  const sql = createSql(config, { max: Math.max(4, consumers * 2), app: `processor:${group}` });
  // Signals are handled from here on, also while startup waits for an unreachable Redis.
  const started = startProcessorGroup({ definition, config, sql, log, consumers }).then((running) => ({
    running,
    trimmer: startTrimmer({ config, redis: running.redis, directory: running.directory, log }),
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
