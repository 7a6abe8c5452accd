// The five dashboard sets of the seed (section 7.4) as compact panel lists, and their Grafana JSON.
// `build.ts` writes dashboards/<uid>.json from here; a test fails when the files drift. Every query
// uses only series Chorus exposes today (core/metrics.ts) or the recording rules of slos.ts, and the
// real-Prometheus test (test/int/prometheus.int.test.ts) evaluates each one against a loaded stack.
// `$__rate_interval` is Grafana's; the test substitutes a fixed range for it.
import { SLOS, errorRatioRecord, quantileRecord, type Slo } from './slos.js';

export interface Target {
  expr: string;
  legend?: string;
}

export interface Panel {
  title: string;
  type: 'timeseries' | 'stat' | 'table' | 'text';
  unit?: string;
  targets: Target[];
  /** Text panels only (markdown). */
  content?: string;
  description?: string;
  /** Full row width instead of half. */
  wide?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  panels: Panel[];
}

const R = '$__rate_interval';
const OPS_ROUTES = 'route!~"metrics|readyz|healthz"';
const quantiles = (q: number[], expr: (q: number) => string, legend: (q: number) => string): Target[] =>
  q.map((x) => ({ expr: expr(x), legend: legend(x) }));
const slo = (id: string): Slo => {
  const s = SLOS.find((x) => x.id === id);
  if (!s) throw new Error(`no SLO ${id}`);
  return s;
};
const p95Record = (id: string) => quantileRecord(slo(id) as Slo & { sli: { kind: 'latency' } });

