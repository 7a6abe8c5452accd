// Push through a push gateway's webhook: one JSON POST per notification with an Idempotency-Key.
// CHORUS_PUSH_GATEWAY_URL names it; without it the local push sink (ops/local-push-sink.ts) is
// reached over its unix socket.
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../../../config/index.js';
import { ProviderError, type OutboundMessage, type Provider } from './provider.js';

const agentOptions = { keepAlive: true, maxSockets: 64 };

export function createPushProvider(c: Config['notify']): Provider {
  const url = c.push.url ? new URL(c.push.url) : null;
  const agent = url?.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = url?.protocol === 'https:' ? https.request : http.request;
  return {
    name: c.push.provider,
    send(m: OutboundMessage) {
      const body = Buffer.from(JSON.stringify({
        endpoint: m.to, tenantId: m.tenantId, notificationId: m.notificationId, title: m.subject, body: m.text, data: m.data,
      }));
      const target = url
        ? { hostname: url.hostname, port: url.port || undefined, path: `${url.pathname}${url.search}` }
        : { socketPath: c.push.socketPath, path: '/push' };
      return new Promise((resolve, reject) => {
        const req = request({
          ...target, method: 'POST', agent, timeout: c.sendTimeoutMs,
          headers: {
            'content-type': 'application/json', 'content-length': String(body.length), 'idempotency-key': m.idempotencyKey,
            ...(m.traceparent ? { traceparent: m.traceparent } : {}),
          },
        }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (b: Buffer) => chunks.push(b));
          res.on('error', (err) => reject(new ProviderError(err.message, true, 'response_error')));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 500);
            if (status >= 200 && status < 300) {
              let id = m.idempotencyKey;
              try {
                const parsed = JSON.parse(text) as { id?: unknown };
                if (typeof parsed.id === 'string') id = parsed.id;
              } catch {
                // a 2xx without a JSON id: the idempotency key identifies it
              }
              resolve({ providerId: id });
            } else {
              const transient = status === 408 || status === 425 || status === 429 || status >= 500;
              reject(new ProviderError(`push gateway answered ${status}: ${text}`, transient, `http_${status}`));
            }
          });
        });
        req.on('timeout', () => req.destroy(new Error(`push gateway did not answer within ${c.sendTimeoutMs} ms`)));
        req.on('error', (err) => reject(err instanceof ProviderError ? err : new ProviderError(err.message, true, (err as NodeJS.ErrnoException).code ?? 'error')));
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}
