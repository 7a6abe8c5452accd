// The seed's SLO table (section 9) as data, and the Prometheus rules derived from it: one recording
// rule per SLI and window (error ratio: bad events / valid events), the p95/p99 values the
// dashboards plot, and the SRE workbook's multi-window, multi-burn-rate alerts (a page when 2 % of a
// 30-day budget burns in 1 h, or 5 % in 6 h). `build.ts` writes rules/slo-*.yml from here; a test
// fails when the files and this table disagree. Hand-written alerts (seed 7.5) are rules/alerts.yml.

/** How an SLI counts its events; `{W}` is replaced by the range of each window. */
export type Sli =
  /** bad / valid counters; bad may be absent (no failure yet), which counts as zero. */
  | { kind: 'ratio'; bad: string; valid: string }
  /** Events slower than `le` seconds, from a histogram (`le` must be one of its bucket bounds). */
  | { kind: 'latency'; histogram: string; selector: string; le: string; quantile: number };

export interface Slo {
  /** snake_case id, used in rule names and the `slo` label. */
  id: string;
  /** The section 9 row. */
  area: string;
  /** Target as written in the table, for humans. */
  target: string;
  /** Allowed fraction of bad events (1 - objective), as a literal so the YAML shows it exactly. */
  budget: number;
  sli: Sli;
  /** Windows recorded besides the burn-rate ones (5m, 30m, 1h, 6h). */
  extraWindows?: string[];
  /** Name of the burn-rate alert pair; the SLOs the issue names for paging have one. */
  burnAlert?: string;
  /** What the alert tells whoever is paged. */
  summary: string;
}

const API_OPS_ROUTES = 'metrics|readyz|healthz';

export const SLOS: readonly Slo[] = [
  {
    id: 'api_availability', area: 'Messaging API availability', target: '99.95 % monthly', budget: 0.0005,
    sli: {
      kind: 'ratio',
      // Successful non-4xx responses: 4xx are the client's and leave the denominator.
      bad: `chorus_http_requests_total{status=~"5..",route!~"${API_OPS_ROUTES}"}`,
      valid: `chorus_http_requests_total{status!~"4..",route!~"${API_OPS_ROUTES}"}`,
    },
    burnAlert: 'ChorusApiAvailabilityBudgetBurn',
    summary: 'HTTP API answers 5xx fast enough to exhaust the 99.95 % monthly budget',
  },
  {
    id: 'message_e2e_p95', area: 'Message E2E latency', target: 'p95 <= 1.5 s', budget: 0.05,
    // Stream append (the 202) to the websocket write, measured by the gateway for critical frames
    // (message.created and the permission events); the client's own receive time is not seen here.
    sli: { kind: 'latency', histogram: 'chorus_fanout_latency_seconds', selector: 'priority="critical"', le: '1.5', quantile: 0.95 },
    burnAlert: 'ChorusMessageE2eLatencyBudgetBurn',
    summary: 'more than 5 % of messages take longer than 1.5 s from accept to websocket write',
  },
  {
    id: 'message_e2e_p99', area: 'Message E2E latency (tail)', target: 'p99 <= 3.0 s', budget: 0.01,
    sli: { kind: 'latency', histogram: 'chorus_fanout_latency_seconds', selector: 'priority="critical"', le: '3', quantile: 0.99 },
    burnAlert: 'ChorusMessageE2eTailLatencyBudgetBurn',
    summary: 'more than 1 % of messages take longer than 3 s from accept to websocket write',
  },
  {
    id: 'presence_fanout_p95', area: 'Presence fanout latency', target: 'p95 <= 2.0 s', budget: 0.05,
    sli: { kind: 'latency', histogram: 'chorus_presence_fanout_latency_seconds', selector: '', le: '2', quantile: 0.95 },
    summary: 'more than 5 % of presence transitions take longer than 2 s to reach subscribers',
  },
  {
    id: 'ws_session_success', area: 'Websocket session success', target: '>= 99.9 %', budget: 0.001,
    sli: {
      kind: 'ratio',
      // Refusals of the client's own making (malformed lastSeq, foreign origin, bad token) are not
      // the service failing; bad tokens have their own spike alert (rules/alerts.yml).
      bad: 'chorus_ws_connects_total{outcome!~"ok|bad_request|origin|unauthorized"}',
      valid: 'chorus_ws_connects_total{outcome!~"bad_request|origin|unauthorized"}',
    },
    burnAlert: 'ChorusWsSessionSuccessBudgetBurn',
    summary: 'websocket upgrades are refused by the service (draining, connection caps) faster than 0.1 % allows',
  },
  {
    id: 'critical_delivery', area: 'Critical event delivery', target: '99.99 %', budget: 0.0001,
    sli: {
      kind: 'ratio',
      bad: 'chorus_ws_events_dropped_total{priority="critical"}',
      valid: '{__name__=~"chorus_ws_events_sent_total|chorus_ws_events_dropped_total",priority="critical"}',
    },
    burnAlert: 'ChorusCriticalDeliveryBudgetBurn',
    summary: 'critical websocket events (message.created, permission changes) are being dropped',
  },
  {
    id: 'best_effort_drops', area: 'Dropped websocket events', target: '<= 0.5 % per 15 min', budget: 0.005,
    sli: {
      kind: 'ratio',
      bad: 'chorus_ws_events_dropped_total{priority="best_effort"}',
      valid: '{__name__=~"chorus_ws_events_sent_total|chorus_ws_events_dropped_total",priority="best_effort"}',
    },
    extraWindows: ['15m'],
    summary: 'more than 0.5 % of best-effort websocket events (typing, presence) were dropped over 15 min',
  },
  {
    id: 'notification_dispatch_p95', area: 'Notification dispatch lag', target: 'p95 <= 30 s', budget: 0.05,
    sli: { kind: 'latency', histogram: 'chorus_notify_dispatch_seconds', selector: '', le: '30', quantile: 0.95 },
    burnAlert: 'ChorusNotificationDispatchLagBudgetBurn',
    summary: 'more than 5 % of notifications take longer than 30 s from enqueue to provider handoff',
  },
  {
    id: 'attachment_readiness_p95', area: 'Attachment readiness', target: 'p95 <= 45 s', budget: 0.05,
    sli: { kind: 'latency', histogram: 'chorus_attachment_ready_latency_seconds', selector: 'status="ready"', le: '45', quantile: 0.95 },
    burnAlert: 'ChorusAttachmentReadinessBudgetBurn',
    summary: 'more than 5 % of attachments take longer than 45 s from upload complete to downloadable',
  },
];