export const DASHBOARDS: readonly Dashboard[] = [
  {
    uid: 'chorus-realtime',
    title: 'Chorus / Realtime health',
    description: 'Websocket connections, fanout latency and dropped events (seed 7.4 #1)',
    panels: [
      { title: 'Open websocket connections', type: 'stat', targets: [{ expr: 'sum(chorus_ws_connections)' }] },
      { title: 'Message E2E p95 (SLO 1.5 s)', type: 'stat', unit: 's', targets: [{ expr: p95Record('message_e2e_p95') }] },
      {
        title: 'Connections by process', type: 'timeseries',
        targets: [{ expr: 'sum by (job, instance) (chorus_ws_connections)', legend: '{{job}} {{instance}}' }],
      },
      {
        title: 'Upgrade attempts by outcome', type: 'timeseries', unit: 'reqps',
        targets: [{ expr: `sum by (outcome) (rate(chorus_ws_connects_total[${R}]))`, legend: '{{outcome}}' }],
      },
      {
        title: 'Auth failures by transport and reason', type: 'timeseries', unit: 'reqps',
        targets: [{ expr: `sum by (transport, reason) (rate(chorus_auth_failures_total[${R}]))`, legend: '{{transport}} {{reason}}' }],
      },
      {
        title: 'Disconnects by close code', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (code) (rate(chorus_ws_disconnects_total[${R}]))`, legend: '{{code}}' }],
      },
      {
        title: 'Fanout latency by priority (append to websocket write)', type: 'timeseries', unit: 's', wide: true,
        targets: quantiles([0.5, 0.95, 0.99],
          (q) => `histogram_quantile(${q}, sum by (priority, le) (rate(chorus_fanout_latency_seconds_bucket[${R}])))`,
          (q) => `p${q * 100} {{priority}}`),
      },
      {
        title: 'Events written by priority', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (priority) (rate(chorus_ws_events_sent_total[${R}]))`, legend: '{{priority}}' }],
      },
      {
        title: 'Dropped events by priority and reason', type: 'timeseries', unit: 'ops',
        description: 'Critical events are never dropped (the slow consumer is closed with 4008 and resumes): any critical line here is a bug.',
        targets: [{ expr: `sum by (priority, reason) (rate(chorus_ws_events_dropped_total[${R}]))`, legend: '{{priority}} {{reason}}' }],
      },
      {
        title: 'Dropped best-effort share, 15 min (SLO 0.5 %)', type: 'timeseries', unit: 'percentunit',
        targets: [{ expr: errorRatioRecord(slo('best_effort_drops'), '15m'), legend: 'dropped share' }],
      },
      {
        title: 'Presence fanout latency', type: 'timeseries', unit: 's',
        targets: [
          ...quantiles([0.5, 0.95],
            (q) => `histogram_quantile(${q}, sum by (le) (rate(chorus_presence_fanout_latency_seconds_bucket[${R}])))`,
            (q) => `p${q * 100}`),
          { expr: p95Record('presence_fanout_p95'), legend: 'p95 5m (SLO 2 s)' },
        ],
      },
      {
        title: 'Presence frames by kind and queue depth', type: 'timeseries',
        targets: [
          { expr: `sum by (kind) (rate(chorus_presence_frames_total[${R}]))`, legend: 'frames/s {{kind}}' },
          { expr: 'sum(chorus_presence_queue_depth)', legend: 'queued updates' },
          { expr: 'sum(chorus_presence_summary_mode)', legend: 'gateways in summary mode' },
        ],
      },
      {
        title: 'Client ack latency (append to client ack)', type: 'timeseries', unit: 's',
        targets: quantiles([0.5, 0.95, 0.99],
          (q) => `histogram_quantile(${q}, sum by (le) (rate(chorus_client_ack_latency_seconds_bucket[${R}])))`,
          (q) => `p${q * 100}`),
      },
      {
        title: 'Replay on resume', type: 'timeseries', unit: 'ops',
        targets: [
          { expr: `sum(rate(chorus_ws_replayed_events_total[${R}]))`, legend: 'replayed events/s' },
          { expr: `sum by (outcome) (rate(chorus_ws_replay_cache_total[${R}]))`, legend: 'replays from cache: {{outcome}}' },
        ],
      },
    ],
  },
  {
    uid: 'chorus-api',
    title: 'Chorus / Messaging API',
    description: 'Throughput, latency percentiles, errors and the slowest endpoints (seed 7.4 #2)',
    panels: [
      { title: 'Requests/s', type: 'stat', unit: 'reqps', targets: [{ expr: `sum(rate(chorus_http_requests_total{${OPS_ROUTES}}[${R}]))` }] },
      {
        title: 'Availability error ratio, 1 h (SLO 99.95 %)', type: 'stat', unit: 'percentunit',
        targets: [{ expr: errorRatioRecord(slo('api_availability'), '1h') }],
      },
      {
        title: 'Requests by route', type: 'timeseries', unit: 'reqps', wide: true,
        targets: [{ expr: `sum by (route) (rate(chorus_http_requests_total{${OPS_ROUTES}}[${R}]))`, legend: '{{route}}' }],
      },
      {
        title: 'Responses by status class', type: 'timeseries', unit: 'reqps',
        targets: [{
          expr: `sum by (class) (label_replace(rate(chorus_http_requests_total{${OPS_ROUTES}}[${R}]), "class", "\${1}xx", "status", "(.).."))`,
          legend: '{{class}}',
        }],
      },
      {
        title: '4xx and 5xx by route and status', type: 'timeseries', unit: 'reqps',
        targets: [{ expr: `sum by (route, status) (rate(chorus_http_requests_total{status=~"[45]..",${OPS_ROUTES}}[${R}]))`, legend: '{{route}} {{status}}' }],
      },
      {
        title: 'Latency percentiles (all API routes)', type: 'timeseries', unit: 's',
        targets: quantiles([0.5, 0.95, 0.99],
          (q) => `histogram_quantile(${q}, sum by (le) (rate(chorus_http_request_duration_seconds_bucket{${OPS_ROUTES}}[${R}])))`,
          (q) => `p${q * 100}`),
      },
      {
        title: 'Top slow endpoints (p95)', type: 'table', unit: 's',
        targets: [{ expr: `topk(10, histogram_quantile(0.95, sum by (route, method, le) (rate(chorus_http_request_duration_seconds_bucket{${OPS_ROUTES}}[${R}]))))`, legend: '{{method}} {{route}}' }],
      },
      {
        title: 'Events appended by type', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (event_type) (rate(chorus_stream_appends_total[${R}]))`, legend: '{{event_type}}' }],
      },
      {
        title: 'Sync wait for read models (p95)', type: 'timeseries', unit: 's',
        targets: [{ expr: `histogram_quantile(0.95, sum by (le) (rate(chorus_sync_wait_seconds_bucket[${R}])))`, legend: 'p95' }],
      },
    ],
  },
  {
    uid: 'chorus-data-plane',
    title: 'Chorus / Data plane',
    description: 'Postgres hotspots, cache efficiency and the slow statement leaderboard (seed 7.4 #3)',
    panels: [
      {
        title: 'Statements/s by name (hotspots)', type: 'timeseries', unit: 'ops', wide: true,
        targets: [{ expr: `topk(10, sum by (statement) (rate(chorus_db_query_duration_seconds_count[${R}])))`, legend: '{{statement}}' }],
      },
      {
        title: 'Database time by statement (seconds per second)', type: 'timeseries', unit: 's',
        description: 'Where Postgres time goes: rate of the latency sum, so a cheap statement run very often shows up too.',
        targets: [{ expr: `topk(10, sum by (statement) (rate(chorus_db_query_duration_seconds_sum[${R}])))`, legend: '{{statement}}' }],
      },
      {
        title: 'Statement latency p95 (all)', type: 'timeseries', unit: 's',
        targets: [{ expr: `histogram_quantile(0.95, sum by (le) (rate(chorus_db_query_duration_seconds_bucket[${R}])))`, legend: 'p95' }],
      },
      {
        title: 'Slow statement leaderboard (p95)', type: 'table', unit: 's', wide: true,
        targets: [{ expr: `topk(10, histogram_quantile(0.95, sum by (statement, le) (rate(chorus_db_query_duration_seconds_bucket[${R}]))))`, legend: '{{statement}}' }],
      },
      {
        title: 'Sessions waiting for a lock', type: 'timeseries',
        description: 'Chorus sessions in pg_stat_activity with wait_event_type = Lock, read at each scrape of a processor role.',
        targets: [{ expr: 'max(chorus_db_lock_waiting_sessions)', legend: 'waiting' }],
      },
      {
        title: 'Postgres cache hit ratio', type: 'timeseries', unit: 'percentunit',
        description: 'Block reads of the Chorus database served from shared buffers (pg_stat_database, since its statistics reset), read at each scrape of a processor role.',
        targets: [{ expr: 'max(chorus_db_cache_hit_ratio)', legend: 'hit ratio' }],
      },
      {
        title: 'Redis command latency p95 by command', type: 'timeseries', unit: 's',
        description: 'As the clients see it (queueing in the pipeline included), one command in CHORUS_REDIS_LATENCY_SAMPLE timed.',
        targets: [{ expr: `topk(10, histogram_quantile(0.95, sum by (command, le) (rate(chorus_redis_command_duration_seconds_bucket[${R}]))))`, legend: '{{command}}' }],
      },
      {
        title: 'Replay cache hit ratio', type: 'timeseries', unit: 'percentunit',
        description: 'Resumes served from the gateway\'s recent-events cache instead of XRANGE on Redis.',
        targets: [{
          expr: `(sum(rate(chorus_ws_replay_cache_total{outcome="hit"}[${R}])) or vector(0)) / sum(rate(chorus_ws_replay_cache_total[${R}]))`,
          legend: 'hit ratio',
        }],
      },
      {
        title: 'Unread counter reconciliation', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (outcome) (rate(counter_reconcile_total[${R}]))`, legend: '{{outcome}}' }],
      },
      {
        title: 'Processor batch duration p95 (one transaction per batch)', type: 'timeseries', unit: 's',
        targets: [{ expr: `histogram_quantile(0.95, sum by (queue, le) (rate(chorus_processor_batch_duration_seconds_bucket[${R}])))`, legend: '{{queue}}' }],
      },
      {
        title: 'Stream appends/s (Redis write volume)', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum(rate(chorus_stream_appends_total[${R}]))`, legend: 'appends' }],
      },
    ],
  },
  {
    uid: 'chorus-queues',
    title: 'Chorus / Queue and worker health',
    description: 'Consumer lag, retries, dead letters and worker saturation (seed 7.4 #4)',
    panels: [
      {
        title: 'Consumer lag (entries not yet delivered) by queue', type: 'timeseries', wide: true,
        targets: [{ expr: 'sum by (queue) (chorus_processor_lag_entries)', legend: '{{queue}}' }],
      },
      {
        title: 'Pending (delivered, not acked) by queue', type: 'timeseries',
        targets: [{ expr: 'sum by (queue) (chorus_processor_pending_entries)', legend: '{{queue}}' }],
      },
      {
        title: 'Queue lag p95 (event age when done)', type: 'timeseries', unit: 's',
        targets: [{ expr: `histogram_quantile(0.95, sum by (queue, le) (rate(chorus_processor_event_age_seconds_bucket[${R}])))`, legend: '{{queue}}' }],
      },
      {
        title: 'Entries by queue and outcome', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (queue, outcome) (rate(chorus_processor_entries_total[${R}]))`, legend: '{{queue}} {{outcome}}' }],
      },
      {
        title: 'Retries', type: 'timeseries', unit: 'ops',
        targets: [
          { expr: `sum by (queue) (rate(chorus_processor_entries_total{outcome=~"retry|failed"}[${R}]))`, legend: 'processor {{queue}}' },
          { expr: `sum by (channel, cause) (rate(chorus_notify_retries_total[${R}]))`, legend: 'notify {{channel}} {{cause}}' },
        ],
      },
      {
        title: 'Dead-lettered (1 h)', type: 'timeseries',
        targets: [{ expr: 'sum by (queue) (increase(chorus_dead_lettered_total[1h]))', legend: '{{queue}}' }],
      },
      {
        title: 'Worker saturation: busy share per queue', type: 'timeseries', unit: 'percentunit',
        description: 'Seconds spent in batches per second: 1 = the consumers of that queue never wait for work.',
        targets: [{ expr: `sum by (queue) (rate(chorus_processor_batch_duration_seconds_sum[${R}]))`, legend: '{{queue}}' }],
      },
      {
        title: 'CPU and event-loop lag by process', type: 'timeseries',
        targets: [
          { expr: `sum by (job, instance) (rate(process_cpu_seconds_total[${R}]))`, legend: 'cpu {{job}} {{instance}}' },
          { expr: 'max by (job, instance) (nodejs_eventloop_lag_p99_seconds)', legend: 'loop lag p99 {{job}}' },
        ],
      },
      {
        title: 'Notification dispatch lag p95 by channel (SLO 30 s)', type: 'timeseries', unit: 's',
        targets: [
          { expr: `histogram_quantile(0.95, sum by (channel, le) (rate(chorus_notify_dispatch_seconds_bucket[${R}])))`, legend: '{{channel}}' },
          { expr: p95Record('notification_dispatch_p95'), legend: 'all, 5m' },
        ],
      },
      {
        title: 'Notification decisions', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `sum by (channel, reason) (rate(chorus_notify_decisions_total[${R}]))`, legend: '{{channel}} {{reason}}' }],
      },
      {
        title: 'Provider breakers (0 closed, 1 half-open, 2 open) and alerts', type: 'timeseries',
        targets: [
          { expr: 'max by (provider) (chorus_notify_breaker_state)', legend: 'breaker {{provider}}' },
          { expr: 'max by (provider) (chorus_notify_provider_alert)', legend: 'alert {{provider}}' },
        ],
      },
      {
        title: 'Attachment pipeline: scan and thumbnail p95', type: 'timeseries', unit: 's',
        targets: [
          { expr: `histogram_quantile(0.95, sum by (le) (rate(chorus_attachment_scan_duration_seconds_bucket[${R}])))`, legend: 'scan' },
          { expr: `histogram_quantile(0.95, sum by (le) (rate(chorus_attachment_transform_duration_seconds_bucket[${R}])))`, legend: 'thumbnail' },
          { expr: p95Record('attachment_readiness_p95'), legend: 'readiness, 5m (SLO 45 s)' },
        ],
      },
      {
        title: 'Attachment stage outcomes and failure ratio', type: 'timeseries',
        targets: [
          { expr: `sum by (stage, outcome) (rate(chorus_attachment_stage_total[${R}]))`, legend: '{{stage}} {{outcome}}' },
          {
            expr: `(sum(rate(chorus_attachment_stage_total{outcome=~"retry|error"}[${R}])) or vector(0)) / sum(rate(chorus_attachment_stage_total[${R}]))`,
            legend: 'failure ratio',
          },
        ],
      },
    ],
  },
  {
    uid: 'chorus-tenants',
    title: 'Chorus / Tenant outliers',
    description: 'Top tenants by traffic, errors and lag (seed 7.4 #5)',
    panels: [
      {
        title: 'About this dashboard', type: 'text', wide: true, targets: [],
        content: 'The `tenant` label is bounded: each process keeps the ids of its top CHORUS_METRICS_TENANTS tenants by traffic ' +
          'over a sliding window (CHORUS_METRICS_TENANT_WINDOW_S) and counts every other tenant as `other`; HTTP requests before ' +
          'authentication are `none`. A tenant that is `other` here is not an outlier on any process.',
      },
      {
        title: 'Top tenants by API requests', type: 'timeseries', unit: 'reqps', wide: true,
        targets: [{ expr: `topk(10, sum by (tenant) (rate(chorus_http_requests_total{${OPS_ROUTES}}[${R}])))`, legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by API errors (4xx and 5xx)', type: 'timeseries', unit: 'reqps',
        targets: [{ expr: `topk(10, sum by (tenant) (rate(chorus_http_requests_total{${OPS_ROUTES},status=~"[45].."}[${R}])))`, legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by accepted writes (stream appends)', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `topk(10, sum by (tenant) (rate(chorus_stream_appends_total[${R}])))`, legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by websocket events written', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `topk(10, sum by (tenant) (rate(chorus_ws_events_sent_total[${R}])))`, legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by consumer lag (entries)', type: 'timeseries',
        targets: [{ expr: 'topk(10, sum by (tenant) (chorus_processor_lag_entries))', legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by entries processed', type: 'timeseries', unit: 'ops',
        targets: [{ expr: `topk(10, sum by (tenant) (rate(chorus_processor_entries_total[${R}])))`, legend: '{{tenant}}' }],
      },
      {
        title: 'Top tenants by presence shard load (max updates per shard and window)', type: 'table',
        targets: [{ expr: 'topk(10, max by (tenant) (chorus_presence_shard_load{quantile="max"}))', legend: '{{tenant}}' }],
      },
      {
        title: 'Presence shard skew (p95 / p50 shard load)', type: 'timeseries',
        targets: [{
          expr: 'topk(10, max by (tenant) (chorus_presence_shard_load{quantile="p95"}) / max by (tenant) (chorus_presence_shard_load{quantile="p50"} > 0))',
          legend: '{{tenant}}',
        }],
      },
      {
        title: 'Top tenants by dead letters (1 h)', type: 'table',
        targets: [{ expr: 'topk(10, sum by (tenant) (increase(chorus_dead_lettered_total[1h])))', legend: '{{tenant}}' }],
      },
      {
        title: 'Rebalance suggestions by tenant (1 h)', type: 'table',
        targets: [{ expr: 'topk(10, sum by (tenant) (increase(chorus_presence_rebalance_suggested_total[1h])))', legend: '{{tenant}}' }],
      },
      {
        title: 'Unread counters healed by tenant (1 h)', type: 'table',
        targets: [{ expr: 'topk(10, sum by (tenant) (increase(counter_reconcile_total{outcome="healed"}[1h])))', legend: '{{tenant}}' }],
      },
    ],
  },
];

// --- Grafana JSON model (schemaVersion 39) ---

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

export function renderDashboard(d: Dashboard): string {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.wide ? 24 : p.type === 'stat' ? 6 : 12;
    const h = p.type === 'stat' ? 4 : p.type === 'text' ? 3 : 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { h, w, x, y };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    const base = { id: i + 1, type: p.type, title: p.title, gridPos, ...(p.description ? { description: p.description } : {}) };
    if (p.type === 'text') return { ...base, options: { mode: 'markdown', content: p.content ?? '' } };
    return {
      ...base,
      datasource: DATASOURCE,
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      options: p.type === 'table' ? { showHeader: true } : p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list', placement: 'bottom' } },
      targets: p.targets.map((t, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: DATASOURCE,
        expr: t.expr,
        ...(t.legend ? { legendFormat: t.legend } : {}),
        ...(p.type === 'table' ? { format: 'table', instant: true } : { range: true }),
      })),
      ...(p.type === 'table' ? { transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }] } : {}),
    };
  });
  const model = {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['chorus'],
    editable: true,
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
    },
    annotations: { list: [] },
    panels,
  };
  return `${JSON.stringify(model, null, 2)}\n`;
}

/** Every PromQL expression of a dashboard file, with the panel it belongs to (for the tests). */
export function dashboardExpressions(json: string): { panel: string; expr: string }[] {
  const model = JSON.parse(json) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return model.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}
