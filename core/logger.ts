// The logger: pino JSON with correlation fields (trace_id, tenant_id, user_id, message_id) and
// secrets redacted. Children carry context; nobody calls console.* in a role process.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; role: string }): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { role: opts.role, pid: process.pid },
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'secret', '*.secret', 'password', '*.password'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
