// The /ws endpoint: authentication at the upgrade, connection lifecycle, client frames.
// uWS rules: headers are copied out of `req` before the await, `onAborted` guards the upgrade,
// writes after an await are corked.
import crypto from 'node:crypto';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type * as UWS from 'uWebSockets.js';
import type { Config } from '../../config/index.js';
import type { Authenticator } from '../../core/auth.js';
import { bearer } from '../../core/auth.js';
import type { Logger } from '../../core/logger.js';
import { AppError, errorBody } from '../../core/errors.js';
import { FRAME, controlFrame } from '../../core/events.js';
import { parseSeq, seqMillis } from '../../core/seq.js';
import { metrics } from '../../core/metrics.js';
import { Connection, type SocketData } from './connection.js';
import type { Hub } from './hub.js';
import { parseClientFrame } from './client-frames.js';

const BAD_FRAME_WINDOW_MS = 10_000;
const BAD_FRAME_LIMIT = 10;

export interface WsDeps {
  uws: typeof UWS;
  app: TemplatedApp;
  config: Config;
  auth: Authenticator;
  hub: Hub;
  log: Logger;
  /** False while draining: new upgrades are refused with 503. */
  accepting: () => boolean;
}

function reject(res: UWS.HttpResponse, state: { aborted: boolean }, status: number, code: string, message: string): void {
  if (state.aborted) return;
  res.cork(() => {
    res.writeStatus(`${status}`).writeHeader('content-type', 'application/json');
    if (status === 503) res.writeHeader('retry-after', '1');
    res.end(errorBody(code, message));
  });
}

export function registerWs(d: WsDeps): void {
  const { config, log } = d;
  const gw = config.gateway;
  const uwsHardCap = Math.max(gw.maxPayload * 4, 64 * 1024);
  d.app.ws<SocketData>('/ws', {
    compression: d.uws.DISABLED,
    // Frames above our limit get an `error` frame; only far larger ones are cut off by uWS itself.
    maxPayloadLength: uwsHardCap,
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
      if (!d.accepting()) {
        metrics.wsConnects.inc({ outcome: 'draining' });
        return reject(res, state, 503, 'dependency_unavailable', 'gateway is draining, reconnect');
      }
      if (origin && gw.allowedOrigins !== '*' && !gw.allowedOrigins.includes(origin)) {
        metrics.wsConnects.inc({ outcome: 'origin' });
        return reject(res, state, 403, 'origin_not_allowed', 'origin not allowed');
      }
      const lastSeq = lastSeqRaw ? parseSeq(lastSeqRaw) : null;
      if (lastSeqRaw && !lastSeq) {
        metrics.wsConnects.inc({ outcome: 'bad_request' });
        return reject(res, state, 400, 'invalid_seq', 'lastSeq is not a valid stream position');
      }
      d.auth.verify(token).then(
        (principal) => {
          if (state.aborted) return;
          res.cork(() => {
            res.upgrade<SocketData>(
              { principal, lastSeq, connectionId: `c_${crypto.randomBytes(9).toString('base64url')}` },
              key, protocol, extensions, context,
            );
          });
        },
        (err) => {
          metrics.wsAuthFailures.inc();
          metrics.wsConnects.inc({ outcome: 'unauthorized' });
          const e = err instanceof AppError ? err : new AppError('unauthorized', 'invalid token');
          reject(res, state, e.status, e.code, e.message);
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
      void d.hub.attach(conn, data.lastSeq);
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const conn = ws.getUserData().conn;
      if (!conn || conn.closed) return;
      const bytes = message.byteLength;
      const parsed = isBinary
        ? { code: 'invalid_request' as const, message: 'binary frames are not supported' }
        : parseClientFrame(Buffer.from(message).toString('utf8'), gw.maxPayload, bytes);
      if ('code' in parsed) {
        metrics.wsBadFrames.inc({ code: parsed.code });
        conn.write(controlFrame(FRAME.error, { code: parsed.code, message: parsed.message }), 'critical');
        const now = Date.now();
        conn.badFrames = conn.badFrames.filter((t) => now - t < BAD_FRAME_WINDOW_MS);
        conn.badFrames.push(now);
        if (conn.badFrames.length > BAD_FRAME_LIMIT) {
          log.warn({ connection_id: conn.id, tenant_id: conn.tenantId, user_id: conn.userId, reason: 'bad_frame_flood' }, 'closing connection');
          conn.close(parsed.code === 'frame_too_large' ? 1009 : 1008, 'too many bad frames');
        }
        return;
      }
      switch (parsed.type) {
        case 'ping':
          conn.write(controlFrame(FRAME.pong, {}), 'critical');
          return;
        case 'ack':
          metrics.ackLatency.observe(Math.max(0, Date.now() - seqMillis(parsed.seq)) / 1000);
          return;
        default:
          conn.write(controlFrame(FRAME.error, { code: 'not_implemented', message: `${parsed.type} is not available yet` }), 'critical');
      }
    },

    close: (ws: WebSocket<SocketData>) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      conn.markClosed();
      d.hub.detach(conn);
      metrics.wsConnections.dec();
    },
  });
}
