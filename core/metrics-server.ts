// A minimal /metrics endpoint for processes that have no HTTP server of their own (processors,
// workers), and for each gateway besides its API port (which gateways share), so every process can
// be scraped on its own.
import http from 'node:http';
import { registry } from './metrics.js';
import type { Logger } from './logger.js';
import { httpError, type HttpErrorAnswer } from './errors.js';
import type { MetricsGuard } from './metrics-access.js';

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export function serveMetrics(host: string, port: number, guard: MetricsGuard, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const refuse = (e: HttpErrorAnswer) => res.writeHead(e.status, { ...JSON_HEADERS, ...e.headers }).end(JSON.stringify(e.body));
    if (req.url !== '/metrics') {
      refuse(httpError('not_found', 'only /metrics here'));
      return;
    }
    const verdict = guard(req.socket.remoteAddress ?? '', req.headers.authorization);
    if (!verdict.ok) {
      refuse(httpError(verdict.refusal));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        refuse(httpError('internal', 'metrics collection failed'));
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
