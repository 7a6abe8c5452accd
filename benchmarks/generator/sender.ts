// The write side of one generator: open-loop message sends over HTTP (POST /api/messages with a
// keep-alive agent) into the threads this generator owns, each stamped with its intended time, and
// the log of what was accepted (for the reconciliation) or may have been (timeouts, 5xx).
import type { HttpClient } from '../lib/http-client.js';
import type { World, WorldThread } from '../lib/world.js';
import { WeightedPicker, type Rng } from '../lib/rng.js';
import { nowUs } from '../lib/clock.js';
import { seqPos } from '../lib/seq-order.js';
import { AcceptedLog } from './ledger.js';
import { messageBody, type BenchClient } from './client.js';
import { bump, type WorkerStats } from './stats.js';

export interface SenderOptions {
  workerIndex: number;
  workers: number;
  runPrefix: string;
  bodyChars: number;
  maxInFlight: number;
}

export class MessageSender {
  readonly accepted = new AcceptedLog();
  readonly uncertain: number[] = [];
  private readonly picker: WeightedPicker<WorldThread>;
  /** Per owned thread: the participants whose tokens this generator holds, and a round-robin cursor. */
  private readonly hosts = new Map<number, { clients: BenchClient[]; next: number }>();
  private threadIds: string[] = [];
  private nextKey = 0;

  constructor(
    world: World,
    clientsByUser: Map<number, BenchClient>,
    private readonly http: HttpClient,
    private readonly stats: WorkerStats,
    private readonly o: SenderOptions,
  ) {
    for (const t of world.threads.filter((th) => th.sender === o.workerIndex)) {
      this.hosts.set(t.index, { clients: t.participants.flatMap((u) => clientsByUser.get(u) ?? []), next: 0 });
    }
    this.picker = new WeightedPicker(world.threads, (t) => t.weight);
  }

  setThreadIds(ids: string[]): void {
    this.threadIds = ids;
  }

  /**
   * One event of the global schedule (intended time, thread chosen with the stage's shared `choice`
   * generator); sent only when this generator owns the thread.
   */
  fire(intendedUs: number, warmup: boolean, choice: Rng): void {
    const t = this.stats.tick;
    const thread = this.picker.pick(choice);
    const host = thread && this.hosts.get(thread.index);
    if (!thread || !host) return;
    if (t.inflight >= this.o.maxInFlight) {
      t.droppedIterations++;
      return;
    }
    const sender = host.clients[host.next++ % host.clients.length] as BenchClient;
    const key = this.nextKey++ * this.o.workers + this.o.workerIndex;
    const payload = {
      threadId: this.threadIds[thread.index],
      body: messageBody(intendedUs, warmup, this.o.bodyChars),
      clientMessageId: `${this.o.runPrefix}${key}`,
    };
    t.sent++;
    t.inflight++;
    const startUs = nowUs();
    this.stats.record('send_lag', startUs - intendedUs);
    void this.http.request('POST', '/api/messages', payload, sender.token).then((r) => {
      const endUs = nowUs();
      t.inflight--;
      this.stats.record('http_req_duration', endUs - startUs);
      this.stats.record('http_req_intended', endUs - intendedUs);
      bump(this.stats.httpStatus, r.status ? String(r.status) : `error:${r.error}`);
      if (r.status === 202) {
        const pos = typeof r.body?.message?.seq === 'string' ? seqPos(r.body.message.seq as string) : null;
        if (pos) {
          this.accepted.add(key, thread.index, pos.ms, pos.n);
          t.accepted++;
        } else {
          this.stats.count('accepted_without_seq');
          this.uncertain.push(key);
        }
      } else if (r.status === 0) {
        t.httpErrors++;
        this.uncertain.push(key);
      } else if (r.status >= 500) {
        t.http5xx++;
        this.uncertain.push(key);
      } else if (r.status === 429) t.http429++;
      else t.http4xx++;
    });
  }
}
