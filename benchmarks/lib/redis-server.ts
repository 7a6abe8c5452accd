// A throwaway redis-server for the peer comparison and the impairment profile: loopback TCP on a
// free port, everything under a temp dir, AOF with `appendfsync always` (Chorus's own durability)
// unless told otherwise. Stopped with SIGTERM (redis-server then flushes the AOF), then SIGKILL.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from './stack.js';
import { sleepMs } from './clock.js';
import { onInterrupt } from './cleanup.js';

export interface TempRedis {
  url: string;
  port: number;
  pid: number;
  dir: string;
  fsync: 'always' | 'off';
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
  });
}

export async function startTempRedis(opts: { fsync?: 'always' | 'off'; label: string }): Promise<TempRedis> {
  const fsync = opts.fsync ?? 'always';
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `chorus-${opts.label}-redis-`));
  const conf = [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', `logfile ${path.join(dir, 'redis.log')}`,
    fsync === 'always' ? 'appendonly yes\nappendfsync always' : 'appendonly no',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'redis.conf'), `${conf}\n`);
  const child = spawn('redis-server', [path.join(dir, 'redis.conf')], { stdio: 'ignore', detached: true });
  const stop = async () => {
    unregister();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleepMs(100);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(stop);
  for (let i = 0; i < 100; i++) {
    if (await answers(port)) return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid as number, dir, fsync, stop };
    if (child.exitCode !== null) break;
    await sleepMs(100);
  }
  await stop();
  throw new Error(`redis-server on port ${port} did not come up`);
}
