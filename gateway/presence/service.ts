// Presence on one gateway: what gateway/server.ts constructs and gateway/ws/socket.ts calls.
// Publishing side (heartbeats, connects, disconnects → Redis state → shard channels), receiving
// side (shard channels → batches or summaries for subscribers) and the expiry sweeper.
import type { Config } from '../../config/index.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { take } from '../../core/rate-limit.js';
import { metrics } from '../../core/metrics.js';
import { tenantLabels } from '../../core/tenant-label.js';
import type { WsErrorCode } from '../../core/errors.js';
import type { Hub } from '../ws/hub.js';
import type { Connection } from '../ws/connection.js';
import type { ClientFrame } from '../ws/client-frames.js';
import { Publisher } from './publisher.js';
import { PresenceFanout } from './fanout.js';
import { Sweeper } from './sweeper.js';

export type PresenceFrame = Extract<ClientFrame, { type: `presence.${string}` }>;

export class PresenceService {
  readonly publisher: Publisher;
  readonly fanout: PresenceFanout<Connection>;
  readonly sweeper: Sweeper;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    hub: Hub,
    private readonly log: Logger,
  ) {
    this.publisher = new Publisher(config, redis, log);
    this.fanout = new PresenceFanout<Connection>(config, redis, log);
    this.sweeper = new Sweeper(config, redis, this.publisher, log, hub.gatewayId);
    hub.onMembershipChange = (tenantId, threadId, userIds, op) => this.fanout.membershipChanged(tenantId, threadId, userIds, op);
  }

  start(): void {
    this.fanout.start();
    this.sweeper.start();
  }

  /** Lets the disconnects of the closing sockets reach Redis before the client goes away. */
  async stop(): Promise<void> {
    await this.sweeper.stop();
    await this.publisher.stop();
    this.fanout.stop();
  }

  /** Connecting counts as a heartbeat with status online (another connection's dnd or invisible still wins). */
  connected(conn: Connection): void {
    this.publisher.apply(conn.tenantId, conn.userId, { op: 'touch', connectionId: conn.id, status: 'online' }).catch((err: unknown) =>
      this.log.warn({ err, tenant_id: conn.tenantId, user_id: conn.userId, connection_id: conn.id }, 'presence connect failed (TTL applies)'));
  }

  /**
   * The last connection of a user going away makes them offline at once; a gateway that is
   * draining leaves its connections live for the drain grace, so that a reconnect elsewhere is no flap.
   */
  disconnected(conn: Connection, gatewayLeaving: boolean): void {
    this.fanout.removeConnection(conn);
    const graceMs = gatewayLeaving ? this.config.presence.drainGraceMs : 0;
    this.publisher.apply(conn.tenantId, conn.userId, { op: 'leave', connectionId: conn.id, graceMs }).catch((err: unknown) =>
      this.log.warn({ err, tenant_id: conn.tenantId, user_id: conn.userId, connection_id: conn.id }, 'presence disconnect failed (TTL applies)'));
  }

  /** Handles a presence.* client frame; returns the error to answer with, if any. */
  async handleFrame(conn: Connection, f: PresenceFrame): Promise<{ code: WsErrorCode; message: string } | null> {
    switch (f.type) {
      case 'presence.heartbeat': {
        const bucket = await take(this.redis, conn.tenantId, 'presence:user', conn.userId, this.config.rateLimits.emitUser);
        if (!bucket.allowed) {
          metrics.wsEventsDropped.inc({ priority: 'best_effort', reason: 'rate_limited', tenant: tenantLabels.label(conn.tenantId) });
          return { code: 'rate_limited', message: 'presence heartbeats too frequent' };
        }
        // Checked right before the (synchronously issued) script, so a touch never lands after the leave.
        if (conn.closed) return null;
        await this.publisher.apply(conn.tenantId, conn.userId, { op: 'touch', connectionId: conn.id, status: f.status });
        return null;
      }
      case 'presence.subscribe': {
        const outside = f.threadIds.filter((th) => !conn.threads.has(th));
        if (outside.length) {
          return { code: 'not_participant', message: `not a participant of ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ', …' : ''}` };
        }
        await this.fanout.subscribe(conn, f.threadIds);
        return null;
      }
      case 'presence.unsubscribe':
        this.fanout.unsubscribe(conn, f.threadIds);
        return null;
    }
  }
}
