// Proof against a real Prometheus (issue 16, item 5): a private Chorus stack (the benchmark
// harness' --spawn), Prometheus from Debian's package scraping its four processes every second
// with the rule files of ops/observability/ loaded, a short smoke load plus a few requests the
// smoke does not make (attachments, a resume with lastSeq, refused tokens, /api/sync). Then, through
// Prometheus's HTTP API, every dashboard panel expression and every rule expression must evaluate
// without error and return data.
//
// The rule for "may be empty": an alert condition is empty on a healthy run, and a few panels
// count failures a healthy run does not have (MAY_BE_EMPTY below, each with its reason). Those must
// still evaluate without error, and every metric they read must exist: as series in Prometheus,
// or declared (# TYPE) by one of the scraped processes. Everything else must return at least one
// sample. Grafana's $__rate_interval is replaced by 5m, which spans the whole run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { which } from '../../ops/install.js';
import { OBSERVABILITY_DIR } from '../../ops/observability/build.js';
import { dashboardExpressions } from '../../ops/observability/dashboards.js';
import { metricNames, ruleExpressions } from '../../ops/observability/promql.js';
import { spawnStack, freePort, type SpawnedStack } from '../../benchmarks/lib/stack.js';
import { runBench } from '../../benchmarks/coordinator/bench.js';
import { loadProfile, type Profile } from '../../benchmarks/lib/profile.js';

/** Panel expressions allowed to be empty on a healthy run, and why. */
const MAY_BE_EMPTY: { match: RegExp; why: string }[] = [
  { match: /chorus_dead_lettered_total/, why: 'dead letters need an entry that fails CHORUS_MAX_DELIVERIES times' },
  { match: /chorus_notify_retries_total/, why: 'notification retries need a failing provider' },
  { match: /outcome=~"retry\|failed"/, why: 'processor retries need a failing batch' },
  { match: /chorus_presence_rebalance_suggested_total/, why: 'needs a presence shard skewed beyond 2x its median' },
  { match: /counter_reconcile_total/, why: 'unread-counter reconciliation runs on its own schedule, minutes apart' },
  { match: /chorus_presence_shard_load\{quantile="p50"\} > 0/, why: 'skew is undefined while the median shard is idle' },
];

/** The processes of a stack on `port`: the gateway, then the processor roles (ops/roles.ts). */
const JOBS = (port: number) => [
  ['chorus-gateway', port],
  ['chorus-processors', port + 110],
  ['chorus-attachments', port + 120],
  ['chorus-notifications', port + 130],
] as const;

const RULE_FILES = fs.readdirSync(path.join(OBSERVABILITY_DIR, 'rules')).filter((f) => f.endsWith('.yml'))
  .map((f) => path.join(OBSERVABILITY_DIR, 'rules', f));

let tmp = '';
let stack: SpawnedStack | undefined;
let prom: ChildProcess | undefined;
let promUrl = '';
const say: string[] = [];

interface PromResult { status: string; error?: string; data?: { resultType: string; result: unknown[] } }

async function promQuery(expr: string): Promise<PromResult> {
  const res = await fetch(`${promUrl}/api/v1/query`, {
    method: 'POST', body: new URLSearchParams({ query: expr }), signal: AbortSignal.timeout(10_000),
  });
  return (await res.json()) as PromResult;
}

