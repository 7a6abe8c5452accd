// Projection lag at a fixed message rate (issue "Read models": p99 under 250 ms at 500 messages/s).
// Sends open-loop at --rate for --duration seconds to a running Chorus, then reads the processors'
// own histogram chorus_processor_event_age_seconds (stream append → the group acked the entry) for
// the counters and inbox groups from their /metrics endpoint, as deltas over the run.
//   CHORUS_RATE_MSG_USER_PER_S=0 CHORUS_RATE_MSG_TENANT_PER_S=0 npm start   # limits off for the load
//   node dist/benchmarks/read-models/projection-lag.js --url http://127.0.0.1:8080 --metrics http://127.0.0.1:8110
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    metrics: { type: 'string', default: 'http://127.0.0.1:8110' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    threads: { type: 'string', default: '100' },
  },
});
const base = values.url as string;
const rate = Number(values.rate);
const duration = Number(values.duration);
const tenant = `lag${Date.now().toString(36)}`;

async function call(method: string, path: string, token: string | null, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

type Buckets = Map<string, Map<number, number>>;
async function scrape(): Promise<Buckets> {
  const text = await (await fetch(`${values.metrics}/metrics`)).text();
  const out: Buckets = new Map();
  const re = /^chorus_processor_event_age_seconds_bucket\{le="([^"]+)",queue="([^"]+)"\} (\d+)/gm;
  for (const m of text.matchAll(re)) {
    const [, le, queue, n] = m as unknown as [string, string, string, string];
    if (!out.has(queue)) out.set(queue, new Map());
    out.get(queue)!.set(le === '+Inf' ? Infinity : Number(le), Number(n));
  }
  return out;
}

const users = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await call('POST', '/dev/token', null, { tenantId: tenant, userId: `u${i}` })).token as string));
const threads: { id: string; token: string }[] = [];
for (let i = 0; i < Number(values.threads); i++) {
  const owner = users[i % users.length]!;
  const th = await call('POST', '/api/threads', owner, { participantIds: [`u${(i + 1) % users.length}`, `u${(i + 2) % users.length}`, `u${(i + 3) % users.length}`] });
  threads.push({ id: th.thread.id, token: owner });
}
await new Promise((r) => setTimeout(r, 2000));
const before = await scrape();

let sent = 0;
let failed = 0;
const started = performance.now();
const total = rate * duration;
const inflight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const th = threads[i % threads.length]!;
  inflight.push(call('POST', '/api/messages', th.token, { threadId: th.id, body: `lag ${i}` }).then(() => { sent++; }, () => { failed++; }));
}
await Promise.all(inflight);
const took = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 3000));
const after = await scrape();

process.stdout.write(`sent ${sent} (${failed} failed) in ${took.toFixed(1)} s = ${(sent / took).toFixed(0)} msg/s to ${threads.length} threads\n`);
for (const queue of ['projector', 'counters', 'inbox', 'persist', 'receipts']) {
  const a = after.get(queue);
  const b = before.get(queue) ?? new Map<number, number>();
  if (!a) continue;
  const les = [...a.keys()].sort((x, y) => x - y);
  const count = (a.get(Infinity) ?? 0) - (b.get(Infinity) ?? 0);
  const within = (le: number) => ((a.get(le) ?? 0) - (b.get(le) ?? 0)) / Math.max(1, count);
  const p99le = les.find((le) => within(le) >= 0.99);
  process.stdout.write(`${queue}: ${count} entries acked; ≤100 ms ${(within(0.1) * 100).toFixed(1)}%, ≤250 ms ${(within(0.25) * 100).toFixed(1)}%, ` +
    `≤500 ms ${(within(0.5) * 100).toFixed(1)}%; p99 ≤ ${p99le === Infinity ? '>10 s' : `${(p99le ?? NaN) * 1000} ms`} (histogram bucket bound)\n`);
}
