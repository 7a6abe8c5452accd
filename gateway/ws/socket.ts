// The /ws endpoint: authentication at the upgrade, connection lifecycle, client frames.
// uWS rules: headers are copied out of `req` before the await, `onAborted` guards the upgrade,
// writes after an await are corked.
import crypto from 'node:crypto';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type * as UWS from 'uWebSockets.js';
import type { Config } from '../../config/index.js';
import type { Authenticator } from '../../core/auth.js';
import { bearer, recordAuthFailure } from '../../core/auth.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { AppError, httpError, type HttpErrorCode, type WsErrorCode } from '../../core/errors.js';
import { FRAME, controlFrame } from '../../core/events/index.js';
import { errorFrame, floodCloseCode } from './error-frame.js';
import { parseSeq, seqMillis } from '../../core/seq.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import { logSampler } from '../../core/log-sample.js';
import { Connection, type SocketData } from './connection.js';
import type { Hub } from './hub.js';
import { parseClientFrame, type ClientFrame } from './client-frames.js';
import type { Typing } from './typing.js';
import type { PresenceService } from '../presence/service.js';
import { take } from '../../core/rate-limit.js';
import { recordAck } from './ack-span.js';

const BAD_FRAME_WINDOW_MS = 10_000;
const BAD_FRAME_LIMIT = 10;
/** Decodes a copy of the frame: uWS neuters the ArrayBuffer after the handler returns. */
const utf8 = new TextDecoder('utf-8');
/** Frames a client may send before its hello went out; they are handled once it is live. */
const MAX_EARLY_FRAMES = 16;

export interface WsDeps {
  uws: typeof UWS;
  app: TemplatedApp;
  config: Config;
  auth: Authenticator;
  hub: Hub;
  typing: Typing;
  presence: PresenceService;
  redis: RedisClient;
  log: Logger;
  /** False while draining: new upgrades are refused with 503. */
  accepting: () => boolean;
}

/** Refuses an upgrade with the contract's HTTP error answer (Retry-After on 429/503 from the catalog). */
function reject(log: Logger, res: UWS.HttpResponse, state: { aborted: boolean }, refusal: AppError | HttpErrorCode, message = ''): void {
  if (state.aborted) return;
  const e = refusal instanceof AppError ? httpError(refusal) : httpError(refusal, message);
  // A refused upgrade is a security event: always logged (the token never is).
  log.warn({ status: e.status, code: e.body.error.code, security: 'upgrade_refused' }, 'websocket upgrade refused');
  res.cork(() => {
    res.writeStatus(`${e.status}`).writeHeader('content-type', 'application/json')
      .writeHeader('cache-control', 'no-store').writeHeader('x-content-type-options', 'nosniff');
    for (const [k, v] of Object.entries(e.headers)) res.writeHeader(k, v);
    res.end(JSON.stringify(e.body));
  });
}

/** Close codes counted by their number; any other (a client may send 1000–4999) is `other`. */
const closeCodeLabel = (code: number) => ((code >= 1000 && code <= 1015) || (code >= 4000 && code < 4100) ? String(code) : 'other');

