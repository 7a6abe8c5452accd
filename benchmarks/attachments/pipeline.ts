// Attachment pipeline benchmark. (1) End to end: `--uploads` (50) concurrent uploads of distinct
// ~2 MB PNGs by one user (create → PUT → complete), measuring complete-202 → attachment.ready frame
// on the uploader's websocket (the seed's readiness SLI: p95 ≤ 45 s). (2) Stage throughput on the
// same files, without the stream: thumbnails/s on one thumbnail thread (= per core) and scans/s
// through the scan pool (clamd INSTREAM).
//
//   node dist/benchmarks/attachments/pipeline.js [--uploads 50] [--size-kb 2048] [--samples 40]
//
// Uses the environment's configuration (CHORUS_DATA_DIR…) and its running services (Redis,
// Postgres, clamd: `npm run chorus -- services up`). Starts a gateway and the three stage
// processors as child processes. Results: benchmarks/results/attachments-<timestamp>.json.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import { loadConfig } from '../../config/index.js';
import { createAuthenticator } from '../../core/auth.js';
import { LocalStore } from '../../workers/storage/local-store.js';
import { quarantineKey } from '../../workers/storage/store.js';
import { createScanPool, createThumbnailPool } from '../../workers/pools.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '50' },
    'size-kb': { type: 'string', default: '2048' },
    samples: { type: 'string', default: '40' },
  },
});
const UPLOADS = Number(values.uploads);
const SIZE = Number(values['size-kb']) * 1024;
const SAMPLES = Number(values.samples);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function request(method: string, url: string, o: { token?: string; json?: unknown; body?: Buffer; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const body = o.json !== undefined ? Buffer.from(JSON.stringify(o.json)) : o.body;
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers['authorization'] = `Bearer ${o.token}`;
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    if (body) headers['content-length'] = String(body.length);
    const req = http.request(url, { method, headers }, (res) => {
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

/** A PNG of random pixels of about `bytes` (noise does not compress). */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  return sharp(crypto.randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), p99: pct(s, 99), max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

function role(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'dist', script), ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' };
  const config = loadConfig(env);
  const base = `http://127.0.0.1:${port}`;
  const children = [
    role('gateway/main.js', [], env),
    ...['attachment-scan', 'attachment-validate', 'attachment-thumbnail'].map((g) => role('processors/main.js', [g, '--consumers', '1'], env)),
  ];
  const stopAll = () => children.forEach((c) => c.kill('SIGTERM'));
  process.on('exit', stopAll);
  try {
    for (let i = 0; ; i++) {
      if ((await request('GET', `${base}/healthz`).catch(() => ({ status: 0 }))).status === 200) break;
      if (i > 100) throw new Error('gateway did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500)); // the processors' tenant discovery
    const auth = await createAuthenticator(config);
    const tenant = `bench_att_${Date.now().toString(36)}`;
    const token = await auth.sign({ tenantId: tenant, userId: 'uploader' });
    process.stderr.write(`making ${UPLOADS} PNGs of ~${SIZE >> 10} KiB\n`);
    const files = await Promise.all(Array.from({ length: UPLOADS }, () => noisePng(SIZE)));

    const readyAt = new Map<string, number>();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { type: string; data: { id: string } };
      if (f.type === 'attachment.ready' || f.type === 'attachment.rejected') readyAt.set(f.data.id, performance.now());
    });

    const t0 = performance.now();
    const completedAt = new Map<string, number>();
    await Promise.all(files.map(async (bytes, i) => {
      const c = await request('POST', `${base}/api/attachments`, { token, json: { filename: `b${i}.png`, contentType: 'image/png', size: bytes.length } });
      if (c.status !== 201) throw new Error(`create ${c.status} ${JSON.stringify(c.json)}`);
      const put = await request('PUT', c.json.upload.url, { body: bytes, headers: c.json.upload.headers });
      if (put.status !== 200) throw new Error(`put ${put.status}`);
      const done = await request('POST', `${base}/api/attachments/${c.json.attachment.id}/complete`, { token });
      if (done.status !== 202) throw new Error(`complete ${done.status}`);
      completedAt.set(c.json.attachment.id, performance.now());
    }));
    const uploadedMs = performance.now() - t0;
    const deadline = Date.now() + 180_000;
    while (readyAt.size < completedAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const wallMs = performance.now() - t0;
    ws.close();
    const latencies = [...completedAt].filter(([id]) => readyAt.has(id)).map(([id, at]) => (readyAt.get(id) as number) - at);
    const endToEnd = { uploads: UPLOADS, bytesEach: files[0]?.length, uploadPhaseMs: uploadedMs, wallMs, settled: readyAt.size, completeToReadyMs: summary(latencies) };
    process.stderr.write(`end to end: ${JSON.stringify(endToEnd)}\n`);
    stopAll();

    // Stage throughput, straight on the pools (no stream, no database).
    const storage = config.attachments.storage;
    const store = new LocalStore({ dir: storage.localDir, publicUrl: storage.publicUrl, urlSecret: storage.urlSecret });
    const benchTenant = `${tenant}_pools`;
    const keys = [];
    for (let i = 0; i < Math.min(SAMPLES, files.length); i++) {
      const key = quarantineKey(benchTenant, `bench_${i}`);
      const u = await store.beginUpload(key);
      u.write(files[i] as Buffer);
      await u.commit();
      keys.push(key);
    }
    const oneThread = createThumbnailPool({ ...config.attachments, thumbnails: { ...config.attachments.thumbnails, threads: 1 } });
    await oneThread.run(keys[0]!); // warm the thread (sharp load)
    let t = performance.now();
    for (const k of keys) await oneThread.run(k);
    const thumbsPerS = keys.length / ((performance.now() - t) / 1000);
    await oneThread.close();
    const scans = createScanPool(config.attachments);
    await scans.run(keys[0]!);
    t = performance.now();
    const results = await Promise.all(keys.map((k) => scans.run(k)));
    const scansPerS = keys.length / ((performance.now() - t) / 1000);
    await scans.close();
    for (const k of keys) await store.remove(k);
    const stages = {
      samples: keys.length, thumbnailsPerSecondOneThread: thumbsPerS, scansPerSecond: scansPerS, scanThreads: config.attachments.scanThreads,
      scanOutcomes: [...new Set(results.map((r) => r.outcome))], cpus: os.cpus().length,
    };
    process.stderr.write(`stages: ${JSON.stringify(stages)}\n`);
    const out = path.join(ROOT, 'benchmarks', 'results', `attachments-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({ endToEnd, stages, at: new Date().toISOString(), host: os.hostname() }, null, 2));
    process.stdout.write(`${out}\n`);
  } finally {
    stopAll();
  }
}

await main();
