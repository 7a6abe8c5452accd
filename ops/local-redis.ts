// A private redis-server for one data dir: unix socket under config.socketDir, no TCP unless asked,
// and the durability the write path promises (appendonly + appendfsync always: an XADD is on disk
// before Redis replies, so a 202 survives kill -9 of Redis).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { createRedis } from '../core/redis.js';
import { sleep } from '../core/backoff.js';
import { runCommand, which } from './install.js';

export interface LocalRedisOptions {
  /** Also listen on 127.0.0.1:tcpPort (the benchmark harness wants TCP); default: unix socket only. */
  tcpPort?: number;
  /** How long a graceful SHUTDOWN may take before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** How long startup (including AOF loading) may take (default 60 s). */
  startTimeoutMs?: number;
}

export interface LocalRedis {
  readonly pid: number;
  /** True when an instance already running for this data dir was adopted instead of started. */
  readonly reused: boolean;
  readonly dir: string;
  readonly socketPath: string;
  readonly tcpPort?: number;
  isAlive(): boolean;
  /** SHUTDOWN (fsyncs the AOF), then SIGKILL after the timeout. */
  stop(): Promise<void>;
  /** SIGKILL, no shutdown: for crash tests. */
  kill9(): Promise<void>;
  /** Starts again on the same dir (stopping first if it still runs). */
  restart(): Promise<void>;
}

/** Alive and not a zombie (an orphan's zombie would otherwise look alive to kill(pid, 0)). */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGKILL without any shutdown (crash tests), waiting until the process is gone. */
export async function killHard(pid: number, log: Logger, fields: Record<string, unknown>, what: string): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => !pidAlive(pid), 5000);
  log.warn(fields, `${what} killed with SIGKILL`);
}

export function processCommand(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/** Does the Redis on this config's socket answer PING within timeoutMs? */
export async function redisAnswers(config: Config, timeoutMs = 1000): Promise<boolean> {
  if (!fs.existsSync(config.redis.socketPath)) return false;
  const r = createRedis({ ...config, redis: { ...config.redis, url: undefined, clusterNodes: undefined, socketPath: config.redis.socketPath } }, { name: 'chorus-ops-probe' });
  // Connection errors are the answer here ("no"), not a failure to report.
  r.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs);
    });
    return (await Promise.race([r.ping(), timeout])) === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    r.disconnect();
  }
}

