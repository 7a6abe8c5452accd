// What the two local notification sinks share (ops/local-smtp-sink.ts, ops/local-push-sink.ts):
// each is a real server on a unix socket, run as a daemon per data dir (pid file, log), that stores
// what it receives as JSONL under <dataDir>/<name>/, drops repeats of an idempotency key (the email
// Message-ID, the push Idempotency-Key), and obeys a control file <dataDir>/<name>/control.json:
//   {"delayMs": 5000}                                  answer every message 5 s late
//   {"fail": "transient", "failCount": 3}              refuse the next 3 messages with a temporary error
//   {"fail": "permanent"}                              refuse every message for good
//   {"tenant": "acme", ...}                            apply the switches to that tenant's messages only
// Every attempt (stored, duplicate, failed) is also appended to attempts.jsonl.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { pidAlive, processCommand, readPidFile, tail, waitUntil } from './local-redis.js';

export type SinkName = 'smtp-sink' | 'push-sink';

export interface SinkControl {
  delayMs?: number;
  fail?: 'transient' | 'permanent' | null;
  /** Fail only this many matching messages (counted from the moment the file changed); default: all. */
  failCount?: number;
  /** Apply the switches only to messages of this tenant. */
  tenant?: string;
}

export interface SinkAttempt {
  at: string;
  key: string;
  tenant: string;
  outcome: 'stored' | 'duplicate' | 'failed_transient' | 'failed_permanent';
  delayMs: number;
}

export function sinkDir(config: Config, name: SinkName): string {
  return path.join(config.dataDir, name);
}

export function sinkFiles(config: Config, name: SinkName) {
  const dir = sinkDir(config, name);
  return {
    dir,
    control: path.join(dir, 'control.json'),
    stored: path.join(dir, name === 'smtp-sink' ? 'messages.jsonl' : 'requests.jsonl'),
    attempts: path.join(dir, 'attempts.jsonl'),
    pid: path.join(dir, 'sink.pid'),
    log: path.join(dir, 'sink.log'),
  };
}

