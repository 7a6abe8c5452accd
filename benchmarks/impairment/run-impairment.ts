// `npm run bench -- impairment`: seed 6.1 #5. A private Redis (appendfsync always, as Chorus's own),
// the latency proxy in front of it (proxy.ts, its own process), and a private Chorus (--spawn stack)
// whose REDIS_URL points at the proxy — the stack then starts no Redis of its own but still its
// Postgres and notification sinks — whose sinks are told to answer late (control.json). Then the
// `impairment` profile with the seed 6.2 thresholds.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runBench, type BenchOutcome } from '../coordinator/bench.js';
import { startTempRedis } from '../lib/redis-server.js';
import { onInterrupt } from '../lib/cleanup.js';
import type { SpawnedStack } from '../lib/stack.js';

const PROXY_SCRIPT = fileURLToPath(new URL('./proxy.js', import.meta.url));

export interface ImpairmentOptions {
  scale: number;
  outDir: string;
  delayMs: number;
  jitterMs: number;
  /** The local SMTP and push sinks answer this late (0: not slowed). */
  sinkDelayMs: number;
  workers?: number;
  baseline?: string;
  say: (line: string) => void;
}

function startProxyProcess(target: number, delayMs: number, jitterMs: number): Promise<{ child: ChildProcess; port: number; stats: Promise<string> }> {
  const child = spawn(process.execPath, [PROXY_SCRIPT, '--listen', '0', '--target', `127.0.0.1:${target}`, '--delay-ms', String(delayMs), '--jitter-ms', String(jitterMs)], {
    stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let statsLine: (s: string) => void = () => {};
  const stats = new Promise<string>((resolve) => (statsLine = resolve));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('latency proxy did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`latency proxy exited (${code})`)));
    lines.on('line', (l) => {
      const m = /^listening (\d+)/.exec(l);
      if (m) {
        clearTimeout(t);
        resolve({ child, port: Number(m[1]), stats });
      } else if (l.startsWith('stats ')) statsLine(l.slice(6));
    });
  });
}

function slowSinks(stack: SpawnedStack, delayMs: number): string[] {
  const slowed: string[] = [];
  for (const sink of ['smtp-sink', 'push-sink']) {
    const dir = path.join(stack.dataDir, sink);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'control.json'), JSON.stringify({ delayMs }));
    slowed.push(sink);
  }
  return slowed;
}

function countLines(file: string): number {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

export async function runImpairment(o: ImpairmentOptions): Promise<BenchOutcome & { attempts: Record<string, number> }> {
  const redis = await startTempRedis({ fsync: 'always', label: 'impair' });
  let proxy: Awaited<ReturnType<typeof startProxyProcess>> | null = null;
  const stopProxy = async () => {
    if (proxy && proxy.child.exitCode === null) {
      proxy.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      if (proxy.child.exitCode === null) proxy.child.kill('SIGKILL');
    }
  };
  const unregister = onInterrupt(stopProxy);
  const attempts: Record<string, number> = {};
  try {
    proxy = await startProxyProcess(redis.port, o.delayMs, o.jitterMs);
    o.say(`redis ${redis.url} (pid ${redis.pid}, appendfsync always) behind the latency proxy on 127.0.0.1:${proxy.port} (+${o.delayMs} ms ±${o.jitterMs} ms each way)`);
    let dataDir = '';
    const outcome = await runBench({
      profile: 'impairment', scale: o.scale, spawn: true, keepData: true, outDir: o.outDir, workers: o.workers, baseline: o.baseline, say: o.say,
      spawnEnv: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
      extraTargets: [{ pid: redis.pid, label: 'redis' }, { pid: proxy.child.pid as number, label: 'latency-proxy' }],
      onSpawned: (stack) => {
        dataDir = stack.dataDir;
        if (o.sinkDelayMs > 0) o.say(`notification sinks slowed to ${o.sinkDelayMs} ms: ${slowSinks(stack, o.sinkDelayMs).join(', ')}`);
      },
      notes: [
        `impairment: Redis (appendfsync always) behind a TCP proxy adding ${o.delayMs} ms ±${o.jitterMs} ms each way (≈${2 * o.delayMs} ms per round trip)`,
        o.sinkDelayMs > 0 ? `impairment: local SMTP and push sinks answer ${o.sinkDelayMs} ms late (control.json)` : 'impairment: notification sinks not slowed',
      ],
    });
    if (dataDir) {
      for (const sink of ['smtp-sink', 'push-sink']) attempts[sink] = countLines(path.join(dataDir, sink, 'attempts.jsonl'));
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    return { ...outcome, attempts };
  } finally {
    await stopProxy();
    unregister();
    if (proxy) o.say(`proxy: ${await Promise.race([proxy.stats, new Promise<string>((r) => setTimeout(() => r('(no stats)'), 1000))])}`);
    await redis.stop();
  }
}
