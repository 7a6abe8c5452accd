// Builds one gateway: uWS app with the HTTP API and /ws on one port, the fanout hub, and drain.
import type { us_listen_socket } from 'uWebSockets.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { createRedis, type RedisClient } from '../core/redis.js';
import { createSql, type Sql } from '../core/db.js';
import { createAuthenticator } from '../core/auth.js';
import { FRAME, controlFrame } from '../core/events/index.js';
import { sleep } from '../core/backoff.js';
import { serveMetrics } from '../core/metrics-server.js';
import { metricsGuard } from '../core/metrics-access.js';
import { loadNativeUws } from './uws.js';
import { Router } from './http/router.js';
import { recordRoutes, type RouteEntry } from './http/route-table.js';
import { Hub } from './ws/hub.js';
import { registerWs } from './ws/socket.js';
import { Typing } from './ws/typing.js';
import { Flags } from '../core/flags.js';
import { systemRoutes } from './routes/system.js';
import { threadRoutes } from './routes/threads.js';
import { messageRoutes } from './routes/messages.js';
import { PresenceService } from './presence/service.js';
import { presenceRoutes } from './routes/presence.js';
import { readStateRoutes } from './routes/read-state.js';
import { attachmentRoutes } from './routes/attachments.js';
import { notificationRoutes } from './routes/notifications.js';

export interface Gateway {
  port: number;
  redis: RedisClient;
  sql: Sql;
  hub: Hub;
  flags: Flags;
  presence: PresenceService;
  /** Every route registered on this gateway's app (gateway/http/route-table.ts). */
  routes: readonly RouteEntry[];
  /** Stop accepting, ask every client to reconnect, close sockets spread over the drain window. */
  drain(windowMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const uws = loadNativeUws();
  const redis = createRedis(config, { name: 'gateway' });
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  const sql = createSql(config, { app: 'chorus-gateway' });
  const auth = await createAuthenticator(config);
  const { app, routes } = recordRoutes(uws.App());
  const hub = new Hub(config, redis, log);
  const flags = new Flags(redis, { typing: config.gateway.typingEnabled }, log);
  flags.start();
  const typing = new Typing(config, redis, hub, flags, log);
  hub.onTenantChange = (tenantId, hosted) => typing.tenantHosted(tenantId, hosted);
  const presence = new PresenceService(config, redis, hub, log);
  let accepting = true;

  const router = new Router({ app, auth, log, maxBodyBytes: config.ingest.maxBodyBytes, timeoutMs: config.httpTimeoutMs,
    allowedOrigins: config.gateway.allowedOrigins });
  const ctx = { config, redis, sql, auth, log };
  systemRoutes(router, ctx);
  threadRoutes(router, ctx);
  messageRoutes(router, ctx);
  presenceRoutes(router, ctx);
  readStateRoutes(router, ctx);
  attachmentRoutes(router, ctx, app);
  notificationRoutes(router, ctx);
  registerWs({ uws, app, config, auth, hub, typing, presence, redis, log, accepting: () => accepting });
  router.fallback();

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  let listening = true;
  const port = uws.us_socket_local_port(listenSocket);
  hub.start();
  presence.start();
  log.info({ host: config.host, port }, 'gateway listening');
  // Gateways share `port`, where a scrape reaches one at random: each also serves /metrics on its own
  // port when given one (ops/roles.ts). A taken port must not stop the gateway: logged, served without.
  const metricsServer = config.metricsPort
    ? await serveMetrics(config.host, config.metricsPort, metricsGuard(config.metricsAccess), log).catch((err: unknown) => {
      log.error({ err, port: config.metricsPort }, 'metrics endpoint failed to start');
      return null;
    })
    : null;

  const stopListening = () => {
    if (listening) uws.us_listen_socket_close(listenSocket);
    listening = false;
  };

  return {
    port, redis, sql, hub, flags, presence, routes,
    async drain(windowMs = config.gateway.drainWindowMs) {
      accepting = false;
      stopListening();
      const conns = [...hub.allConnections()];
      log.info({ connections: conns.length, window_ms: windowMs }, 'draining');
      const frame = controlFrame(FRAME.reconnect, { reason: 'draining' });
      for (const c of conns) if (!c.closed) c.ws.cork(() => c.write(frame, 'critical'));
      // Spread closes so that clients do not all reconnect to the other gateways in the same instant.
      const step = conns.length ? windowMs / conns.length : 0;
      for (const c of conns) {
        if (!c.closed) c.close(1001, 'server draining: reconnect with lastSeq');
        if (step >= 1) await sleep(step);
      }
    },
    async close() {
      accepting = false;
      stopListening();
      metricsServer?.close();
      for (const c of [...hub.allConnections()]) c.close(1001, 'server shutting down');
      await hub.stop();
      await presence.stop();
      typing.close();
      flags.stop();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
