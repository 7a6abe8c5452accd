// One copy of one role as a child process of the supervisor (ops/stack.ts): started with the
// configured node arguments (and, off the realtime path, a lower priority), restarted with backoff
// when it dies, stopped with SIGTERM and then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import type { RoleSpec } from './roles.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));
/** A child that ran this long was healthy: its next crash starts the backoff from the beginning. */
export const STABLE_AFTER_MS = 30_000;
export const RESTART_BACKOFF = { baseMs: 500, capMs: 30_000 };

/** One copy of one role, kept running until stop(). */
export class RoleProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private attempt = 0;
  private startedAt = 0;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  readonly label: string;

  constructor(
    readonly spec: RoleSpec,
    index: number,
    copies: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly nodeArgs: string[],
    private readonly nice: number,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    this.label = copies > 1 ? `${spec.name}#${index + 1}` : spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const script = path.join(DIST, this.spec.script);
    this.startedAt = Date.now();
    // Own process group: a terminal Ctrl-C reaches only the supervisor, which then stops the
    // children in order instead of every process getting SIGINT at once.
    const child = spawn(process.execPath, [...this.nodeArgs, script, ...this.spec.args], { stdio: 'inherit', env: this.env, detached: true });
    this.child = child;
    if (this.spec.background && this.nice > 0 && child.pid) {
      try {
        os.setPriority(child.pid, this.nice);
      } catch (err) {
        this.log.warn({ err, child: this.label, nice: this.nice }, 'could not lower the priority of a background role; it runs at normal priority');
      }
    }
    let settled = false;
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
        if (settled) return;
        settled = true;
        this.child = undefined;
        this.onChange();
        resolve();
        if (this.stopping) {
          this.log.info({ child: this.label, code, signal }, 'role stopped');
          return;
        }
        this.scheduleRestart(script, code, signal, err);
      };
      child.once('exit', (code, signal) => done(code, signal));
      child.once('error', (err) => done(null, null, err));
    });
    if (child.pid) this.log.info({ child: this.label, childPid: child.pid, script: this.spec.script, args: this.spec.args }, 'role started');
    this.onChange();
  }

  private scheduleRestart(script: string, code: number | null, signal: NodeJS.Signals | null, err?: Error): void {
    this.attempt = Date.now() - this.startedAt >= STABLE_AFTER_MS ? 1 : this.attempt + 1;
    const delay = backoffDelay(this.attempt, RESTART_BACKOFF);
    const missing = !fs.existsSync(script);
    this.log.error(
      {
        child: this.label, code, signal, err: err?.message, attempt: this.attempt, restartInMs: delay,
        ...(missing ? { missing: script } : {}),
      },
      missing ? 'role entrypoint missing (not built yet?); retrying' : 'role exited; restarting',
    );
    this.timer = setTimeout(() => this.start(), delay);
  }

  /** SIGTERM, then SIGKILL after timeoutMs. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timedOut = await Promise.race([this.exited?.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut && this.child) {
      this.log.warn({ child: this.label, childPid: child.pid, timeoutMs }, 'role did not stop in time: SIGKILL');
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  kill(): void {
    this.stopping = true;
    clearTimeout(this.timer);
    this.child?.kill('SIGKILL');
  }
}