async function promGet<T>(p: string): Promise<T> {
  const res = await fetch(`${promUrl}${p}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  assert.equal(body.status, 'success', `${p}: ${body.error}`);
  return body.data;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function prometheusConfig(port: number): string {
  const jobs = JOBS(port).map(([job, p]) => `  - job_name: ${job}\n    static_configs:\n      - targets: ['127.0.0.1:${p}']`);
  return [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s',
    'rule_files:', ...RULE_FILES.map((f) => `  - ${JSON.stringify(f)}`),
    'scrape_configs:', ...jobs, '',
  ].join('\n');
}

// --- the traffic the smoke profile does not make ---

async function api(method: string, p: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${stack!.url}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function token(tenantId: string, userId: string): Promise<string> {
  const r = await api('POST', '/dev/token', undefined, { tenantId, userId });
  assert.equal(r.status, 200);
  return r.json.token as string;
}

function openWs(tokenValue: string, lastSeq?: string): Promise<{ ws: WebSocket; frames: any[] }> {
  const url = `${stack!.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(tokenValue)}${lastSeq ? `&lastSeq=${lastSeq}` : ''}`;
  const ws = new WebSocket(url);
  const frames: any[] = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw));
      frames.push(f);
      // Ack what arrives, as a client would: the client ack latency histogram.
      if (f.seq && f.type === 'message.created') ws.send(JSON.stringify({ type: 'ack', data: { seq: f.seq } }));
      if (f.type === 'hello') resolve({ ws, frames });
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

/** Attachments (readiness SLI), a resume (replay cache), refusals (4xx, auth failures), sync. */
async function probeTraffic(): Promise<void> {
  const tenant = `obs${Date.now().toString(36)}`;
  const [alice, bob] = [await token(tenant, 'alice'), await token(tenant, 'bob')];
  const bobWs = await openWs(bob);
  const thread = await api('POST', '/api/threads', alice, { title: 'observability', participantIds: ['bob'] });
  assert.equal(thread.status, 201);
  const threadId = thread.json.thread.id as string;
  let firstSeq = '';
  for (let i = 0; i < 5; i++) {
    const m = await api('POST', '/api/messages', alice, { threadId, body: `probe ${i}` });
    assert.equal(m.status, 202);
    firstSeq ||= m.json.message.seq;
  }
  bobWs.ws.send(JSON.stringify({ type: 'typing', data: { threadId } }));
  await until('bob to receive the probe messages', async () => bobWs.frames.filter((f) => f.type === 'message.created').length >= 5, 20_000);
  bobWs.ws.close();
  const resumed = await openWs(bob, firstSeq);
  resumed.ws.close();

  assert.equal((await api('GET', '/api/inbox')).status, 401);
  await assert.rejects(openWs('not-a-token'), /401/);
  assert.equal((await api('GET', '/api/sync', bob)).status, 200);

  const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 80, b: 20 } } }).png().toBuffer();
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await api('POST', '/api/attachments', alice, { filename: `probe-${i}.png`, contentType: 'image/png', size: image.length });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const put = await fetch(c.json.upload.url, { method: 'PUT', headers: c.json.upload.headers ?? {}, body: image });
    assert.equal(put.status, 200);
    assert.equal((await api('POST', `/api/attachments/${c.json.attachment.id}/complete`, alice)).status, 202);
    ids.push(c.json.attachment.id as string);
  }
  for (const id of ids) {
    await until(`attachment ${id} ready`, async () => (await api('GET', `/api/attachments/${id}`, alice)).json?.attachment?.status === 'ready', 60_000);
  }
}

/** The smoke profile, smaller: 40 clients, about 330 messages in 33 s. */
function lightSmoke(): Profile {
  const smoke = loadProfile('smoke');
  return {
    ...smoke,
    name: 'smoke-observability',
    world: { ...smoke.world, users: 40, participantsPerThread: 5 },
    startConnections: 40,
    connectRatePerS: 40,
    stages: [
      { name: 'warmup', durationS: 3, messagesPerMin: 600, warmup: true },
      { name: 'measure', durationS: 30, messagesPerMin: 600 },
    ],
    drainS: 5,
  };
}

before(async () => {
  const promBin = which('prometheus');
  assert.ok(promBin, 'prometheus is missing: install Debian\'s prometheus package (node dist/ops/install.js as root)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-prom-'));
  stack = await spawnStack({ logDir: tmp });
  const port = Number(new URL(stack.url).port);
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  fs.writeFileSync(path.join(tmp, 'prometheus.yml'), prometheusConfig(port));
  const log = fs.openSync(path.join(tmp, 'prometheus.log'), 'a');
  prom = spawn(promBin, [
    `--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--storage.tsdb.retention.time=1h', '--log.level=warn',
  ], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  await until('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 30_000);
  await until('every target up', async () => {
    const t = await promGet<{ activeTargets: { health: string }[] }>('/api/v1/targets');
    return t.activeTargets.length === 4 && t.activeTargets.every((x) => x.health === 'up');
  }, 30_000);

  await probeTraffic();
  const outcome = await runBench({ profile: lightSmoke(), url: stack.url, outDir: path.join(tmp, 'bench'), workers: 1, say: (l) => say.push(l) });
  assert.ok(outcome.ok, `smoke thresholds: ${JSON.stringify(outcome.report.thresholds.filter((t) => !t.ok))}\n${say.slice(-10).join('\n')}`);
  // A few scrapes and rule evaluations after the last event.
  await new Promise((r) => setTimeout(r, 4000));
}, { timeout: 300_000 });

