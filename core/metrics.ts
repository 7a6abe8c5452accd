// The metrics registry: every Prometheus metric of Chorus is defined here, once.
// Labels follow the seed (section 7.1): tenant, node, event_type, priority, queue. `node` is on every
// series (the registry's default label, set by the entry point: setNodeLabel); `tenant` is bounded
// to the top-N tenants by traffic plus `other` (core/tenant-label.ts).
import os from 'node:os';
import client from 'prom-client';
import { tenantLabels } from './tenant-label.js';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/**
 * Names this process in the `node` label of every series: the configured CHORUS_NODE_NAME (the
 * supervisor gives each copy of each role its own), else `<hostname>:<role>`. Called by entry points.
 */
export function setNodeLabel(configured: string | undefined, role: string): string {
  const node = configured ?? `${os.hostname()}:${role}`;
  registry.setDefaultLabels({ node });
  return node;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Queue lag reaches past the request buckets: the seed's bound is 60 s. */
const lagBuckets = [...latencyBuckets, 30, 60, 120, 300];
/**
 * Websocket delivery latency: the request buckets plus the seed's SLO bounds (section 9: message
 * E2E p95 <= 1.5 s, p99 <= 3 s, presence p95 <= 2 s), so a burn-rate rule can count the events
 * slower than the objective exactly (ops/observability/).
 */
const deliveryBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10];

/** Where the lock-wait gauge reads at scrape time: set by a process that holds a database pool. */
let lockWaitSource: (() => Promise<number>) | undefined;
export function readLockWaitsFrom(source: () => Promise<number>): void {
  lockWaitSource = source;
}
/** Where the cache-hit gauge reads at scrape time (pg_stat_database of the Chorus database). */
let cacheHitSource: (() => Promise<number>) | undefined;
export function readCacheHitRatioFrom(source: () => Promise<number>): void {
  cacheHitSource = source;
}

