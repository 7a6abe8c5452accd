// Gateway role entrypoint: `node dist/gateway/main.js`. Refuses to start without native uWS.
import { loadConfig } from '../config/index.js';
import { createLogger } from '../core/logger.js';
import { setNodeLabel } from '../core/metrics.js';
import { tenantLabels } from '../core/tenant-label.js';
import { logSampler } from '../core/log-sample.js';
import { startTracing } from '../core/tracing/sdk.js';
import { startGateway } from './server.js';

const config = loadConfig();
const log = createLogger({ level: config.logLevel, role: 'gateway' });
setNodeLabel(config.nodeName, 'gateway');
tenantLabels.start(config.tenantLabels);
logSampler.configure(config.logSample);

process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

try {
  // First, so that every span of the process goes to the exporter (a no-op without an OTLP endpoint).
  const tracing = await startTracing(config.tracing, 'chorus-gateway', log);
  const gw = await startGateway(config, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      if (signal === 'SIGTERM') await gw.drain();
      await gw.close();
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log.fatal({ err }, 'gateway failed to start');
  process.exit(1);
}
