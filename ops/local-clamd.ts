// A private clamd for one data dir: config, log and temp files under <dataDir>/clamav, its unix
// socket at config.attachments.clamd.socketPath (<socketDir>/clamd/clamd.sock). The signature
// database is /var/lib/clamav when it holds a real one (main/daily .cvd/.cld, kept fresh by
// freshclam), else Chorus' test signatures (ops/clamav-test-signatures: EICAR and the Debian
// clamav-testfiles) with a loud warning: then scanning is NOT real protection. As root, clamd drops
// to the `clamav` user, which then owns its directories. Optional: the stack runs without it, and
// attachments wait in `scanning` until a clamd answers.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';
import { isRoot, which } from './install.js';
import { pidAlive, processCommand, readPidFile, tail, waitUntil } from './local-redis.js';

export const TEST_SIGNATURES_DIR = fileURLToPath(new URL('../../ops/clamav-test-signatures/', import.meta.url));
const SYSTEM_DATABASE_DIR = '/var/lib/clamav';

export interface LocalClamdOptions {
  /** How long loading the signatures may take (default 180 s: a real database takes a while). */
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export interface LocalClamd {
  readonly pid: number;
  readonly reused: boolean;
  readonly socketPath: string;
  readonly databaseDir: string;
  /** True when only the test signatures are loaded (not real protection). */
  readonly testSignatures: boolean;
  isAlive(): boolean;
  stop(): Promise<void>;
  /** Starts again (stopping first if it still runs). */
  restart(): Promise<void>;
}

export function clamdBinary(): string | undefined {
  return which('clamd') ?? (fs.existsSync('/usr/sbin/clamd') ? '/usr/sbin/clamd' : undefined);
}

/** A directory holding a real ClamAV database: the official main and daily signature files. */
export function holdsRealDatabase(dir: string): boolean {
  const has = (base: string) => ['cvd', 'cld'].some((ext) => fs.existsSync(path.join(dir, `${base}.${ext}`)));
  return has('main') && has('daily');
}

export function databaseFor(config: Config): { dir: string; test: boolean } {
  const override = config.attachments.clamd.databaseDir;
  if (override) return { dir: path.resolve(override), test: path.resolve(override) === path.resolve(TEST_SIGNATURES_DIR) };
  if (holdsRealDatabase(SYSTEM_DATABASE_DIR)) return { dir: SYSTEM_DATABASE_DIR, test: false };
  return { dir: TEST_SIGNATURES_DIR, test: true };
}

/** Does a clamd answer PING on this socket? */
export function clamdAnswers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!fs.existsSync(socketPath)) return resolve(false);
    const s = net.createConnection({ path: socketPath });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('connect', () => s.write('zPING\0'));
    s.on('data', (b) => {
      reply += b.toString();
      if (reply.includes('PONG')) done(true);
    });
    // Refused or reset is the answer here ("no"), not a failure to report.
    s.on('error', () => done(false));
    s.on('end', () => done(reply.includes('PONG')));
  });
}

function clamavUser(): { uid: number; gid: number } | undefined {
  const f = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('clamav:'))?.split(':');
  return f && f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

function clamdConf(config: Config, dir: string, databaseDir: string, user: string | undefined): string {
  const { maxBytes } = config.attachments;
  const { socketPath, timeoutMs } = config.attachments.clamd;
  return [
    '# Written by ops/local-clamd.ts on every start; edits are overwritten.',
    'Foreground yes',
    `LocalSocket ${socketPath}`,
    'LocalSocketMode 660',
    'FixStaleSocket yes',
    `DatabaseDirectory ${databaseDir}`,
    `TemporaryDirectory ${path.join(dir, 'tmp')}`,
    `LogFile ${path.join(dir, 'clamd.log')}`,
    'LogTime yes',
    'LogFileMaxSize 10M',
    'LogRotate yes',
    ...(user ? [`User ${user}`] : []),
    'MaxThreads 4',
    'ConcurrentDatabaseReload no',
    // A stream or file over the limits is flagged Heuristics.Limits.Exceeded (AlertExceedsMax), never passed.
    `StreamMaxLength ${maxBytes + 1024 * 1024}`,
    `MaxFileSize ${maxBytes + 1024 * 1024}`,
    `MaxScanSize ${Math.max(100 * 1024 * 1024, 4 * maxBytes)}`,
    'MaxRecursion 16',
    'MaxFiles 10000',
    `MaxScanTime ${Math.max(5000, Math.min(120_000, timeoutMs - 5000))}`,
    'AlertExceedsMax yes',
    'HeuristicAlerts yes',
    'ScanArchive yes',
    'ScanPDF yes',
    'ScanOLE2 yes',
    'ScanHTML yes',
    'ScanMail yes',
    'SelfCheck 600',
    '',
  ].join('\n');
}