export function registerWs(d: WsDeps): void {
  const { config, log } = d;
  const gw = config.gateway;

  /** Answers a bad or refused frame with `error`; a flood of them closes this one connection. */
  const refuse = (conn: Connection, code: WsErrorCode, message: string) => {
    metrics.wsBadFrames.inc({ code });
    // A thread the user is not in (another tenant's id looks the same): a security event, always logged.
    if (code === 'not_participant') log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, code, security: 'foreign_thread' }, 'frame for a thread the user is not in');
    conn.write(errorFrame(code, message), 'critical');
    const now = Date.now();
    conn.badFrames = conn.badFrames.filter((t) => now - t < BAD_FRAME_WINDOW_MS);
    conn.badFrames.push(now);
    if (conn.badFrames.length > BAD_FRAME_LIMIT) {
      log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, reason: 'rate_limited', code }, 'frame flood: closing connection');
      conn.close(floodCloseCode(code), 'too many bad frames');
    }
  };

  const onFrame = (conn: Connection, text: string | null, bytes: number) => {
    if (!conn.takeFrameToken(gw.framesPerS, gw.framesBurst)) return refuse(conn, 'rate_limited', 'too many frames, slow down');
    const f = text === null
      ? { code: 'invalid_request' as const, message: 'binary frames are not supported' }
      : parseClientFrame(text, gw.maxPayload, bytes);
    if ('code' in f) return refuse(conn, f.code, f.message);
    handleFrame(conn, f).catch((err) => {
      log.warn({ err, connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, frame: f.type }, 'frame handling failed');
      if (!conn.closed) conn.ws.cork(() => conn.write(errorFrame('dependency_unavailable', 'try again'), 'critical'));
    });
  };

  /** Frames that may await (Redis); writes after the await are corked. */
  const handleFrame = async (conn: Connection, f: ClientFrame): Promise<void> => {
    const reply = (code: WsErrorCode, message: string) => {
      if (!conn.closed) conn.ws.cork(() => refuse(conn, code, message));
    };
    switch (f.type) {
      case 'ping':
        conn.write(controlFrame(FRAME.pong, {}), 'critical');
        return;
      case 'ack':
        metrics.ackLatency.observe(Math.max(0, Date.now() - seqMillis(f.seq)) / 1000);
        recordAck(conn.tenantId, conn.userId, f.seq);
        return;
      case 'typing': {
        if (!conn.threads.has(f.threadId)) return refuse(conn, 'not_participant', 'not a participant of this thread');
        const disabled = d.typing.disabledReason(conn.tenantId);
        if (disabled) return refuse(conn, 'feature_disabled', disabled);
        const [u, t] = await Promise.all([
          take(d.redis, conn.tenantId, 'emit:user', conn.userId, config.rateLimits.emitUser),
          take(d.redis, conn.tenantId, 'emit:tenant', '_', config.rateLimits.emitTenant),
        ]);
        if (!u.allowed || !t.allowed) {
          metrics.wsEventsDropped.inc({ priority: 'best_effort', reason: 'rate_limited', tenant: tenantLabels.label(conn.tenantId) });
          return reply('rate_limited', 'typing rate exceeded');
        }
        await d.typing.publish(conn.tenantId, f.threadId, conn.userId);
        return;
      }
      case 'presence.heartbeat':
      case 'presence.subscribe':
      case 'presence.unsubscribe': {
        const err = await d.presence.handleFrame(conn, f);
        if (err) reply(err.code, err.message);
        return;
      }
      default:
        return refuse(conn, 'not_implemented', `${(f as ClientFrame).type} is not available yet`);
    }
  };
  // A frame over maxPayload gets an `error` frame; one over closeAbove is closed by us with 1009 at
  // once. uWS must let such a frame through to be able to: its own cut-off (16 × closeAbove, 1 MiB by
  // default) drops the TCP connection without a close frame (the client sees 1006), as does its own
  // UTF-8 check of text frames (no 1007 is possible: the frame never reaches this code).
  const closeAbove = Math.max(gw.maxPayload * 4, 64 * 1024);
  d.app.ws<SocketData>('/ws', {
    compression: d.uws.DISABLED,
    maxPayloadLength: closeAbove * 16,
    idleTimeout: gw.idleTimeoutS,
    sendPingsAutomatically: true,
    maxBackpressure: gw.hardBuffer * 2,
    closeOnBackpressureLimit: 0,

    upgrade: (res, req, context) => {
      const state = { aborted: false };
      res.onAborted(() => { state.aborted = true; });
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const origin = req.getHeader('origin');
      const query = new URLSearchParams(req.getQuery() ?? '');
      const token = query.get('token') ?? bearer(req.getHeader('authorization'));
      const lastSeqRaw = query.get('lastSeq');
      const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
      if (!d.accepting()) {
        metrics.wsConnects.inc({ outcome: 'draining' });
        return reject(log, res, state, 'dependency_unavailable', 'gateway is draining, reconnect');
      }
      if (origin && gw.allowedOrigins !== '*' && !gw.allowedOrigins.includes(origin)) {
        metrics.wsConnects.inc({ outcome: 'origin' });
        return reject(log, res, state, 'origin_not_allowed', 'origin not allowed');
      }
      const lastSeq = lastSeqRaw ? parseSeq(lastSeqRaw) : null;
      if (lastSeqRaw && !lastSeq) {
        metrics.wsConnects.inc({ outcome: 'bad_request' });
        return reject(log, res, state, 'invalid_seq', 'lastSeq is not a valid stream position');
      }
      d.auth.verify(token).then(
        (principal) => {
          if (state.aborted) return;
          if (d.hub.userConnectionCount(principal.tenantId, principal.userId) >= gw.maxConnPerUser) {
            metrics.wsConnects.inc({ outcome: 'user_cap' });
            return reject(log, res, state, 'too_many_connections', `at most ${gw.maxConnPerUser} connections per user`);
          }
          if (d.hub.tenantConnectionCount(principal.tenantId) >= gw.maxConnPerTenant) {
            metrics.wsConnects.inc({ outcome: 'tenant_cap' });
            return reject(log, res, state, 'too_many_connections', `at most ${gw.maxConnPerTenant} connections per tenant on this gateway`);
          }
          res.cork(() => {
            res.upgrade<SocketData>(
              { principal, lastSeq, connectionId: `c_${crypto.randomBytes(9).toString('base64url')}` },
              key, protocol, extensions, context,
            );
          });
        },
        (err) => {
          metrics.wsAuthFailures.inc();
          recordAuthFailure(log, 'ws', err, { ip: remoteAddress });
          metrics.wsConnects.inc({ outcome: 'unauthorized' });
          reject(log, res, state, err instanceof AppError ? err : new AppError('unauthorized', 'invalid token'));
        },
      );
    },

    open: (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      const conn = new Connection(ws, data.connectionId, data.principal.tenantId, data.principal.userId,
        { soft: gw.softBuffer, hard: gw.hardBuffer }, log);
      data.conn = conn;
      metrics.wsConnects.inc({ outcome: 'ok' });
      metrics.wsConnections.inc();
      if (logSampler.take('ws_open')) {
        log.info({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, resume: data.lastSeq !== null, sampled_1_in: logSampler.rate }, 'websocket connected');
      }
      void d.hub.attach(conn, data.lastSeq);
      d.presence.connected(conn);
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const conn = ws.getUserData().conn;
      if (!conn || conn.closed) return;
      if (message.byteLength > closeAbove) {
        metrics.wsBadFrames.inc({ code: 'frame_too_large' });
        log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, bytes: message.byteLength, limit: closeAbove },
          'frame far over the size limit: closing connection');
        conn.close(1009, `frames are limited to ${gw.maxPayload} bytes`);
        return;
      }
      // Decode now: uWS neuters the buffer when this handler returns.
      const text = isBinary ? null : utf8.decode(message);
      const bytes = message.byteLength;
      if (conn.state === 'opening') {
        // hello is the first server frame and membership is not loaded yet: handle it once live.
        if (!conn.deferUntilLive(() => onFrame(conn, text, bytes), MAX_EARLY_FRAMES)) conn.close(1008, 'too many frames before hello');
        return;
      }
      onFrame(conn, text, bytes);
    },

    close: (ws: WebSocket<SocketData>, code: number, message: ArrayBuffer) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      if (code === 1006) {
        // uWS's own refusals (a frame over its cut-off, invalid UTF-8) drop the connection with 1006
        // and name the cause here only: counted like the bad frames they are.
        const cause = utf8.decode(message);
        const refused = cause === 'Received invalid UTF-8' ? 'invalid_utf8' : /too big message/.test(cause) ? 'frame_too_large' : null;
        if (refused) {
          metrics.wsBadFrames.inc({ code: refused });
          log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, code, reason: cause }, 'connection dropped by uWS for a bad frame');
        }
      }
      if (conn.state === 'opening') {
        // The client left (or the connection broke) before its hello went out: worth seeing.
        log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, code, reason: utf8.decode(message).slice(0, 120) },
          'connection closed before hello');
      }
      metrics.wsDisconnects.inc({ code: closeCodeLabel(code) });
      if (logSampler.take('ws_close')) {
        log.info({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, code, sampled_1_in: logSampler.rate }, 'websocket closed');
      }
      conn.markClosed();
      d.hub.detach(conn);
      d.presence.disconnected(conn, !d.accepting());
      metrics.wsConnections.dec();
    },
  });
}
