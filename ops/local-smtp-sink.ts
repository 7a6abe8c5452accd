// The local SMTP sink: a real SMTP server (smtp-server) on a unix socket (config.notify.email.socketPath)
// that the email channel talks to when CHORUS_SMTP_URL is unset. It stores every message it accepts
// in <dataDir>/smtp-sink/messages.jsonl, drops repeats of a Message-ID (so a retried send is stored
// once), and can be told to be slow or to fail (ops/notify-sinks.ts: control.json).
// `node dist/ops/local-smtp-sink.js serve` runs it in the foreground; ops/services.ts runs it as a daemon.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { SinkState, startSinkDaemon, stopSinkDaemon, type LocalSink } from './notify-sinks.js';

const SCRIPT = fileURLToPath(import.meta.url);
const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
const KEPT_TEXT_CHARS = 8192;

export interface StoredMail {
  at: string;
  messageId: string;
  tenant: string;
  notification: string;
  from: string;
  to: string[];
  subject: string;
  headers: Record<string, string>;
  text: string;
}

/** Header block → lower-cased name → value (folded lines joined). */
function parseHeaders(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  let last = '';
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) headers[last] += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      last = line.slice(0, i).trim().toLowerCase();
      headers[last] = line.slice(i + 1).trim();
    }
  }
  return { headers, body };
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= / =?UTF-8?B?…?=) of a header value, decoded for readability. */
function decodeWords(v: string): string {
  return v.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=(\s+(?==\?))?/g, (_m, _cs: string, enc: string, text: string) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
    const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  });
}

/** A single-part body in its transfer encoding, decoded (multipart bodies are kept as they are). */
function decodeBody(body: string, encoding: string | undefined): string {
  const e = (encoding ?? '').toLowerCase();
  if (e === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (e !== 'quoted-printable') return body;
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export function serveSmtpSink(config: Config, log: Logger): Promise<SMTPServer> {
  const state = new SinkState(config, 'smtp-sink', (e) => (typeof e['messageId'] === 'string' ? e['messageId'] : undefined));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: MAX_MESSAGE_BYTES,
    banner: 'Chorus local SMTP sink',
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const { headers, body } = parseHeaders(Buffer.concat(chunks).toString('utf8'));
        const messageId = headers['message-id'] ?? `<no-id-${Date.now()}-${Math.random()}>`;
        const tenant = headers['x-chorus-tenant'] ?? '';
        const v = state.verdict(tenant);
        // The answer waits (a slow provider), but what arrived is kept either way: a client that
        // gives up (or is killed) before the answer is exactly the case the Message-ID dedupe covers.
        setTimeout(() => {
          const attempt = { at: new Date().toISOString(), key: messageId, tenant, delayMs: v.delayMs };
          if (v.fail) {
            state.attempt({ ...attempt, outcome: v.fail === 'transient' ? 'failed_transient' : 'failed_permanent' });
            callback(v.fail === 'transient' ? smtpError(451, 'sink told to fail (temporary)') : smtpError(550, 'sink told to fail (permanent)'));
            return;
          }
          const stored = state.store(messageId, {
            at: attempt.at, messageId, tenant, notification: headers['x-chorus-notification'] ?? '',
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address), subject: decodeWords(headers['subject'] ?? ''), headers, text: decodeBody(body, headers['content-transfer-encoding']).slice(0, KEPT_TEXT_CHARS),
          } satisfies StoredMail as unknown as Record<string, unknown>);
          state.attempt({ ...attempt, outcome: stored ? 'stored' : 'duplicate' });
          callback(null, stored ? `queued as ${messageId}` : `duplicate of ${messageId}, dropped`);
        }, v.delayMs);
      });
    },
  });
  server.on('error', (err) => log.error({ err }, 'smtp sink error'));
  const socketPath = config.notify.email.socketPath;
  fs.rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(socketPath, () => {
      log.info({ socketPath, dir: state.files.dir }, 'smtp sink listening');
      resolve(server);
    });
  });
}

export function startLocalSmtpSink(config: Config, log: Logger): Promise<LocalSink> {
  return startSinkDaemon(config, log, 'smtp-sink', SCRIPT, config.notify.email.socketPath);
}

export function stopLocalSmtpSink(config: Config, log: Logger): Promise<boolean> {
  return stopSinkDaemon(config, log, 'smtp-sink', SCRIPT, config.notify.email.socketPath);
}

if (process.argv[1] === SCRIPT && process.argv[2] === 'serve') {
  const config = loadConfig();
  const log = createLogger({ role: 'smtp-sink', level: config.logLevel });
  const server = await serveSmtpSink(config, log);
  const stop = () => {
    // Pooled client connections would hold close() open: leave after a short grace.
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
