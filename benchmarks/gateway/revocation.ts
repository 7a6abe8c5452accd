// Revocation latency: time from the 204 of DELETE /api/threads/:id/participants/:user to the
// removed user's socket receiving permission.revoked, with several gateways on one port (the
// socket and the HTTP request land on gateways chosen by the kernel). Fixed parameters:
// 200 trials, one fresh thread each. Usage (Chorus running, e.g. CHORUS_GATEWAYS=2 npm start):
//   node dist/benchmarks/gateway/revocation.js [--url http://127.0.0.1:8080] [--trials 200]
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import hdr from 'hdr-histogram-js';

const { values } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:8080' }, trials: { type: 'string', default: '200' } } });
const base = values.url as string;
const trials = Number(values.trials);
const tenant = `revoke${Date.now().toString(36)}`;

async function post(path: string, token: string | null, body: unknown, method = 'POST'): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const token = async (userId: string) => (await post('/dev/token', null, { tenantId: tenant, userId })).json.token as string;
const admin = await token('owner');
const victim = await token('victim');
const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${victim}`);
const waiting = new Map<string, (at: number) => void>();
ws.on('message', (raw) => {
  const f = JSON.parse(String(raw)) as { type: string; data: { threadId?: string } };
  if (f.type === 'permission.revoked' && f.data.threadId) waiting.get(f.data.threadId)?.(performance.now());
});
await new Promise((resolve) => ws.once('message', resolve)); // hello

for (let i = 0; i < trials; i++) {
  const th = (await post('/api/threads', admin, { participantIds: ['victim'] })).json.thread.id as string;
  const got = new Promise<number>((resolve) => waiting.set(th, resolve));
  await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  const res = await fetch(`${base}/api/threads/${th}/participants/victim`, { method: 'DELETE', headers: { authorization: `Bearer ${victim}` } });
  if (res.status !== 204) throw new Error(`remove answered ${res.status}`);
  const at = await Promise.race([got, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no permission.revoked within 5 s')), 5000))]);
  hist.recordValue(Math.max(1, Math.round((at - t0) * 1000)));
  waiting.delete(th);
}
ws.close();
const ms = (p: number) => (hist.getValueAtPercentile(p) / 1000).toFixed(1);
process.stdout.write(`revocation (DELETE participant -> permission.revoked), ${trials} trials: p50 ${ms(50)} ms, p95 ${ms(95)} ms, p99 ${ms(99)} ms, max ${(hist.maxValue / 1000).toFixed(1)} ms\n`);
