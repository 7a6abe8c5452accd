// A minimal /metrics endpoint for processes that have no HTTP server of their own (processors,
// workers), so every role can be scraped. The gateway serves /metrics on its API port instead.
import http from 'node:http';
import { registry } from './metrics.js';
import type { Logger } from './logger.js';

export function serveMetrics(host: string, port: number, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"only /metrics here"}}');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
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