export const metrics = {
  httpRequests: new client.Counter({
    name: 'chorus_http_requests_total', help: 'HTTP requests by route, status and tenant (top-N tenants, the rest `other`; `none` before authentication)',
    labelNames: ['route', 'method', 'status', 'tenant'], registers: [registry],
  }),
  httpDuration: new client.Histogram({
    name: 'chorus_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames: ['route', 'method'], buckets: latencyBuckets, registers: [registry],
  }),
  streamAppends: new client.Counter({
    name: 'chorus_stream_appends_total', help: 'Events appended to tenant streams (accepted writes), by event type and tenant',
    labelNames: ['event_type', 'tenant'], registers: [registry],
  }),
  wsConnections: new client.Gauge({
    name: 'chorus_ws_connections', help: 'Open websocket connections on this gateway', registers: [registry],
  }),
  wsConnects: new client.Counter({
    name: 'chorus_ws_connects_total', help: 'Websocket upgrade attempts by outcome',
    labelNames: ['outcome'], registers: [registry],
  }),
  wsAuthFailures: new client.Counter({
    name: 'chorus_ws_auth_failures_total', help: 'Websocket upgrades refused for authentication', registers: [registry],
  }),
  authFailures: new client.Counter({
    name: 'chorus_auth_failures_total',
    help: 'Requests and websocket upgrades refused for authentication, by transport (http, ws) and reason (missing_token, expired, invalid_token, future_iat, bad_claims)',
    labelNames: ['transport', 'reason'], registers: [registry],
  }),
  wsDisconnects: new client.Counter({
    name: 'chorus_ws_disconnects_total', help: 'Websocket connections closed, by close code (1000, 1001, 1006, 1008, 4008, ...)',
    labelNames: ['code'], registers: [registry],
  }),
  wsEventsSent: new client.Counter({
    name: 'chorus_ws_events_sent_total', help: 'Events written to websockets, by priority and tenant',
    labelNames: ['priority', 'tenant'], registers: [registry],
  }),
  wsEventsDropped: new client.Counter({
    name: 'chorus_ws_events_dropped_total', help: 'Events not delivered to a websocket, by priority, reason and tenant',
    labelNames: ['priority', 'reason', 'tenant'], registers: [registry],
  }),
  wsBadFrames: new client.Counter({
    name: 'chorus_ws_bad_frames_total', help: 'Client frames answered with an error', labelNames: ['code'], registers: [registry],
  }),
  wsReplayed: new client.Counter({
    name: 'chorus_ws_replayed_events_total', help: 'Events replayed to resuming connections', registers: [registry],
  }),
  wsReplayCache: new client.Counter({
    name: 'chorus_ws_replay_cache_total', help: 'Replays served from the gateway recent-events cache (hit), partly (partial) or from Redis (miss)',
    labelNames: ['outcome'], registers: [registry],
  }),
  fanoutLatency: new client.Histogram({
    name: 'chorus_fanout_latency_seconds', help: 'Stream append to websocket write, by priority',
    labelNames: ['priority'], buckets: deliveryBuckets, registers: [registry],
  }),
  ackLatency: new client.Histogram({
    name: 'chorus_client_ack_latency_seconds', help: 'Stream append to client ack (end to end)',
    buckets: deliveryBuckets, registers: [registry],
  }),
  processorProcessed: new client.Counter({
    name: 'chorus_processor_entries_total', help: 'Stream entries handled by a consumer group, by outcome and tenant',
    labelNames: ['queue', 'outcome', 'tenant'], registers: [registry],
  }),
  processorBatchDuration: new client.Histogram({
    name: 'chorus_processor_batch_duration_seconds', help: 'Time to handle one batch',
    labelNames: ['queue'], buckets: latencyBuckets, registers: [registry],
  }),
  processorLag: new client.Gauge({
    name: 'chorus_processor_lag_entries', help: 'Entries not yet delivered to the group (XINFO lag), by tenant (top-N, the others summed as `other`)',
    labelNames: ['queue', 'tenant'], registers: [registry],
  }),
  processorPending: new client.Gauge({
    name: 'chorus_processor_pending_entries', help: 'Delivered but unacknowledged entries, by tenant (top-N, the others summed as `other`)',
    labelNames: ['queue', 'tenant'], registers: [registry],
  }),
  processorLagSeconds: new client.Histogram({
    name: 'chorus_processor_event_age_seconds', help: 'Age of an entry when its group finished it (queue lag)',
    labelNames: ['queue'], buckets: lagBuckets, registers: [registry],
  }),
  deadLettered: new client.Counter({
    name: 'chorus_dead_lettered_total', help: 'Entries moved to a dead-letter stream',
    labelNames: ['queue', 'tenant'], registers: [registry],
  }),
  dbQueryDuration: new client.Histogram({
    name: 'chorus_db_query_duration_seconds', help: 'Postgres statement latency by statement name',
    labelNames: ['statement'], buckets: latencyBuckets, registers: [registry],
  }),
  dbLockWaits: new client.Gauge({
    name: 'chorus_db_lock_waiting_sessions',
    help: 'Sessions of the Chorus database waiting for a lock (pg_stat_activity), read at each scrape of a processor role; every such process reports the same database, so aggregate with max',
    registers: [registry],
    async collect() {
      if (!lockWaitSource) return;
      // NaN, not a failed scrape, when the database does not answer: the other metrics still matter then.
      this.set(await lockWaitSource().catch(() => NaN));
    },
  }),
  dbCacheHitRatio: new client.Gauge({
    name: 'chorus_db_cache_hit_ratio',
    help: 'Share of block reads of the Chorus database served from Postgres shared buffers since its statistics reset (pg_stat_database), read at each scrape of a processor role; aggregate with max',
    registers: [registry],
    async collect() {
      if (!cacheHitSource) return;
      this.set(await cacheHitSource().catch(() => NaN));
    },
  }),
  redisCommandDuration: new client.Histogram({
    name: 'chorus_redis_command_duration_seconds',
    help: 'Redis command latency as this client sees it (queueing and round trip), by command; one command in CHORUS_REDIS_LATENCY_SAMPLE is timed, blocking reads never',
    labelNames: ['command'], buckets: latencyBuckets, registers: [registry],
  }),
  counterReconcile: new client.Counter({
    name: 'counter_reconcile_total', help: 'Unread counter rows checked by reconciliation, by outcome (healed, tolerated, clean)',
    labelNames: ['tenant', 'outcome'], registers: [registry],
  }),
  syncWait: new client.Histogram({
    name: 'chorus_sync_wait_seconds', help: 'Time GET /api/sync waited for the read models to reach the stream head',
    buckets: latencyBuckets, registers: [registry],
  }),
  presencePublished: new client.Counter({
    name: 'chorus_presence_published_total', help: 'Presence updates published on shard channels, by reason (immediate, coalesced, expired)',
    labelNames: ['reason'], registers: [registry],
  }),
  presenceCoalesced: new client.Counter({
    name: 'chorus_presence_coalesced_total', help: 'Presence changes held back by the per-user coalescing window', registers: [registry],
  }),
  presenceDuplicates: new client.Counter({
    name: 'chorus_presence_duplicates_suppressed_total', help: 'Presence updates suppressed as duplicates (same user and version), by stage',
    labelNames: ['stage'], registers: [registry],
  }),
  presenceFrames: new client.Counter({
    name: 'chorus_presence_frames_total', help: 'Presence frames written to websockets, by kind (batch, summary, catch_up)',
    labelNames: ['kind'], registers: [registry],
  }),
  presenceFanoutLatency: new client.Histogram({
    name: 'chorus_presence_fanout_latency_seconds', help: 'Presence change (Redis time) to presence.batch write',
    buckets: deliveryBuckets, registers: [registry],
  }),
  presenceQueueDepth: new client.Gauge({
    name: 'chorus_presence_queue_depth', help: 'Presence updates received but not yet written to subscribers on this gateway',
    registers: [registry],
  }),
  presenceSummaryMode: new client.Gauge({
    name: 'chorus_presence_summary_mode', help: '1 while this gateway sends presence.summary instead of per-user updates', registers: [registry],
  }),
  presenceSummaryTransitions: new client.Counter({
    name: 'chorus_presence_summary_transitions_total', help: 'Entries into and exits from presence summary mode',
    labelNames: ['direction'], registers: [registry],
  }),
  presenceShardSubscriptions: new client.Gauge({
    name: 'chorus_presence_shard_subscriptions', help: 'Presence shard channels this gateway is subscribed to', registers: [registry],
  }),
  presenceExpired: new client.Counter({
    name: 'chorus_presence_expired_total', help: 'Users found offline by the sweeper (heartbeat TTL expired)', registers: [registry],
  }),
  presenceShardLoad: new client.Gauge({
    name: 'chorus_presence_shard_load', help: 'Published presence updates per shard over the last load window, by quantile (p50, p95, max)',
    labelNames: ['tenant', 'quantile'], registers: [registry],
  }),
  presenceRebalanceSuggested: new client.Counter({
    name: 'chorus_presence_rebalance_suggested_total', help: 'Load windows in which p95 shard load exceeded twice p50',
    labelNames: ['tenant'], registers: [registry],
  }),
  attachmentScanDuration: new client.Histogram({
    name: 'chorus_attachment_scan_duration_seconds', help: 'Virus scan of one attachment (clamd), by outcome',
    labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
  }),
  attachmentTransformDuration: new client.Histogram({
    name: 'chorus_attachment_transform_duration_seconds', help: 'Thumbnail of one attachment (sharp), by outcome',
    labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
  }),
  attachmentStage: new client.Counter({
    name: 'chorus_attachment_stage_total',
    help: 'Attachments handled per pipeline stage, by outcome (ok, rejected, skipped, retry, error); failure ratio = (retry+error)/all',
    labelNames: ['stage', 'outcome'], registers: [registry],
  }),
  attachmentReadyLatency: new client.Histogram({
    name: 'chorus_attachment_ready_latency_seconds', help: 'Upload complete to ready or rejected (the seed\'s attachment readiness SLI)',
    labelNames: ['status'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 45, 90, 180], registers: [registry],
  }),
  notifyDecisions: new client.Counter({
    name: 'chorus_notify_decisions_total', help: 'Notification decisions per channel, reason (sent_via_*, muted, quiet_hours, already_read, ...) and tenant',
    labelNames: ['channel', 'reason', 'tenant'], registers: [registry],
  }),
  notifyDispatchLatency: new client.Histogram({
    name: 'chorus_notify_dispatch_seconds', help: 'Notification enqueue to provider handoff (the seed\'s dispatch lag SLI), by channel and priority',
    labelNames: ['channel', 'priority'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900, 1800], registers: [registry],
  }),
  notifySendDuration: new client.Histogram({
    name: 'chorus_notify_provider_send_seconds', help: 'One provider call (SMTP transaction, push webhook), by channel and outcome',
    labelNames: ['channel', 'outcome'], buckets: latencyBuckets, registers: [registry],
  }),
  notifyRetries: new client.Counter({
    name: 'chorus_notify_retries_total', help: 'Deliveries rescheduled, by channel and cause (failure, circuit_open, lease_held, quiet_hours)',
    labelNames: ['channel', 'cause'], registers: [registry],
  }),
  notifyDuplicates: new client.Counter({
    name: 'chorus_notify_duplicates_suppressed_total', help: 'Redelivered notification work skipped by an idempotency key, by channel and stage',
    labelNames: ['channel', 'stage'], registers: [registry],
  }),
  notifyBreakerState: new client.Gauge({
    name: 'chorus_notify_breaker_state', help: 'Circuit breaker of a notification provider: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'], registers: [registry],
  }),
  notifyBreakerTransitions: new client.Counter({
    name: 'chorus_notify_breaker_transitions_total', help: 'Circuit breaker state changes seen by this process, by provider and new state',
    labelNames: ['provider', 'to'], registers: [registry],
  }),
  notifyProviderAlert: new client.Gauge({
    name: 'chorus_notify_provider_alert', help: 'Operator alert: 1 while a notification provider has been failing (breaker not closed) for longer than CHORUS_NOTIFY_ALERT_AFTER_MS',
    labelNames: ['provider'], registers: [registry],
  }),
  notifyCallbacks: new client.Counter({
    name: 'chorus_notify_callbacks_total', help: 'Provider status callbacks, by channel and outcome (applied, unknown, stale, bad_signature, invalid)',
    labelNames: ['channel', 'outcome'], registers: [registry],
  }),
};

