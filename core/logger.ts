// The logger: pino JSON with correlation fields (trace_id, tenant_id, user_id, message_id) and
// secrets redacted. Children carry context; nobody calls console.* in a role process.
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Fields never written, at the top level and one level down (`req.headers.authorization` too):
 * tokens, Authorization headers, signatures (of signed URLs and provider callbacks) and secrets.
 * Code must not log them in the first place (messages never carry them, URLs are logged without
 * their query); this is the backstop. test/int/log-hygiene.int.test.ts checks every line a stack
 * writes for the dev secrets, tokens and signatures it used.
 */
const SECRET_FIELDS = ['token', 'accessToken', 'refreshToken', 'authorization', 'Authorization', 'cookie', 'signature', 'sig',
  'x-chorus-signature', 'secret', 'secrets', 'callbackSecret', 'password', 'apiKey', 'jwt', 'query'];
export const REDACT_PATHS = [
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z]\w*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z]\w*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-chorus-signature"]', 'headers.authorization', 'headers.signature',
];

export function createLogger(opts: { level?: string; role: string }): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { role: opts.role, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
