// Read-model benchmark: GET /api/inbox and GET /api/threads/:id/messages at a fixed arrival rate
// against a tenant of 1M messages across 10k threads and 1k users (5 participants per thread, so
// ~50 threads per user). Target: p99 < 20 ms at 200 req/s each.
//
//   node dist/benchmarks/read-models/inbox-timeline.js [--rate 200] [--duration 20] [--messages 1000000] [--url URL]
//
// Uses the configuration of the environment (CHORUS_DATA_DIR / DATABASE_URL / REDIS_URL). The tenant
// is seeded once, directly in Postgres (the tables the two reads use: messages for the timeline;
// thread_user_counters and thread_inbox_projection for the inbox) and Redis (thread hashes and member
// sets, which the timeline's participation check reads), then reused by later runs. A gateway is
// started as a child process so that autocannon does not share its event loop. Results go to
// benchmarks/results/read-models-<timestamp>.json and .md.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../../config/index.js';
import { createSql, withTenant } from '../../core/db.js';
import { createRedis } from '../../core/redis.js';
import { createAuthenticator } from '../../core/auth.js';
import { keys } from '../../core/keys.js';
import { OpenLoop } from '../generator/open-loop.js';
import { nowUs } from '../lib/clock.js';
import { newHistogram, recordUs, summarize } from '../lib/histogram.js';
import { HttpClient } from '../lib/http-client.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '20' },
    messages: { type: 'string', default: '1000000' },
    threads: { type: 'string', default: '10000' },
    users: { type: 'string', default: '1000' },
    // autocannon's limiter sends each connection's per-second quota back to back at the top of each
    // second, so `connections` is the burst concurrency, not a client count. 4 is 10x what a uniform
    // 200 req/s arrival at ~2 ms needs (Little's law: 200/s x 0.002 s = 0.4 in flight); the burst
    // run at 20 shows what a synchronized burst costs, and is reported, not judged.
    connections: { type: 'string', default: '4' },
    'burst-connections': { type: 'string', default: '20' },
    // An already running gateway (e.g. npm start's, or one started with --cpu-prof) instead of a child.
    url: { type: 'string' },
  },
});
const RATE = Number(values.rate);
const DURATION = Number(values.duration);
const MESSAGES = Number(values.messages);
const THREADS = Number(values.threads);
const USERS = Number(values.users);
const PER_THREAD = 5;
const TENANT = `bench_rm_${MESSAGES}_${THREADS}_${USERS}`;
const T0 = 1_750_000_000_000;

const say = (s: string) => process.stdout.write(`${s}\n`);
const config = loadConfig();

/** The participants of thread t: PER_THREAD users spread over the user space. */
const member = (t: number, k: number) => `u${(t * 7 + k * 131) % USERS}`;

