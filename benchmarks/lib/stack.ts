// --spawn: a private Chorus for one run: `node dist/ops/stack.js` (the supervisor `npm start` runs)
// on a free port with its own CHORUS_DATA_DIR, so it never touches a developer's instance.
// Stopped with SIGTERM (the supervisor drains its roles and stops Redis/Postgres).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleepMs } from './clock.js';
import { onInterrupt } from './cleanup.js';

const STACK_SCRIPT = fileURLToPath(new URL('../../ops/stack.js', import.meta.url));

export interface SpawnedStack {
  url: string;
  pid: number;
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function spawnStack(opts: { logDir: string; port?: number; keepData?: boolean; env?: Record<string, string> }): Promise<SpawnedStack> {
  const port = opts.port ?? (await freePort());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-bench-'));
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `stack-${port}.log`);
  const out = fs.openSync(logFile, 'a');
  // Own process group: a Ctrl-C on the harness reaches the harness only, which stops the stack in order.
  const child = spawn(process.execPath, [STACK_SCRIPT], {
    // Setup mints one dev token per simulated client from this one address: the /dev/token limit is off.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CHORUS_DATA_DIR: dataDir, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn', CHORUS_RATE_DEV_TOKEN_PER_S: '0', ...opts.env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  let unregister: () => void = () => {};
  const stop = async () => {
    unregister();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 60_000))) child.kill('SIGKILL');
    }
    if (!opts.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  unregister = onInterrupt(stop);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`node dist/ops/stack.js exited (${child.signalCode ?? child.exitCode}) before ${url}/readyz answered; log ${logFile}:\n${tail(logFile)}`);
    }
    if (await isReady(url)) return { url, pid: child.pid as number, dataDir, logFile, stop };
    await sleepMs(500);
  }
  await stop();
  throw new Error(`${url}/readyz not ready after 180 s; log ${logFile}:\n${tail(logFile)}`);
}
