// Helpers for integration tests. They run against the real local Redis and Postgres of the test
// data dir (CHORUS_DATA_DIR, default .data-test), which ops/test.sh starts before the tests
// (`node dist/ops/cli.js services up`); role processes are real child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../config/index.js';

/** The repository root (this file is dist/test/support/env.js once built). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The environment of the test processes: the test data dir unless the caller set one. */
export function testEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CHORUS_DATA_DIR: process.env['CHORUS_DATA_DIR'] ?? '.data-test',
    NODE_ENV: process.env['NODE_ENV'] ?? 'test',
    ...overrides,
  };
}

/** loadConfig for the test data dir, plus environment-style overrides (e.g. { PORT: '18081' }). */
export function testConfig(overrides: NodeJS.ProcessEnv = {}): Config {
  return loadConfig(testEnv(overrides));
}

/** A fresh tenant id (matches ^[A-Za-z0-9_-]{1,64}$), so tests never see each other's data. */
export function uniqueTenant(prefix = 't'): string {
  const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40) || 't';
  return `${clean}_${Date.now().toString(36)}${crypto.randomBytes(5).toString('hex')}`;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** One line a role printed: its pino JSON fields when it was JSON, and the raw text. */
export type LogEntry = Record<string, unknown> & { raw: string; stream: 'stdout' | 'stderr' };

export interface RoleProcess {
  proc: ChildProcess;
  /** Everything the process printed so far, oldest first. */
  logs: LogEntry[];
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the first line (past or future) matching the predicate; rejects on timeout or exit. */
  waitForLog(predicate: (e: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines, for assertion messages. */
  recentLogs(n?: number): string;
}

/**
 * Spawns `node dist/<args[0]>.js args[1..]` (e.g. ['gateway/main'] or ['processors/main', 'persist',
 * '--consumers', '1']) in the test environment plus `env`, capturing its output.
 */
export function spawnRole(args: string[], env: NodeJS.ProcessEnv = {}): RoleProcess {
  const [role, ...rest] = args;
  if (!role) throw new Error('spawnRole needs the role entrypoint, e.g. ["gateway/main"]');
  const script = path.join(REPO_ROOT, 'dist', role.endsWith('.js') ? role : `${role}.js`);
  const proc = spawn(process.execPath, [script, ...rest], { cwd: REPO_ROOT, env: testEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogEntry[] = [];
  const waiters = new Set<(e: LogEntry) => void>();
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitWaiters = new Set<() => void>();

  const onLine = (raw: string, stream: 'stdout' | 'stderr') => {
    let fields: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object') fields = parsed as Record<string, unknown>;
    } catch {
      fields = { msg: raw };
    }
    const entry: LogEntry = { ...fields, raw, stream };
    logs.push(entry);
    for (const w of waiters) w(entry);
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    let buf = '';
    proc[stream].setEncoding('utf8');
    proc[stream].on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) onLine(line, stream);
      }
    });
    proc[stream].on('end', () => {
      if (buf.trim()) onLine(buf, stream);
      buf = '';
    });
  }

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('close', (code, signal) => {
      exitInfo = { code, signal };
      for (const w of exitWaiters) w();
      resolve(exitInfo);
    });
  });

  const recentLogs = (n = 30) => logs.slice(-n).map((e) => `[${e.stream}] ${e.raw}`).join('\n');

  return {
    proc,
    logs,
    exited,
    recentLogs,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitInfo === undefined) proc.kill(signal);
    },
    waitForLog(predicate, timeoutMs = 15_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(onEntry);
          exitWaiters.delete(onExit);
        };
        const onEntry = (e: LogEntry) => {
          if (!predicate(e)) return;
          cleanup();
          resolve(e);
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`${role} exited (${JSON.stringify(exitInfo)}) before the expected log line; last output:\n${recentLogs()}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${role}: no matching log line within ${timeoutMs} ms; last output:\n${recentLogs()}`));
        }, timeoutMs);
        waiters.add(onEntry);
        exitWaiters.add(onExit);
        if (exitInfo) onExit();
      });
    },
  };
}