async function seed(): Promise<void> {
  const sql = createSql(config, { max: 2, app: 'bench-read-models' });
  const redis = createRedis(config, { name: 'bench-read-models' });
  try {
    const rows = await withTenant(sql, TENANT, (tx) => tx<{ n: number }[]>`select count(*)::int as n from messages where tenant_id = ${TENANT}`);
    const n = rows[0]?.n ?? 0;
    if (n === MESSAGES) {
      say(`tenant ${TENANT} already seeded (${n} messages)`);
    } else {
      const started = Date.now();
      say(`seeding ${TENANT}: ${MESSAGES} messages, ${THREADS} threads, ${USERS} users…`);
      await withTenant(sql, TENANT, async (tx) => {
        for (const table of ['messages', 'threads', 'thread_participants', 'thread_user_counters', 'thread_inbox_projection']) {
          await tx`delete from ${tx(table)} where tenant_id = ${TENANT}`;
        }
        await tx`
          insert into threads (tenant_id, id, title, created_by, created_at, seq_key)
          select ${TENANT}, 'th_' || t, 'thread ' || t, 'u0', to_timestamp(${T0 / 1000}::float8 + t / 1000.0),
            lpad((${T0}::bigint + t)::text, 15, '0') || '-' || lpad('0', 19, '0')
          from generate_series(0, ${THREADS - 1}) as t`;
        await tx`
          insert into thread_participants (tenant_id, thread_id, user_id, joined_at, seq_key)
          select distinct on (t, u) ${TENANT}, 'th_' || t, 'u' || u, now(), '0'
          from (select t, (t * 7 + k * 131) % ${USERS} as u from generate_series(0, ${THREADS - 1}) as t, generate_series(0, ${PER_THREAD - 1}) as k) as x`;
        // Message i is in thread i % THREADS, sent by participant (i / THREADS) % PER_THREAD of it.
        await tx`
          insert into messages (tenant_id, id, thread_id, sender_id, body, created_at, seq, body_seq_key)
          select ${TENANT}, 'm_' || i, 'th_' || (i % ${THREADS}), 'u' || (((i % ${THREADS}) * 7 + ((i / ${THREADS}) % ${PER_THREAD}) * 131) % ${USERS}),
            'message number ' || i || ' with a body of a realistic length for a chat line, give or take',
            to_timestamp((${T0}::bigint + ${THREADS}::int + i) / 1000.0), (${T0}::bigint + ${THREADS}::int + i) || '-0',
            lpad((${T0}::bigint + ${THREADS}::int + i)::text, 15, '0') || '-' || lpad('0', 19, '0')
          from generate_series(0, ${MESSAGES - 1}) as i`;
        await tx`
          insert into thread_inbox_projection (tenant_id, thread_id, title, created_at, created_key, last_message_id,
            last_message_at, last_sender_id, last_preview_text, attachment_flag, last_seq_key)
          select ${TENANT}, m.thread_id, 'thread ' || substr(m.thread_id, 4), null, null, m.id, m.created_at, m.sender_id, m.body, false, m.body_seq_key
          from (select distinct on (thread_id) thread_id, id, created_at, sender_id, body, body_seq_key
                from messages where tenant_id = ${TENANT} order by thread_id, created_at desc) as m`;
        await tx`
          insert into thread_user_counters (tenant_id, thread_id, user_id, unread_count, activity_key)
          select ${TENANT}, p.thread_id, p.user_id, (hashtext(p.thread_id || p.user_id) & 31), coalesce(i.last_seq_key, '')
          from thread_participants p left join thread_inbox_projection i on i.tenant_id = p.tenant_id and i.thread_id = p.thread_id
          where p.tenant_id = ${TENANT}`;
      });
      for (const table of ['messages', 'threads', 'thread_participants', 'thread_user_counters', 'thread_inbox_projection']) {
        await sql`analyze ${sql(table)}`;
      }
      say(`seeded Postgres in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    const p = redis.pipeline();
    for (let t = 0; t < THREADS; t++) {
      p.hset(keys.thread(TENANT, `th_${t}`), 'id', `th_${t}`, 'title', `thread ${t}`, 'createdAt', new Date(T0 + t).toISOString(), 'createdBy', 'u0', 'seq', `${T0 + t}-0`);
      p.sadd(keys.threadMembers(TENANT, `th_${t}`), ...Array.from({ length: PER_THREAD }, (_, k) => member(t, k)));
    }
    await p.exec();
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startGateway(port: number): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/gateway/main.js')], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
}

interface Run {
  name: string;
  /** autocannon (its per-second bursts, `connections` concurrent) or paced (uniform open loop). */
  method: string;
  judged: boolean;
  rate: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  non2xx: number;
  errors: number;
}

type Pick = () => { path: string; token: string };

async function run(name: string, url: string, pick: Pick, connections = Number(values.connections), judged = true): Promise<Run> {
  const r = await autocannon({
    url, connections, duration: DURATION, overallRate: RATE, timeout: 10,
    requests: [{
      method: 'GET',
      setupRequest: (req) => {
        const p = pick();
        return { ...req, path: p.path, headers: { authorization: `Bearer ${p.token}` } };
      },
    }],
  });
  return {
    name, method: `autocannon, ${connections} connections`, judged, rate: RATE, requests: r.requests.total, rps: r.requests.mean,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max, mean: r.latency.mean },
    non2xx: r.non2xx, errors: r.errors,
  };
}

/**
 * The same rate as a uniform open loop (k6 constant-arrival-rate): request i is due at start + i/rate
 * whatever happened to the others, and its latency counts from that intended time, so a stall of
 * the server (or of this process) shows in full instead of delaying the later sends.
 */
async function paced(name: string, url: string, pick: Pick): Promise<Run> {
  const client = new HttpClient({ baseUrl: url, maxSockets: 64 });
  const h = newHistogram();
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  const startUs = nowUs() + 50_000;
  const endUs = startUs + DURATION * 1e6;
  await new Promise<void>((resolve) => {
    const loop = new OpenLoop(startUs, endUs, RATE, 0, 1, (intendedUs) => {
      const p = pick();
      inFlight++;
      void client.request('GET', p.path, undefined, p.token).then((r) => {
        recordUs(h, nowUs() - intendedUs);
        if (r.status === 0) errors++;
        else if (r.status < 200 || r.status > 299) non2xx++;
        inFlight--;
      });
    }).start();
    setTimeout(() => {
      loop.stop();
      const t = setInterval(() => {
        if (inFlight === 0) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    }, (endUs - nowUs()) / 1000 + 10);
  });
  client.close();
  const s = summarize(h);
  return {
    name, method: 'paced open loop (uniform arrivals, latency from intended send)', judged: true, rate: RATE,
    requests: s.count, rps: Math.round((s.count / DURATION) * 100) / 100,
    latencyMs: { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max, mean: s.mean },
    non2xx, errors,
  };
}

async function main(): Promise<void> {
  await seed();
  const auth = await createAuthenticator(config);
  const tokens = await Promise.all(Array.from({ length: USERS }, (_, u) => auth.sign({ tenantId: TENANT, userId: `u${u}`, ttlSeconds: 3600 })));
  let url = values.url;
  let stop = async (): Promise<void> => undefined;
  if (url === undefined) {
    const port = await freePort();
    stop = await startGateway(port);
    url = `http://127.0.0.1:${port}`;
  }
  const rnd = (n: number) => Math.floor(Math.random() * n);
  const runs: Run[] = [];
  try {
    // Warm-up: connections, prepared statements, caches.
    const inbox: Pick = () => ({ path: '/api/inbox', token: tokens[rnd(USERS)]! });
    const timeline: Pick = () => {
      const t = rnd(THREADS);
      const u = Number(member(t, rnd(PER_THREAD)).slice(1));
      return { path: `/api/threads/th_${t}/messages`, token: tokens[u]! };
    };
    await run('warmup', url, inbox);
    for (const [name, pick] of [['inbox', inbox], ['timeline', timeline]] as const) {
      runs.push(await run(name, url, pick));
      runs.push(await paced(name, url, pick));
      runs.push(await run(name, url, pick, Number(values['burst-connections']), false));
    }
  } finally {
    await stop();
  }
  const at = new Date();
  const report = {
    schema: 'chorus-bench-read-models/1', at: at.toISOString(), node: process.version, cores: os.cpus().length, loadavg: os.loadavg(),
    dataset: { tenant: TENANT, messages: MESSAGES, threads: THREADS, users: USERS, participantsPerThread: PER_THREAD },
    target: { rate: RATE, durationS: DURATION, p99Ms: 20 },
    runs,
    ok: runs.every((r) => (!r.judged || r.latencyMs.p99 < 20) && r.non2xx === 0 && r.errors === 0),
  };
  const text = [
    `# Read models: GET /api/inbox and timeline — ${report.ok ? 'PASS' : 'FAIL'} (p99 < 20 ms at ${RATE} req/s)`, '',
    `${MESSAGES} messages, ${THREADS} threads, ${USERS} users (${PER_THREAD} per thread); ${RATE} req/s for ${DURATION} s per run;`,
    `${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${at.toISOString()}. Runs marked "reported" are not judged`,
    `(autocannon's synchronized per-second burst at ${values['burst-connections']} concurrent requests).`, '',
    '| endpoint | method | judged | requests | req/s | p50 ms | p90 | p99 | p99.9 | max | non-2xx | errors |', '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.name} | ${r.method} | ${r.judged ? 'yes' : 'reported'} | ${r.requests} | ${r.rps} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.p999} | ${r.latencyMs.max} | ${r.non2xx} | ${r.errors} |`),
    '',
  ].join('\n');
  const dir = path.join(ROOT, 'benchmarks/results');
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `read-models-${at.toISOString().replace(/[:.]/g, '-')}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 1) + '\n');
  fs.writeFileSync(`${base}.md`, text);
  say(text);
  say(`written: ${base}.json, ${base}.md`);
  process.exitCode = report.ok ? 0 : 1;
}

await main();
