// Starts the Socket.IO peer for one run: its own Redis (lib/redis-server.ts) and the server cluster
// (server.ts) on a free port, and the pids the harness samples (Redis, the cluster primary and its
// workers). Stopped in reverse order.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isReady } from '../../lib/stack.js';
import { startTempRedis } from '../../lib/redis-server.js';
import { listProcs } from '../../lib/procs.js';
import { sleepMs } from '../../lib/clock.js';
import { onInterrupt } from '../../lib/cleanup.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.js', import.meta.url));

export interface PeerStack {
  url: string;
  pids: number[];
  redisFsync: 'always' | 'off';
  logFile: string;
  stop(): Promise<void>;
}

export async function startSocketIoPeer(opts: { processes: number; logDir: string; fsync?: 'always' | 'off' }): Promise<PeerStack> {
  const redis = await startTempRedis({ fsync: opts.fsync ?? 'always', label: 'socketio' });
  const port = await freePort();
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `socketio-peer-${port}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [SERVER_SCRIPT], {
    env: { ...process.env, PORT: String(port), PEER_PROCESSES: String(opts.processes), PEER_REDIS_URL: redis.url },
    stdio: ['ignore', out, out], detached: true,
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    unregister();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleepMs(100);
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    }
    await redis.stop();
  };
  const unregister = onInterrupt(stop);
  const deadline = Date.now() + 30_000;
  let answered = 0;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    // The primary hands connections round-robin: several answers in a row reach every worker.
    answered = (await isReady(url)) ? answered + 1 : 0;
    if (answered >= 3 * opts.processes) {
      // Every worker must be listening before the run: wait until the primary has them all.
      const workers = listProcs().filter((p) => p.ppid === child.pid).map((p) => p.pid);
      if (opts.processes === 1 || workers.length >= opts.processes) {
        return { url, pids: [redis.pid, child.pid as number, ...workers], redisFsync: redis.fsync, logFile, stop };
      }
    }
    await sleepMs(answered ? 20 : 250);
  }
  await stop();
  throw new Error(`the Socket.IO peer did not answer ${url}/readyz; log ${logFile}`);
}