function warnTestSignatures(log: Logger, databaseDir: string): void {
  const lines = [
    'ClamAV has NO real signature database (/var/lib/clamav holds no main/daily .cvd/.cld).',
    `clamd runs with Chorus' TEST signatures only (${databaseDir}): EICAR and the clamav-testfiles.`,
    'Attachment scanning is NOT real malware protection. Run freshclam, or set CHORUS_CLAMAV_DB_DIR.',
  ];
  log.error({ databaseDir, scanning: 'test-signatures-only' }, lines.join(' '));
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${bar}\n\n`);
}

/** The socket's own directory goes with clamd, so that services.ts can remove an outside socket dir. */
function removeSocketDir(socketPath: string, log: Logger): void {
  try {
    fs.rmSync(socketPath, { force: true });
    fs.rmdirSync(path.dirname(socketPath));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY') log.warn({ err: (err as Error).message }, 'could not remove the clamd socket dir');
  }
}

/** Starts (or adopts) the private clamd of config.dataDir. */
export async function startLocalClamd(config: Config, log: Logger, opts: LocalClamdOptions = {}): Promise<LocalClamd> {
  const bin = clamdBinary();
  if (!bin) throw new Error('clamd is not installed (apt-get install clamav-daemon; node dist/ops/install.js tries it)');
  const dir = path.join(config.dataDir, 'clamav');
  const socketPath = config.attachments.clamd.socketPath;
  const pidFile = path.join(dir, 'clamd.pid');
  const logFile = path.join(dir, 'clamd.log');
  const startTimeoutMs = opts.startTimeoutMs ?? 180_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const db = databaseFor(config);
  if (db.test) warnTestSignatures(log, db.dir);

  let pid = 0;
  let reused = false;
  const running = readPidFile(pidFile);
  if (running && pidAlive(running) && processCommand(running).includes('clamd') && (await clamdAnswers(socketPath, 2000))) {
    pid = running;
    reused = true;
    log.info({ clamdPid: pid, socketPath }, 'clamd already running for this data dir: reusing it');
  }

  async function spawnClamd(): Promise<void> {
    const user = isRoot() ? clamavUser() : undefined;
    for (const d of [dir, path.join(dir, 'tmp'), path.dirname(socketPath)]) fs.mkdirSync(d, { recursive: true, mode: 0o750 });
    fs.rmSync(socketPath, { force: true });
    fs.writeFileSync(path.join(dir, 'clamd.conf'), clamdConf(config, dir, db.dir, user ? 'clamav' : undefined));
    if (!fs.existsSync(logFile)) fs.writeFileSync(logFile, '');
    if (user) {
      // clamd drops to `clamav` before it writes its log, temp files and socket.
      for (const p of [dir, path.join(dir, 'tmp'), path.dirname(socketPath), logFile]) fs.chownSync(p, user.uid, user.gid);
      fs.chmodSync(path.dirname(socketPath), 0o755);
    }
    const child = spawn(bin as string, ['--config-file', path.join(dir, 'clamd.conf')], { cwd: dir, detached: true, stdio: 'ignore' });
    child.unref();
    let exited: string | undefined;
    child.on('exit', (code, signal) => { exited = `exit code ${code ?? '-'} signal ${signal ?? '-'}`; });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    pid = child.pid as number;
    fs.writeFileSync(pidFile, `${pid}\n`);
    const ok = await waitUntil(async () => exited !== undefined || (await clamdAnswers(socketPath)), startTimeoutMs, 200);
    if (exited !== undefined || !ok) {
      if (!exited) process.kill(pid, 'SIGKILL');
      throw new Error(`clamd did not come up (${exited ?? 'timeout'}); log ${logFile}:\n${tail(logFile)}`);
    }
    log.info({ clamdPid: pid, socketPath, databaseDir: db.dir, testSignatures: db.test }, 'clamd started');
  }

  async function stop(): Promise<void> {
    if (!pidAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    if (!(await waitUntil(() => !pidAlive(pid), stopTimeoutMs, 50))) {
      log.warn({ clamdPid: pid }, 'clamd did not stop in time: SIGKILL');
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !pidAlive(pid), 5000);
    }
    fs.rmSync(pidFile, { force: true });
    removeSocketDir(socketPath, log);
    log.info({ clamdPid: pid }, 'clamd stopped');
  }

  if (!reused) await spawnClamd();
  return {
    get pid() { return pid; },
    get reused() { return reused; },
    socketPath,
    databaseDir: db.dir,
    testSignatures: db.test,
    isAlive: () => pidAlive(pid),
    stop,
    async restart() {
      await stop();
      reused = false;
      await spawnClamd();
    },
  };
}

/** Stops the clamd running for config.dataDir, if any (`services down`). Returns whether one ran. */
export async function stopLocalClamd(config: Config, log: Logger, timeoutMs = 10_000): Promise<boolean> {
  const pidFile = path.join(config.dataDir, 'clamav', 'clamd.pid');
  const pid = readPidFile(pidFile);
  if (!pid || !pidAlive(pid) || !processCommand(pid).includes('clamd')) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitUntil(() => !pidAlive(pid), timeoutMs))) {
    log.warn({ clamdPid: pid }, 'clamd did not stop in time: SIGKILL');
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !pidAlive(pid), 5000);
  }
  fs.rmSync(pidFile, { force: true });
  removeSocketDir(config.attachments.clamd.socketPath, log);
  log.info({ clamdPid: pid }, 'clamd stopped');
  return true;
}