/** The SRE workbook's page conditions: [long window, short window, burn rate]. */
export const BURN_WINDOWS: readonly (readonly [string, string, number])[] = [
  ['1h', '5m', 14.4],
  ['6h', '30m', 6],
];

const BASE_WINDOWS = ['5m', '30m', '1h', '6h'];

export const errorRatioRecord = (slo: Slo, window: string) => `slo:chorus_${slo.id}_errors:ratio_rate${window}`;
export const quantileRecord = (slo: Slo & { sli: { kind: 'latency' } }) =>
  `sli:chorus_${slo.id.replace(/_p\d+$/, '')}_seconds:p${Math.round(slo.sli.quantile * 100)}_rate5m`;

function sel(selector: string, extra?: string): string {
  const parts = [selector, extra].filter(Boolean);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function errorRatioExpr(slo: Slo, window: string): string {
  const s = slo.sli;
  if (s.kind === 'ratio') {
    return `(sum(rate(${s.bad}[${window}])) or vector(0))\n/\nsum(rate(${s.valid}[${window}]))`;
  }
  return `1 - (\n  sum(rate(${s.histogram}_bucket${sel(s.selector, `le="${s.le}"`)}[${window}]))\n  /\n  sum(rate(${s.histogram}_count${sel(s.selector)}[${window}]))\n)`;
}

export function quantileExpr(slo: Slo & { sli: { kind: 'latency' } }): string {
  const s = slo.sli;
  return `histogram_quantile(${s.quantile}, sum by (le) (rate(${s.histogram}_bucket${sel(s.selector)}[5m])))`;
}

const percent = (fraction: number) => String(Number((fraction * 100).toPrecision(6)));

const isLatency = (slo: Slo): slo is Slo & { sli: { kind: 'latency' } } => slo.sli.kind === 'latency';

// --- YAML (flat enough to write by hand; every expression goes in a literal block) ---

function block(indent: string, text: string): string {
  return text.split('\n').map((l) => `${indent}${l}`).join('\n');
}

const HEADER = '# GENERATED by ops/observability/build.ts from slos.ts: edit that table, then run\n' +
  '# `node dist/ops/observability/build.js`. A test fails when this file and the table disagree.\n';

export function renderRecordingRules(): string {
  const out = [HEADER, 'groups:'];
  for (const slo of SLOS) {
    out.push(`  - name: chorus-sli-${slo.id.replace(/_/g, '-')}`, '    rules:');
    for (const w of [...BASE_WINDOWS, ...(slo.extraWindows ?? [])]) {
      out.push(`      - record: ${errorRatioRecord(slo, w)}`, '        expr: |-', block('          ', errorRatioExpr(slo, w)),
        '        labels:', `          slo: ${slo.id}`);
    }
    if (isLatency(slo)) {
      out.push(`      - record: ${quantileRecord(slo)}`, '        expr: |-', block('          ', quantileExpr(slo)),
        '        labels:', `          slo: ${slo.id}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Static text (no $value), so the promtool tests can state the exact annotations. */
export function burnDescription(slo: Slo, long: string, short: string, rate: number): string {
  return `Error ratio above ${rate}x the budget of ${percent(slo.budget)} % over both ${long} and ${short}: ` +
    `at this rate the 30-day budget is gone in ${Math.round((30 * 24) / rate)} h. SLI: ${errorRatioRecord(slo, long)}.`;
}

export const burnSummary = (slo: Slo) => `${slo.area} (${slo.target}): ${slo.summary}`;

export function renderBurnRateAlerts(): string {
  const out = [HEADER, 'groups:', '  - name: chorus-slo-burn-rate', '    rules:'];
  for (const slo of SLOS) {
    if (!slo.burnAlert) continue;
    for (const [long, short, rate] of BURN_WINDOWS) {
      const limit = `(${rate} * ${slo.budget})`;
      out.push(
        `      - alert: ${slo.burnAlert}`,
        '        expr: |-',
        block('          ', `${errorRatioRecord(slo, long)} > ${limit}\nand\n${errorRatioRecord(slo, short)} > ${limit}`),
        '        labels:',
        '          severity: page',
        `          slo: ${slo.id}`,
        `          burn_window: ${long}`,
        '        annotations:',
        `          summary: ${JSON.stringify(burnSummary(slo))}`,
        `          description: ${JSON.stringify(burnDescription(slo, long, short, rate))}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}