after(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (prom.exitCode === null) prom.kill('SIGKILL');
  }
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Metric names that exist: series in Prometheus, or families declared by a scraped process. */
async function knownMetrics(): Promise<Set<string>> {
  const known = new Set(await promGet<string[]>('/api/v1/label/__name__/values'));
  const port = Number(new URL(stack!.url).port);
  for (const [, p] of JOBS(port)) {
    const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      known.add(m[1] as string);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_count', '_sum']) known.add((m[1] as string) + s);
    }
  }
  return known;
}

test('Prometheus scrapes every process of the stack', async () => {
  const t = await promGet<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>('/api/v1/targets');
  assert.deepEqual(t.activeTargets.map((x) => x.labels.job).sort(), JOBS(0).map(([j]) => j).sort());
  for (const x of t.activeTargets) assert.equal(x.health, 'up', `${x.labels.job}: ${x.lastError}`);
});

test('Prometheus loads every rule and evaluates each without error', async () => {
  const data = await promGet<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
  const rules = data.groups.flatMap((g) => g.rules);
  const expected = RULE_FILES.flatMap((f) => ruleExpressions(fs.readFileSync(f, 'utf8')));
  assert.equal(rules.length, expected.length);
  const unhealthy = rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
  assert.deepEqual(unhealthy, []);
});

test('every dashboard panel query evaluates and returns data', async (t) => {
  const known = await knownMetrics();
  const failures: string[] = [];
  const empty: string[] = [];
  let withData = 0;
  let exprs = 0;
  for (const file of fs.readdirSync(path.join(OBSERVABILITY_DIR, 'dashboards'))) {
    for (const { panel, expr } of dashboardExpressions(fs.readFileSync(path.join(OBSERVABILITY_DIR, 'dashboards', file), 'utf8'))) {
      exprs++;
      const q = expr.replaceAll('$__rate_interval', '5m');
      const r = await promQuery(q);
      if (r.status !== 'success') {
        failures.push(`${file} / ${panel}: ${r.error}`);
        continue;
      }
      if (r.data!.result.length) {
        withData++;
        continue;
      }
      const allowed = MAY_BE_EMPTY.find((a) => a.match.test(expr));
      if (!allowed) {
        failures.push(`${file} / ${panel}: no data for ${q}`);
        continue;
      }
      empty.push(`${file} / ${panel}: ${allowed.why}`);
      for (const n of metricNames(expr)) if (!known.has(n)) failures.push(`${file} / ${panel}: reads ${n}, which no process exposes`);
    }
  }
  t.diagnostic(`${withData} of ${exprs} panel queries returned data; empty as allowed: ${empty.join('; ') || 'none'}`);
  assert.deepEqual(failures, []);
});

test('every recording rule returns data; every alert condition evaluates over series that exist', async () => {
  const known = await knownMetrics();
  const failures: string[] = [];
  for (const file of RULE_FILES) {
    const yaml = fs.readFileSync(file, 'utf8');
    const alerts = new Set([...yaml.matchAll(/- alert: (\S+)/g)].map((m) => m[1] as string));
    for (const { name, expr } of ruleExpressions(yaml)) {
      const r = await promQuery(expr);
      if (r.status !== 'success') {
        failures.push(`${name}: ${r.error}`);
        continue;
      }
      if (alerts.has(name)) {
        // Healthy run: the condition is (normally) empty; what it compares must be there.
        for (const n of metricNames(expr)) if (!known.has(n)) failures.push(`${name}: reads ${n}, which does not exist`);
      } else if (!r.data!.result.length) {
        failures.push(`${name}: recording rule returned no data`);
      } else {
        // The recorded series itself, as Prometheus stored it from its own evaluations.
        const stored = await promQuery(name);
        if (!stored.data?.result.length) failures.push(`${name}: not stored by the rule evaluations`);
      }
    }
  }
  assert.deepEqual(failures, []);
});
