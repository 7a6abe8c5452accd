// The metrics registry: every Prometheus metric of Chorus is defined here, once.
// Labels follow the seed (section 7.1): tenant, node, event_type, priority, queue.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  httpRequests: new client.Counter({
    name: 'chorus_http_requests_total', help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'], registers: [registry],
  }),
  httpDuration: new client.Histogram({
    name: 'chorus_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames: ['route', 'method'], buckets: latencyBuckets, registers: [registry],
  }),
  streamAppends: new client.Counter({
    name: 'chorus_stream_appends_total', help: 'Events appended to tenant streams',
    labelNames: ['event_type'], registers: [registry],
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
  wsEventsSent: new client.Counter({
    name: 'chorus_ws_events_sent_total', help: 'Events written to websockets',
    labelNames: ['priority'], registers: [registry],
  }),
  wsEventsDropped: new client.Counter({
    name: 'chorus_ws_events_dropped_total', help: 'Events not delivered to a websocket, by priority and reason',
    labelNames: ['priority', 'reason'], registers: [registry],
  }),
  wsBadFrames: new client.Counter({
    name: 'chorus_ws_bad_frames_total', help: 'Client frames answered with an error', labelNames: ['code'], registers: [registry],
  }),
  wsReplayed: new client.Counter({
    name: 'chorus_ws_replayed_events_total', help: 'Events replayed to resuming connections', registers: [registry],
  }),
  fanoutLatency: new client.Histogram({
    name: 'chorus_fanout_latency_seconds', help: 'Stream append to websocket write, by priority',
    labelNames: ['priority'], buckets: latencyBuckets, registers: [registry],
  }),
  ackLatency: new client.Histogram({
    name: 'chorus_client_ack_latency_seconds', help: 'Stream append to client ack (end to end)',
    buckets: latencyBuckets, registers: [registry],
  }),
  processorProcessed: new client.Counter({
    name: 'chorus_processor_entries_total', help: 'Stream entries handled by a consumer group, by outcome',
    labelNames: ['queue', 'outcome'], registers: [registry],
  }),
  processorBatchDuration: new client.Histogram({
    name: 'chorus_processor_batch_duration_seconds', help: 'Time to handle one batch',
    labelNames: ['queue'], buckets: latencyBuckets, registers: [registry],
  }),
  processorLag: new client.Gauge({
    name: 'chorus_processor_lag_entries', help: 'Entries not yet delivered to the group (XINFO lag), summed over tenants',
    labelNames: ['queue'], registers: [registry],
  }),
  processorPending: new client.Gauge({
    name: 'chorus_processor_pending_entries', help: 'Delivered but unacknowledged entries, summed over tenants',
    labelNames: ['queue'], registers: [registry],
  }),
  processorLagSeconds: new client.Histogram({
    name: 'chorus_processor_event_age_seconds', help: 'Age of an entry when its group finished it (queue lag)',
    labelNames: ['queue'], buckets: latencyBuckets, registers: [registry],
  }),
  deadLettered: new client.Counter({
    name: 'chorus_dead_lettered_total', help: 'Entries moved to a dead-letter stream',
    labelNames: ['queue', 'tenant'], registers: [registry],
  }),
  dbQueryDuration: new client.Histogram({
    name: 'chorus_db_query_duration_seconds', help: 'Postgres statement latency by statement name',
    labelNames: ['statement'], buckets: latencyBuckets, registers: [registry],
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