/** Writes the control file atomically (tests and operators). */
export function writeSinkControl(config: Config, name: SinkName, control: SinkControl): void {
  const f = sinkFiles(config, name);
  fs.mkdirSync(f.dir, { recursive: true });
  const tmp = `${f.control}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(control));
  fs.renameSync(tmp, f.control);
}

export function readJsonl<T>(file: string): T[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: T[] = [];
  for (const line of text.split('\n')) if (line.trim()) out.push(JSON.parse(line) as T);
  return out;
}

/** The server side: control switches, the dedupe set and the JSONL files of one sink. */
export class SinkState {
  private control: SinkControl = {};
  private controlStamp = '';
  private failed = 0;
  private readonly seen = new Set<string>();
  readonly files: ReturnType<typeof sinkFiles>;

  constructor(config: Config, name: SinkName, keyOf: (stored: Record<string, unknown>) => string | undefined) {
    this.files = sinkFiles(config, name);
    fs.mkdirSync(this.files.dir, { recursive: true });
    // Repeats are recognized across restarts of the sink too.
    for (const e of readJsonl<Record<string, unknown>>(this.files.stored)) {
      const k = keyOf(e);
      if (k) this.seen.add(k);
    }
  }

  /** What to do with a message of `tenant` now: the control file is re-read when it changed. */
  verdict(tenant: string): { delayMs: number; fail: 'transient' | 'permanent' | null } {
    let stamp = '';
    try {
      const st = fs.statSync(this.files.control);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (stamp !== this.controlStamp) {
      this.controlStamp = stamp;
      this.failed = 0;
      this.control = stamp ? (JSON.parse(fs.readFileSync(this.files.control, 'utf8') || '{}') as SinkControl) : {};
    }
    const c = this.control;
    if (c.tenant && c.tenant !== tenant) return { delayMs: 0, fail: null };
    let fail = c.fail ?? null;
    if (fail && c.failCount !== undefined) {
      if (this.failed >= c.failCount) fail = null;
      else this.failed++;
    }
    return { delayMs: Math.max(0, c.delayMs ?? 0), fail };
  }

  /** Stores a message unless its key was seen; returns false for a repeat. */
  store(key: string, entry: Record<string, unknown>): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    fs.appendFileSync(this.files.stored, `${JSON.stringify(entry)}\n`);
    return true;
  }

  attempt(a: SinkAttempt): void {
    fs.appendFileSync(this.files.attempts, `${JSON.stringify(a)}\n`);
  }
}

/** Does something accept connections on this unix socket? */
export function socketAnswers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!fs.existsSync(socketPath)) return resolve(false);
    const s = net.createConnection({ path: socketPath });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    // Refused is the answer ("no"), not a failure to report.
    s.once('error', () => done(false));
  });
}

export interface LocalSink {
  readonly name: SinkName;
  readonly pid: number;
  readonly reused: boolean;
  readonly socketPath: string;
  readonly dir: string;
  isAlive(): boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/** Starts (or adopts) a sink daemon: `node <script> serve` detached, its output in <dir>/sink.log. */
export async function startSinkDaemon(
  config: Config, log: Logger, name: SinkName, script: string, socketPath: string, timeoutMs = 15_000,
): Promise<LocalSink> {
  const f = sinkFiles(config, name);
  let pid = 0;
  let reused = false;
  const running = readPidFile(f.pid);
  if (running && pidAlive(running) && processCommand(running).includes(path.basename(script)) && (await socketAnswers(socketPath))) {
    pid = running;
    reused = true;
    log.info({ sink: name, sinkPid: pid, socketPath }, 'notification sink already running for this data dir: reusing it');
  }

  async function spawnSink(): Promise<void> {
    fs.mkdirSync(f.dir, { recursive: true });
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    fs.rmSync(socketPath, { force: true });
    const out = fs.openSync(f.log, 'a');
    const child = spawn(process.execPath, [script, 'serve'], {
      detached: true, stdio: ['ignore', out, out], env: { ...process.env, CHORUS_DATA_DIR: config.dataDir },
    });
    fs.closeSync(out);
    child.unref();
    let exited: string | undefined;
    child.on('exit', (code, signal) => { exited = `exit code ${code ?? '-'} signal ${signal ?? '-'}`; });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    pid = child.pid as number;
    fs.writeFileSync(f.pid, `${pid}\n`);
    const ok = await waitUntil(async () => exited !== undefined || (await socketAnswers(socketPath)), timeoutMs, 50);
    if (exited !== undefined || !ok) {
      if (!exited) process.kill(pid, 'SIGKILL');
      throw new Error(`${name} did not come up (${exited ?? 'timeout'}); log ${f.log}:\n${tail(f.log)}`);
    }
    log.info({ sink: name, sinkPid: pid, socketPath, dir: f.dir }, 'notification sink started');
  }

  async function stop(): Promise<void> {
    if (!pidAlive(pid)) return;
    await stopPid(pid, name, log);
    fs.rmSync(f.pid, { force: true });
    fs.rmSync(socketPath, { force: true });
  }

  if (!reused) await spawnSink();
  return {
    name,
    get pid() { return pid; },
    get reused() { return reused; },
    socketPath,
    dir: f.dir,
    isAlive: () => pidAlive(pid),
    stop,
    async restart() {
      await stop();
      reused = false;
      await spawnSink();
    },
  };
}

async function stopPid(pid: number, name: string, log: Logger, timeoutMs = 5000): Promise<void> {
  process.kill(pid, 'SIGTERM');
  if (!(await waitUntil(() => !pidAlive(pid), timeoutMs))) {
    log.warn({ sink: name, sinkPid: pid }, 'notification sink did not stop in time: SIGKILL');
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !pidAlive(pid), 5000);
  }
  log.info({ sink: name, sinkPid: pid }, 'notification sink stopped');
}

/** Stops the sink daemon of config.dataDir, if one runs (`services down`). Returns whether one ran. */
export async function stopSinkDaemon(config: Config, log: Logger, name: SinkName, script: string, socketPath: string): Promise<boolean> {
  const f = sinkFiles(config, name);
  const pid = readPidFile(f.pid);
  if (!pid || !pidAlive(pid) || !processCommand(pid).includes(path.basename(script))) return false;
  await stopPid(pid, name, log);
  fs.rmSync(f.pid, { force: true });
  fs.rmSync(socketPath, { force: true });
  return true;
}