export async function timed<T>(statement: string, fn: () => Promise<T>): Promise<T> {
  const end = metrics.dbQueryDuration.startTimer({ statement });
  try {
    return await fn();
  } finally {
    end();
  }
}

/** The metrics with a `tenant` label: a tenant that leaves the top N loses its series in each. */
const PER_TENANT = [metrics.httpRequests, metrics.streamAppends, metrics.wsEventsSent, metrics.wsEventsDropped,
  metrics.processorProcessed, metrics.deadLettered, metrics.notifyDecisions, metrics.counterReconcile, metrics.presenceShardLoad,
  metrics.presenceRebalanceSuggested] as const;

tenantLabels.onEvict((tenants) => {
  const gone = new Set(tenants);
  for (const metric of PER_TENANT) {
    void (metric as client.Counter<string>).get().then((m) => {
      for (const v of m.values) if (gone.has(String(v.labels['tenant']))) metric.remove(v.labels as never);
    });
  }
});

/** Counts events appended to a tenant's stream (the accepted writes), by type and bounded tenant. */
export function countAppend(eventType: string, tenantId: string, n = 1): void {
  metrics.streamAppends.inc({ event_type: eventType, tenant: tenantLabels.label(tenantId, n) }, n);
}

/** Counts one HTTP answer; `tenantId` once the caller is known (`none` before authentication). */
export function countHttp(route: string, method: string, status: number, seconds: number, tenantId: string | undefined): void {
  metrics.httpRequests.inc({ route, method, status: String(status), tenant: tenantId === undefined ? 'none' : tenantLabels.label(tenantId) });
  metrics.httpDuration.observe({ route, method }, seconds);
}
