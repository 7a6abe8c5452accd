// The generator processes: forked with an IPC channel (advanced serialization, so typed arrays pass
// as they are), addressed by index, awaited message by message. A generator that dies or reports a
// fatal error fails every pending wait: a run with a missing generator would measure nothing useful.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from '../lib/ipc.js';

type Kind = FromWorker['type'];
type Of<K extends Kind> = Extract<FromWorker, { type: K }>;

const WORKER_SCRIPT = fileURLToPath(new URL('../generator/worker.js', import.meta.url));

interface Waiter {
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  readonly children: ChildProcess[] = [];
  private readonly inbox: Map<Kind, FromWorker[]>[] = [];
  private readonly waiters: Map<Kind, Waiter[]>[] = [];
  private failure: Error | null = null;
  onTick: (worker: number, m: Of<'tick'>) => void = () => {};
  onLog: (worker: number, m: Of<'log'>) => void = () => {};

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      // Heap for the per-client receive records of long runs; stdout/stderr shared with ours.
      const child = fork(WORKER_SCRIPT, [], { serialization: 'advanced', execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.children.push(child);
      this.inbox.push(new Map());
      this.waiters.push(new Map());
      child.on('message', (m: FromWorker) => this.dispatch(i, m));
      child.on('exit', (code, signal) => {
        if (code !== 0 || signal) this.fail(new Error(`generator ${i} (pid ${child.pid}) exited with ${signal ?? code}`));
      });
      child.on('error', (err) => this.fail(new Error(`generator ${i}: ${err.message}`)));
    }
  }

  get pids(): number[] {
    return this.children.flatMap((c) => (c.pid ? [c.pid] : []));
  }

  private dispatch(i: number, m: FromWorker): void {
    if (m.type === 'tick') return this.onTick(i, m);
    if (m.type === 'log') return this.onLog(i, m);
    if (m.type === 'fatal') return this.fail(new Error(`generator ${i} failed: ${m.error}`));
    const w = this.waiters[i]?.get(m.type)?.shift();
    if (w) return w.resolve(m);
    const box = this.inbox[i] as Map<Kind, FromWorker[]>;
    box.set(m.type, [...(box.get(m.type) ?? []), m]);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const byKind of this.waiters) for (const ws of byKind.values()) for (const w of ws) w.reject(err);
  }

  send(i: number, m: ToWorker): void {
    this.children[i]?.send(m);
  }

  broadcast(make: (i: number) => ToWorker): void {
    for (let i = 0; i < this.size; i++) this.send(i, make(i));
  }

  /** The next message of `kind` from generator i. */
  next<K extends Kind>(i: number, kind: K, timeoutMs: number): Promise<Of<K>> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.inbox[i]?.get(kind)?.shift();
    if (queued) return Promise.resolve(queued as Of<K>);
    return new Promise<Of<K>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`generator ${i}: no ${kind} within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const byKind = this.waiters[i] as Map<Kind, Waiter[]>;
      byKind.set(kind, [...(byKind.get(kind) ?? []), {
        resolve: (m) => { clearTimeout(timer); resolve(m as Of<K>); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      }]);
    });
  }

  /** One message of `kind` from every generator. */
  gather<K extends Kind>(kind: K, timeoutMs: number): Promise<Of<K>[]> {
    return Promise.all(this.children.map((_, i) => this.next(i, kind, timeoutMs)));
  }

  /** Asks every generator to exit, kills those that do not within the timeout. */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    this.failure ??= new Error('shutting down');
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => { c.kill('SIGKILL'); }, timeoutMs);
      c.once('exit', () => { clearTimeout(t); resolve(); });
      if (c.connected) c.send({ type: 'shutdown' } satisfies ToWorker);
      else c.kill('SIGTERM');
    })));
  }
}
