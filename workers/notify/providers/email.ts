// Email through SMTP (nodemailer, pooled connections). CHORUS_SMTP_URL names the server; without it
// the local SMTP sink (ops/local-smtp-sink.ts) is reached over its unix socket.
import net from 'node:net';
import nodemailer from 'nodemailer';
import type { Config } from '../../../config/index.js';
import { ProviderError, type OutboundMessage, type Provider } from './provider.js';

function classify(err: unknown): ProviderError {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const message = String(e?.message ?? err).slice(0, 500);
  if (typeof e?.responseCode === 'number') return new ProviderError(message, e.responseCode < 500, `smtp_${e.responseCode}`);
  // An address the server cannot take is the message's fault, not the server's.
  if (e?.code === 'EENVELOPE') return new ProviderError(message, false, e.code);
  return new ProviderError(message, true, e?.code ?? 'error');
}

export function createEmailProvider(c: Config['notify']): Provider {
  const timeouts = { connectionTimeout: Math.min(10_000, c.sendTimeoutMs), greetingTimeout: Math.min(10_000, c.sendTimeoutMs), socketTimeout: c.sendTimeoutMs };
  const pool = { pool: true, maxConnections: c.email.pool, maxMessages: 1000 } as const;
  const transport = c.email.url
    ? nodemailer.createTransport({ ...pool, ...timeouts, url: c.email.url } as any)
    : nodemailer.createTransport({
      ...pool, ...timeouts, host: 'localhost', port: 25, secure: false, ignoreTLS: true,
      getSocket: (_opts: unknown, cb: (err: Error | null, socket?: { connection: net.Socket }) => void) => {
        const s = net.connect(c.email.socketPath);
        s.once('connect', () => cb(null, { connection: s }));
        s.once('error', (err) => cb(err));
      },
    } as any);
  return {
    name: c.email.provider,
    async send(m: OutboundMessage) {
      try {
        const info = await transport.sendMail({
          from: c.email.from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          messageId: m.idempotencyKey,
          headers: {
            'X-Chorus-Tenant': m.tenantId,
            'X-Chorus-Notification': m.notificationId,
            ...(m.traceparent ? { traceparent: m.traceparent } : {}),
            ...Object.fromEntries(Object.entries(m.data).map(([k, v]) => [`X-Chorus-${k}`, v])),
          },
        });
        return { providerId: String(info.messageId ?? m.idempotencyKey) };
      } catch (err) {
        throw classify(err);
      }
    },
    async close() {
      transport.close();
    },
  };
}
