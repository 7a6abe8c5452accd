// The alerting and dashboard files of ops/observability/ (issue 16, items 3 and 4): the generated
// files match their tables, promtool accepts every rule file and passes every rule unit test, and
// no rule or panel reads a metric Chorus does not define. promtool comes with Debian's
// `prometheus` package (ops/install.ts installs it); without it these tests fail and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, which } from '../../ops/install.js';
import { OBSERVABILITY_DIR, driftedFiles } from '../../ops/observability/build.js';
import { DASHBOARDS, dashboardExpressions } from '../../ops/observability/dashboards.js';
import { metricNames, ruleExpressions } from '../../ops/observability/promql.js';
import { SLOS } from '../../ops/observability/slos.js';
import { registry } from '../../core/metrics.js';

const RULES_DIR = path.join(OBSERVABILITY_DIR, 'rules');
const ruleFiles = () => fs.readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml')).map((f) => path.join(RULES_DIR, f));
const ruleTests = () => fs.readdirSync(path.join(RULES_DIR, 'tests')).filter((f) => f.endsWith('.yml')).map((f) => path.join(RULES_DIR, 'tests', f));

function promtool(): string {
  const bin = which('promtool');
  assert.ok(bin, 'promtool is missing: install Debian\'s prometheus package (node dist/ops/install.js as root, or apt-get install prometheus)');
  return bin;
}

test('the generated rule, test and dashboard files match slos.ts and dashboards.ts', () => {
  assert.deepEqual(driftedFiles(), [], 'run node dist/ops/observability/build.js and commit the result');
});

test('promtool check rules: every rule file is valid', async () => {
  const r = await runCommand(promtool(), ['check', 'rules', ...ruleFiles()]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.ok(ruleFiles().length >= 3, 'recording rules, burn-rate alerts and the 7.5 alerts');
});

test('promtool test rules: each alert fires and stays silent as its unit tests say', async () => {
  const r = await runCommand(promtool(), ['test', 'rules', ...ruleTests()], { cwd: path.join(RULES_DIR, 'tests') });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /SUCCESS/);
});

test('every alert of the rule files has a promtool unit test', () => {
  const alerts = new Set(ruleFiles().flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/- alert: (\S+)/g)].map((m) => m[1] as string)));
  const tested = new Set(ruleTests().flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/alertname: (\S+)/g)].map((m) => m[1] as string)));
  assert.deepEqual([...alerts].filter((a) => !tested.has(a)), []);
});

test('every SLI of the seed table (section 9) has recording rules; the six named SLOs page on burn rate', () => {
  assert.equal(SLOS.length, 9);
  const recording = fs.readFileSync(path.join(RULES_DIR, 'slo-recording.yml'), 'utf8');
  for (const slo of SLOS) assert.match(recording, new RegExp(`record: slo:chorus_${slo.id}_errors:ratio_rate5m`));
  const paging = SLOS.filter((s) => s.burnAlert).map((s) => s.id);
  assert.deepEqual(paging, ['api_availability', 'message_e2e_p95', 'message_e2e_p99', 'ws_session_success', 'critical_delivery',
    'notification_dispatch_p95', 'attachment_readiness_p95']);
  const burn = fs.readFileSync(path.join(RULES_DIR, 'slo-burn-rate-alerts.yml'), 'utf8');
  for (const [long, short, rate] of [['1h', '5m', '14.4'], ['6h', '30m', '6']]) {
    assert.match(burn, new RegExp(`ratio_rate${long} > \\(${rate} \\* [0-9.]+\\)\\n\\s*and\\n\\s*\\S+ratio_rate${short} > \\(${rate} \\*`));
  }
});

test('the five dashboard sets of section 7.4, each panel with a query', () => {
  const files = fs.readdirSync(path.join(OBSERVABILITY_DIR, 'dashboards')).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), DASHBOARDS.map((d) => `${d.uid}.json`).sort());
  assert.equal(files.length, 5);
  for (const f of files) {
    const json = fs.readFileSync(path.join(OBSERVABILITY_DIR, 'dashboards', f), 'utf8');
    const model = JSON.parse(json) as { panels: { type: string; targets?: unknown[] }[] };
    for (const p of model.panels) if (p.type !== 'text') assert.ok(p.targets?.length, `${f}: a panel without a query`);
    assert.ok(dashboardExpressions(json).length > 3);
  }
});

test('rules and panels read only metrics Chorus defines (core/metrics.ts, default Node metrics) or recording rules', async () => {
  const known = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    known.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_count', '_sum']) known.add(m.name + s);
  }
  const rules = ruleFiles().flatMap((f) => ruleExpressions(fs.readFileSync(f, 'utf8')));
  for (const r of rules) if (r.name.includes(':')) known.add(r.name);
  const panels = DASHBOARDS.flatMap((d) => d.panels.flatMap((p) => p.targets.map((t) => ({ name: `${d.uid} / ${p.title}`, expr: t.expr }))));
  const unknown = [...rules, ...panels].flatMap((e) => metricNames(e.expr).filter((n) => !known.has(n)).map((n) => `${e.name}: ${n}`));
  assert.deepEqual(unknown, []);
  assert.ok(rules.length > 40, `found ${rules.length} rule expressions`);
});

test('metricNames: selectors, __name__ matchers, modifiers and functions', () => {
  assert.deepEqual(metricNames('sum by (le) (rate(a_bucket{x="y"}[5m])) / on (q) b'), ['a_bucket', 'b']);
  assert.deepEqual(metricNames('sum(rate({__name__=~"c|d",p="x"}[$__rate_interval])) or vector(0)').sort(), ['c', 'd']);
  assert.deepEqual(metricNames('label_replace(rate(e[1m]), "class", "${1}xx", "status", "(.)..") > 0.5 and f unless g'), ['e', 'f', 'g']);
});
