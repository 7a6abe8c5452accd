// The local push sink: an HTTP webhook endpoint (POST /push) on a unix socket
// (config.notify.push.socketPath) that stands in for a push gateway when CHORUS_PUSH_GATEWAY_URL is
// unset. It stores requests in <dataDir>/push-sink/requests.jsonl, drops repeats of an
// Idempotency-Key, and obeys the same control file as the SMTP sink (ops/notify-sinks.ts).
// `node dist/ops/local-push-sink.js serve` runs it in the foreground; ops/services.ts runs it as a daemon.
import fs from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { SinkState, startSinkDaemon, stopSinkDaemon, type LocalSink } from './notify-sinks.js';

const SCRIPT = fileURLToPath(import.meta.url);
const MAX_BODY = 64 * 1024;

export interface StoredPush {
  at: string;
  key: string;
  tenant: string;
  endpoint: string;
  notificationId: string;
  title: string;
  body: string;
  data: Record<string, string>;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function servePushSink(config: Config, log: Logger): Promise<http.Server> {
  const state = new SinkState(config, 'push-sink', (e) => (typeof e['key'] === 'string' ? e['key'] : undefined));
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { ok: true });
    if (req.method !== 'POST' || req.url !== '/push') return reply(res, 404, { error: 'POST /push only' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', (err) => log.warn({ err }, 'push sink request error'));
    req.on('end', () => {
      let p: Partial<StoredPush> & { tenantId?: string };
      try {
        p = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof p;
      } catch {
        return reply(res, 400, { error: 'body is not JSON' });
      }
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!key || size > MAX_BODY) return reply(res, 400, { error: 'Idempotency-Key required, body at most 64 KiB' });
      const tenant = String(p.tenantId ?? '');
      const v = state.verdict(tenant);
      setTimeout(() => {
        const attempt = { at: new Date().toISOString(), key, tenant, delayMs: v.delayMs };
        if (v.fail) {
          state.attempt({ ...attempt, outcome: v.fail === 'transient' ? 'failed_transient' : 'failed_permanent' });
          return reply(res, v.fail === 'transient' ? 503 : 400, { error: `sink told to fail (${v.fail})` });
        }
        const stored = state.store(key, {
          at: attempt.at, key, tenant, endpoint: String(p.endpoint ?? ''), notificationId: String(p.notificationId ?? ''),
          title: String(p.title ?? ''), body: String(p.body ?? ''), data: (p.data ?? {}) as Record<string, string>,
        } satisfies StoredPush as unknown as Record<string, unknown>);
        state.attempt({ ...attempt, outcome: stored ? 'stored' : 'duplicate' });
        reply(res, stored ? 202 : 200, { id: key, duplicate: !stored });
      }, v.delayMs);
    });
  });
  const socketPath = config.notify.push.socketPath;
  fs.rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      log.info({ socketPath, dir: state.files.dir }, 'push sink listening');
      resolve(server);
    });
  });
}

export function startLocalPushSink(config: Config, log: Logger): Promise<LocalSink> {
  return startSinkDaemon(config, log, 'push-sink', SCRIPT, config.notify.push.socketPath);
}

export function stopLocalPushSink(config: Config, log: Logger): Promise<boolean> {
  return stopSinkDaemon(config, log, 'push-sink', SCRIPT, config.notify.push.socketPath);
}

if (process.argv[1] === SCRIPT && process.argv[2] === 'serve') {
  const config = loadConfig();
  const log = createLogger({ role: 'push-sink', level: config.logLevel });
  const server = await servePushSink(config, log);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