/** An adopted Redis must already listen where the caller was promised it would. */
async function assertTcpPort(config: Config, tcpPort: number): Promise<void> {
  const r = createRedis({ ...config, redis: { ...config.redis, url: undefined, clusterNodes: undefined, socketPath: config.redis.socketPath } }, { name: 'chorus-ops-probe' });
  try {
    const [, port] = (await r.config('GET', 'port')) as [string, string];
    if (Number(port) !== tcpPort) {
      throw new Error(`the Redis already running for ${config.dataDir} listens on TCP port ${port}, not ${tcpPort}: stop it first (services down)`);
    }
  } finally {
    r.disconnect();
  }
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function redisConf(dir: string, socketPath: string, tcpPort: number | undefined): string {
  return [
    '# Written by ops/local-redis.ts on every start; edits are overwritten.',
    `dir ${quote(dir)}`,
    tcpPort ? `port ${tcpPort}\nbind 127.0.0.1` : 'port 0',
    `unixsocket ${quote(socketPath)}`,
    'unixsocketperm 700',
    'daemonize no',
    `pidfile ${quote(path.join(dir, 'redis.pid'))}`,
    `logfile ${quote(path.join(dir, 'redis.log'))}`,
    'loglevel notice',
    // Durability of a 202: the AOF is fsynced before Redis replies to the XADD.
    'appendonly yes',
    'appendfsync always',
    'no-appendfsync-on-rewrite no',
    'aof-use-rdb-preamble yes',
    'save ""',
    // 10 000 clients + Redis' own 32 descriptors stay below the 20 000 open-files limit.
    'maxclients 10000',
    '',
  ].join('\n');
}

/** Starts (or adopts) the private Redis of config.dataDir. */
export async function startLocalRedis(config: Config, log: Logger, opts: LocalRedisOptions = {}): Promise<LocalRedis> {
  const dir = path.join(config.dataDir, 'redis');
  const socketPath = config.redis.socketPath;
  const pidFile = path.join(dir, 'redis.pid');
  const logFile = path.join(dir, 'redis.log');
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const bin = which('redis-server');
  if (!bin) throw new Error('redis-server is not installed (run: node dist/ops/install.js)');
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o755 });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });

  let pid = 0;
  let reused = false;

  const running = readPidFile(pidFile);
  if (running && pidAlive(running) && processCommand(running).includes('redis-server')) {
    // It may still be loading its AOF after a crash of the previous supervisor.
    if (await waitUntil(() => redisAnswers(config), startTimeoutMs, 200)) {
      pid = running;
      reused = true;
      log.info({ redisPid: pid, socketPath }, 'redis already running for this data dir: reusing it');
      if (opts.tcpPort) await assertTcpPort(config, opts.tcpPort);
    } else {
      throw new Error(`redis pid ${running} runs for ${dir} but does not answer on ${socketPath}; log:\n${tail(logFile)}`);
    }
  }

  async function spawnRedis(): Promise<void> {
    fs.rmSync(socketPath, { force: true });
    fs.rmSync(pidFile, { force: true });
    fs.writeFileSync(path.join(dir, 'redis.conf'), redisConf(dir, socketPath, opts.tcpPort));
    const child = spawn(bin as string, [path.join(dir, 'redis.conf')], { cwd: dir, detached: true, stdio: 'ignore' });
    child.unref();
    let exited: string | undefined;
    child.on('exit', (code, signal) => {
      exited = `exit code ${code ?? '-'} signal ${signal ?? '-'}`;
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    pid = child.pid as number;
    const ok = await waitUntil(async () => exited !== undefined || (await redisAnswers(config)), startTimeoutMs, 50);
    if (exited !== undefined || !ok) {
      if (!exited) process.kill(pid, 'SIGKILL');
      throw new Error(`redis-server did not come up (${exited ?? 'timeout'}); log ${logFile}:\n${tail(logFile)}`);
    }
    log.info({ redisPid: pid, socketPath, tcpPort: opts.tcpPort, dir }, 'redis started');
  }

  if (!reused) await spawnRedis();

  async function stop(): Promise<void> {
    if (!pidAlive(pid)) return;
    // redis-cli, not ioredis: SHUTDOWN answers by closing the connection, which ioredis would retry.
    const r = await runCommand(which('redis-cli') ?? 'redis-cli', ['-s', socketPath, 'SHUTDOWN'], { timeoutMs: stopTimeoutMs });
    const said = (r.stdout + r.stderr).trim();
    if (r.code !== 0 || said) log.warn({ redisPid: pid, exit: r.code, said }, 'redis SHUTDOWN did not go cleanly; SIGKILL after the timeout');
    if (!(await waitUntil(() => !pidAlive(pid), stopTimeoutMs, 50))) {
      log.warn({ redisPid: pid }, 'redis did not shut down in time: SIGKILL');
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !pidAlive(pid), 5000);
    }
    log.info({ redisPid: pid }, 'redis stopped');
  }

  return {
    get pid() {
      return pid;
    },
    get reused() {
      return reused;
    },
    dir,
    socketPath,
    tcpPort: opts.tcpPort,
    isAlive: () => pidAlive(pid),
    stop,
    kill9: () => killHard(pid, log, { redisPid: pid }, 'redis'),
    async restart() {
      await stop();
      reused = false;
      await spawnRedis();
    },
  };
}

/** Stops the Redis running for config.dataDir, if any (for `services down`). Returns whether one ran. */
export async function stopLocalRedis(config: Config, log: Logger, timeoutMs = 10_000): Promise<boolean> {
  const dir = path.join(config.dataDir, 'redis');
  const pid = readPidFile(path.join(dir, 'redis.pid'));
  if (!pid || !pidAlive(pid) || !processCommand(pid).includes('redis-server')) return false;
  // SIGTERM is Redis' graceful shutdown (same as SHUTDOWN: the AOF is fsynced first).
  process.kill(pid, 'SIGTERM');
  if (!(await waitUntil(() => !pidAlive(pid), timeoutMs))) {
    log.warn({ redisPid: pid }, 'redis did not shut down in time: SIGKILL');
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !pidAlive(pid), 5000);
  }
  log.info({ redisPid: pid, dir }, 'redis stopped');
  return true;
}
