// Notification dispatch benchmark (seed 6.1 burst: "5k message notifications in 30s"; SLI of seed 9:
// enqueue → provider handoff p95 ≤ 30 s). `--pairs` direct threads (sender → recipient with email
// and push on) send `--messages` messages in total, paced evenly over `--seconds`: every message is
// an urgent notification on all three channels. Measured per message, from its acceptance (the 202's
// createdAt, which precedes the enqueue) to:
//   in-app: the notification.created entry on the tenant stream (its Redis time);
//   email / push: the moment the local sink stored it (the provider handoff).
// Scenario `normal`: sinks answer at once. Scenario `slow-email`: the SMTP sink answers each mail
// after --slow-ms (5 s): in-app and push must not move; email backs up (not waited for).
//
//   node dist/benchmarks/notifications/dispatch.js [--scenario normal|slow-email|both] [--pairs 250]
//        [--messages 5000] [--seconds 30] [--slow-ms 5000]
//
// Uses the environment's configuration (CHORUS_DATA_DIR…) and its running Redis and Postgres;
// starts the sinks if they do not run, a gateway and the `notifications` role (the four notify
// groups in one process, as ops/roles.ts) as child processes. Results: benchmarks/results/notifications-<timestamp>.json.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../config/index.js';
import { createAuthenticator } from '../../core/auth.js';
import { createLogger } from '../../core/logger.js';
import { createRedis } from '../../core/redis.js';
import { keys } from '../../core/keys.js';
import { seqMillis, type Seq } from '../../core/seq.js';
import { startLocalSmtpSink } from '../../ops/local-smtp-sink.js';
import { startLocalPushSink } from '../../ops/local-push-sink.js';
import { readJsonl, sinkFiles, writeSinkControl } from '../../ops/notify-sinks.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'both' },
    pairs: { type: 'string', default: '250' },
    messages: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    'slow-ms': { type: 'string', default: '5000' },
  },
});
const PAIRS = Number(values.pairs);
const MESSAGES = Number(values.messages);
const SECONDS = Number(values.seconds);
const SLOW_MS = Number(values['slow-ms']);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function request(method: string, url: string, token: string, json?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(body.length) });
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: text && /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : undefined });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), p99: pct(s, 99), max: s.at(-1) ?? NaN };
}

