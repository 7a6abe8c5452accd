// A minimal /metrics endpoint for processes that have no HTTP server of their own (processors,
// workers), so every role can be scraped. The gateway serves /metrics on its API port instead.
import http from 'node:http';
import { registry } from './metrics.js';
import type { Logger } from './logger.js';
import { errorBody } from './errors.js';
import type { MetricsGuard } from './metrics-access.js';

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export function serveMetrics(host: string, port: number, guard: MetricsGuard, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, JSON_HEADERS).end(errorBody('not_found', 'only /metrics here'));
      return;
    }
    const verdict = guard(req.socket.remoteAddress ?? '', req.headers.authorization);
    if (!verdict.ok) {
      res.writeHead(verdict.status, { ...JSON_HEADERS, ...(verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) })
        .end(errorBody(verdict.code, verdict.message));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        res.writeHead(500).end();
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      log.info({ host, port }, 'metrics endpoint listening');
      resolve(server);
    });
  });
}