function role(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'dist', script), ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(scenario: 'normal' | 'slow-email', config: Config, base: string): Promise<Record<string, unknown>> {
  const auth = await createAuthenticator(config);
  const tenant = `bench_ntf_${scenario.replace('-', '')}_${Date.now().toString(36)}`;
  writeSinkControl(config, 'smtp-sink', scenario === 'slow-email' ? { tenant, delayMs: SLOW_MS } : {});
  const pairs = await Promise.all(Array.from({ length: PAIRS }, async (_, i) => {
    const sender = await auth.sign({ tenantId: tenant, userId: `s${i}` });
    const recipient = await auth.sign({ tenantId: tenant, userId: `r${i}` });
    const p = await request('PUT', `${base}/api/notification-preferences`, recipient, {
      channels: { inApp: true, email: true, push: true }, email: `r${i}@example.test`, pushEndpoint: `https://push.example.test/r${i}`,
    });
    if (p.status !== 200) throw new Error(`prefs ${p.status}`);
    const th = await request('POST', `${base}/api/threads`, sender, { participantIds: [`r${i}`] });
    if (th.status !== 201) throw new Error(`thread ${th.status} ${JSON.stringify(th.json)}`);
    return { sender, threadId: th.json.thread.id as string };
  }));
  await sleep(2500); // the notify groups discover the new tenant

  const accepted = new Map<string, number>();
  const t0 = Date.now();
  const gap = (SECONDS * 1000) / MESSAGES;
  let failures = 0;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const due = t0 + i * gap;
    if (due > Date.now()) await sleep(due - Date.now());
    const pair = pairs[i % PAIRS]!;
    sends.push(request('POST', `${base}/api/messages`, pair.sender, { threadId: pair.threadId, body: `message ${i}` }).then((r) => {
      if (r.status !== 202) failures++;
      else accepted.set(r.json.message.id as string, Date.parse(r.json.message.createdAt as string));
    }));
  }
  await Promise.all(sends);
  const sendSeconds = (Date.now() - t0) / 1000;
  process.stderr.write(`${scenario}: ${accepted.size} accepted in ${sendSeconds.toFixed(1)} s (${failures} failed)\n`);

  const redis = createRedis(config, { name: 'bench' });
  const inApp = new Map<string, number>();
  const email = new Map<string, number>();
  const push = new Map<string, number>();
  const collect = async () => {
    const entries = (await redis.xrange(keys.events(tenant), '-', '+')) as [string, string[]][];
    for (const [id, f] of entries) {
      const t = f[f.indexOf('t') + 1];
      if (t !== 'notification.created') continue;
      const d = JSON.parse(f[f.indexOf('d') + 1] as string) as { messageId: string };
      inApp.set(d.messageId, seqMillis(id as Seq));
    }
    for (const m of readJsonl<{ tenant: string; at: string; headers: Record<string, string> }>(sinkFiles(config, 'smtp-sink').stored)) {
      if (m.tenant === tenant && m.headers['x-chorus-message']) email.set(m.headers['x-chorus-message'], Date.parse(m.at));
    }
    for (const p of readJsonl<{ tenant: string; at: string; data: Record<string, string> }>(sinkFiles(config, 'push-sink').stored)) {
      if (p.tenant === tenant && p.data['Message']) push.set(p.data['Message'], Date.parse(p.at));
    }
  };
  const waitEmail = scenario === 'normal';
  const deadline = Date.now() + 180_000;
  for (;;) {
    await collect();
    const done = inApp.size >= accepted.size && push.size >= accepted.size && (!waitEmail || email.size >= accepted.size);
    if (done || Date.now() > deadline) break;
    await sleep(1000);
  }
  if (scenario === 'slow-email') {
    // The email backlog is the point of this scenario, not something to deliver afterwards.
    await redis.del(keys.notifyQueue(tenant, 'email'), keys.notifyDelayed(tenant, 'email'));
  }
  redis.disconnect();
  const lat = (m: Map<string, number>) => summary([...accepted].filter(([id]) => m.has(id)).map(([id, at]) => (m.get(id) as number) - at));
  const result = {
    scenario, tenant, messages: MESSAGES, pairs: PAIRS, sendSeconds, accepted: accepted.size, failures,
    slowEmailMs: scenario === 'slow-email' ? SLOW_MS : 0,
    inAppMs: lat(inApp), pushMs: lat(push), emailMs: lat(email),
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
  writeSinkControl(config, 'smtp-sink', {});
  return result;
}

async function main(): Promise<void> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), LOG_LEVEL: 'warn',
    // The senders are the load generator: per-user limits would only measure the rate limiter.
    CHORUS_RATE_MSG_USER_PER_S: '0', CHORUS_RATE_MSG_TENANT_PER_S: '0',
  };
  const config = loadConfig(env);
  const log = createLogger({ role: 'bench', level: 'warn' });
  const sinks = [await startLocalSmtpSink(config, log), await startLocalPushSink(config, log)];
  const children = [role('gateway/main.js', [], env), role('processors/main.js', ['notify-intents,notify-inapp,notify-email,notify-push', '--consumers', '1'], env)];
  const stopAll = () => children.forEach((c) => c.kill('SIGTERM'));
  process.on('exit', stopAll);
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if ((await request('GET', `${base}/healthz`, '').catch(() => ({ status: 0 }))).status === 200) break;
      if (i > 100) throw new Error('gateway did not start');
      await sleep(100);
    }
    const results = [];
    if (values.scenario !== 'slow-email') results.push(await run('normal', config, base));
    if (values.scenario !== 'normal') results.push(await run('slow-email', config, base));
    const out = path.join(ROOT, 'benchmarks', 'results', `notifications-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), config: { notify: { ...config.notify, email: { ...config.notify.email, callbackSecret: undefined }, push: { ...config.notify.push, callbackSecret: undefined } } }, results }, null, 2));
    process.stderr.write(`results: ${out}\n`);
  } finally {
    stopAll();
    await sleep(1000);
    for (const s of sinks) if (!s.reused) await s.stop();
    agent.destroy();
  }
}

await main();
