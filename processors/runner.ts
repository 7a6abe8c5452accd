// The shared runner: one consumer of one group. It owns reading (XREADGROUP over every known tenant
// stream), acking, claiming idle entries, backoff and dead-lettering; the definition only handles.
// Several runners of a group, in one process or several, share the work through Redis.
import type { Config } from '../config/index.js';
import type { Sql } from '../core/db.js';
import { decodeEvent, InvalidEventError, type DecodedEvent, type StreamEvent } from '../core/events/index.js';
import { isDependencyError } from '../core/errors.js';
import { keys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import { metrics } from '../core/metrics.js';
import { tenantLabels } from '../core/tenant-label.js';
import { logSampler } from '../core/log-sample.js';
import { createRedis, groupBySlot, isCluster, type RedisClient } from '../core/redis.js';
import { seqMillis } from '../core/seq.js';
import { ack, autoClaim, deadLetter, deliveryCounts, ensureGroup, readGroup, type StreamKeyOf } from '../core/stream-commands.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import type { ProcessorDefinition } from './definition.js';
import type { TenantDirectory } from './tenants.js';
import { TenantSweep } from './tenant-sweep.js';
import { inBatchSpan } from './batch-span.js';

/**
 * SQLSTATE class 22, "data exception": Postgres refused a value of the entry itself, e.g. 22P02
 * invalid input syntax (a `\ud800` escape in jsonb), 22P05 untranslatable character (`\u0000` in
 * jsonb), 22021 invalid byte sequence (NUL in text), 22001 value too long. Such a value fails the
 * same way on every delivery; outages and conflicts have other classes (08, 57, 40, 53, 23).
 */
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

/**
 * The short reason when a failure is the entry's own fault, else undefined (a retry may succeed):
 * an entry that does not decode (InvalidEventError), or a value Postgres refuses. No retry can fix
 * those, so the runner dead-letters the entry on the spot instead of redelivering it through claim
 * cycles (each with an error line and a stack) until CHORUS_MAX_DELIVERIES.
 */
export function entryFault(err: unknown): string | undefined {
  if (err instanceof InvalidEventError) return err.message;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (e && typeof e.code === 'string' && DATA_EXCEPTION.test(e.code)) {
    return `postgres ${e.code}: ${String(e.message ?? 'data exception')}`.slice(0, 300);
  }
  return undefined;
}

/** The last failure seen for an entry (`tenant/seq`), shared by the runners of a process. */
export type FailureMemo = Map<string, { message: string; dependency: boolean }>;
const MEMO_LIMIT = 10_000;
/** The longest block of an idle lane's read (it doubles from config.processors.blockMs while nothing comes). */
const IDLE_BLOCK_MAX_MS = 8_000;

export interface RunnerOptions {
  definition: ProcessorDefinition;
  config: Config;
  sql: Sql;
  /** Shared non-blocking connection (acks, claims, dead letters, CLIENT UNBLOCK). */
  redis: RedisClient;
  directory: TenantDirectory;
  log: Logger;
  /** Unique within the group: `${hostname}-${pid}-${index}`. */
  consumer: string;
  failures?: FailureMemo;
}

/** One blocking connection reading the streams of a set of tenants that share a Cluster slot. */
interface Lane {
  tenants: string[];
  conn: RedisClient;
  clientId?: number;
  active: boolean;
  /** True while a read is outstanding: nothing of ours is in flight, the lane may be abandoned. */
  reading: boolean;
  done: Promise<void>;
}

export class Runner {
  readonly consumer: string;
  private readonly def: ProcessorDefinition;
  /** The stream this group reads per tenant (the event stream unless the definition names another). */
  private readonly stream: StreamKeyOf;
  private readonly batchSize: number;
  private readonly log: Logger;
  private readonly failures: FailureMemo;
  private readonly lanes = new Map<string, Lane>();
  private readonly abort = new AbortController();
  private running = false;
  private claims?: Promise<void>;
  private upkeep?: Promise<void>;
  private unsubscribe?: () => void;
  /** While a dependency is down, claiming pauses (claims would only inflate delivery counts). */
  private gateUntil = 0;
  private gateAttempts = 0;
  /** Claim ticks visit the active tenants and a bounded slice of the idle ones. */
  private readonly claimSweep = new TenantSweep();

  constructor(private readonly opts: RunnerOptions) {
    this.def = opts.definition;
    this.stream = opts.definition.stream ?? keys.events;
    this.batchSize = Math.max(1, opts.definition.batch?.(opts.config) ?? opts.config.processors.batch);
    this.consumer = opts.consumer;
    this.log = opts.log.child({ group: this.def.name, consumer: opts.consumer });
    this.failures = opts.failures ?? new Map();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.opts.directory.onChange(() => this.syncLanes());
    this.syncLanes();
    this.claims = this.runClaims();
    if (this.def.periodic) this.upkeep = this.runPeriodic(this.def.periodic);
  }

  /** Stops reading, finishes and acks the batches in flight, closes the blocking connections. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.abort.abort();
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    for (const lane of lanes) this.interrupt(lane);
    await Promise.all([...lanes.map((l) => this.laneStopped(l)), this.claims, this.upkeep]);
    for (const l of lanes) l.conn.disconnect();
    this.log.info('runner stopped');
  }

  private syncLanes(): void {
    if (!this.running) return;
    const groups = groupBySlot(this.opts.directory.tenants(), (t) => this.stream(t), isCluster(this.opts.redis));
    const seen = new Set<string>();
    for (const tenants of groups) {
      const id = tenants[0] as string; // stable: the directory lists tenants in discovery order
      seen.add(id);
      const lane = this.lanes.get(id);
      if (!lane) this.openLane(id, tenants);
      else if (lane.tenants.join() !== tenants.join()) {
        lane.tenants = tenants;
        this.interrupt(lane);
      }
    }
    for (const [id, lane] of this.lanes) {
      if (seen.has(id)) continue;
      this.lanes.delete(id);
      lane.active = false;
      this.interrupt(lane);
      void this.laneStopped(lane).then(() => lane.conn.disconnect());
    }
  }

  /**
   * Resolves when the lane's loop ended, or when it is still only reading past BLOCK: a read that
   * waits for a Redis that is down would wait forever (blocking connections retry without limit).
   */
  private laneStopped(lane: Lane): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (lane.reading) resolve();
      }, this.opts.config.processors.blockMs + 1000);
      void lane.done.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private openLane(id: string, tenants: string[]): void {
    const conn = createRedis(this.opts.config, { name: `processor:${this.def.name}:${this.consumer}`, blocking: true });
    const lane: Lane = { tenants, conn, active: true, reading: false, done: Promise.resolve() };
    conn.on('error', (err) => this.log.warn({ err, lane: id }, 'read connection error'));
    if (!isCluster(conn)) {
      // The id changes with every reconnect; it lets us interrupt a blocked read (CLIENT UNBLOCK).
      conn.on('ready', () => {
        conn.client('ID').then((cid) => (lane.clientId = Number(cid)), () => (lane.clientId = undefined));
      });
    }
    lane.done = this.runLane(lane, id);
    this.lanes.set(id, lane);
  }

  /** Makes a blocked read return now, so that tenant changes and stop() need not wait for BLOCK. */
  private interrupt(lane: Lane): void {
    if (lane.clientId === undefined || isCluster(this.opts.redis)) return;
    this.opts.redis.client('UNBLOCK', lane.clientId).catch((err) => this.log.debug({ err }, 'CLIENT UNBLOCK failed'));
  }

  private async runLane(lane: Lane, id: string): Promise<void> {
    const { blockMs } = this.opts.config.processors;
    // An idle lane blocks longer and longer (new entries end a block at once; a read naming a
    // thousand streams costs Redis milliseconds, so idle reads must be rare). Only where CLIENT
    // UNBLOCK can end a block early for tenant changes and stop(): not on a Cluster.
    const maxBlockMs = isCluster(lane.conn) ? blockMs : Math.max(blockMs, IDLE_BLOCK_MAX_MS);
    let block = blockMs;
    let attempt = 0;
    while (this.running && lane.active) {
      let batches;
      lane.reading = true;
      try {
        batches = await readGroup(lane.conn, this.def.name, this.consumer, lane.tenants, this.batchSize, Math.max(10, block), this.stream);
        block = batches.length ? blockMs : Math.min(maxBlockMs, block * 2);
        attempt = 0;
      } catch (err) {
        if (!this.running || !lane.active) break;
        attempt++;
        this.log.warn({ err, lane: id, tenants: lane.tenants.length, attempt }, 'stream read failed; backing off');
        const missing = /NOGROUP No such key '[^']*\{([^}]+)\}/.exec(String((err as Error).message))?.[1];
        if (missing) await this.repair(missing).catch((e) => this.log.warn({ err: e, tenant_id: missing }, 'repair failed'));
        await sleep(backoffDelay(attempt), this.abort.signal);
        continue;
      } finally {
        lane.reading = false;
      }
      for (const b of batches) this.opts.directory.touch(b.tenantId);
      await Promise.all(batches.map((b) => this.processUntilDone(b.tenantId, b.events)));
      // A read that did not fill a batch: let the next one gather (every batch costs a read, an
      // ack and a transaction whatever its size). A full batch means a backlog: read on at once.
      const { gatherMs } = this.opts.config.processors;
      const read = batches.reduce((n, b) => n + b.events.length, 0);
      if (gatherMs > 0 && read > 0 && read < this.batchSize && this.running && lane.active) await sleep(gatherMs, this.abort.signal);
    }
  }

  private async runClaims(): Promise<void> {
    const { claimIntervalMs } = this.opts.config.processors;
    let attempt = 0;
    while (this.running) {
      await sleep(attempt ? Math.max(claimIntervalMs, backoffDelay(attempt)) : claimIntervalMs, this.abort.signal);
      if (!this.running || Date.now() < this.gateUntil) continue;
      try {
        const { directory } = this.opts;
        for (const tenantId of this.claimSweep.next(directory.tenants(), directory.active())) {
          if (!this.running) break;
          await this.claimTenant(tenantId);
        }
        attempt = 0;
      } catch (err) {
        attempt++;
        this.log.warn({ err, attempt }, 'claim round failed; backing off');
      }
    }
  }

  /**
   * After NOGROUP: the directory recreates groups on the event stream; a group over its own stream
   * recreates it there when the tenant is still served.
   */
  private async repair(tenantId: string): Promise<void> {
    if (!this.def.stream) return this.opts.directory.repair(tenantId);
    if (!this.opts.directory.tenants().includes(tenantId)) return;
    await ensureGroup(this.opts.redis, tenantId, this.def.name, '0', this.stream);
    this.log.warn({ tenant_id: tenantId }, 'consumer group was missing on its stream; recreated');
  }

  /** Runs the definition's upkeep every intervalMs; failures are logged and backed off. */
  private async runPeriodic(periodic: NonNullable<ProcessorDefinition['periodic']>): Promise<void> {
    const { config, sql, redis } = this.opts;
    const every = Math.max(10, periodic.intervalMs(config));
    let attempt = 0;
    while (this.running) {
      await sleep(attempt ? Math.max(every, backoffDelay(attempt)) : every, this.abort.signal);
      if (!this.running || Date.now() < this.gateUntil) continue;
      try {
        await periodic.run({ tenants: this.opts.directory.tenants(), active: this.opts.directory.active(), sql, redis, config, log: this.log });
        attempt = 0;
      } catch (err) {
        attempt++;
        this.log.warn({ err, attempt }, 'periodic upkeep failed; backing off');
      }
    }
  }

  /** Takes over entries idle past claimIdleMs; those delivered too often go to the dead letters. */
  private async claimTenant(tenantId: string): Promise<void> {
    const { claimIdleMs, maxDeliveries } = this.opts.config.processors;
    const { redis } = this.opts;
    const group = this.def.name;
    const claimed = await autoClaim(redis, tenantId, group, this.consumer, claimIdleMs, this.batchSize, this.stream);
    if (!claimed.length) return;
    this.opts.directory.touch(tenantId);
    const counts = await Promise.all(
      claimed.map((e) => deliveryCounts(redis, tenantId, group, this.consumer, e.seq, e.seq, 1, this.stream).then((m) => m.get(e.seq))),
    );
    const again: StreamEvent[] = [];
    for (const [i, e] of claimed.entries()) {
      const deliveries = counts[i];
      if (deliveries === undefined) continue; // no longer ours (trimmed, or acked meanwhile)
      const last = this.failures.get(`${tenantId}/${e.seq}`);
      // An entry that only ever met an outage is not poison: it is retried, whatever its count.
      if (deliveries <= maxDeliveries || last?.dependency) {
        again.push(e);
        continue;
      }
      const error = last?.message ?? 'exceeded max deliveries';
      await deadLetter(redis, tenantId, group, e, { error, deliveries, consumer: this.consumer }, this.stream);
      this.failures.delete(`${tenantId}/${e.seq}`);
      metrics.deadLettered.inc({ queue: group, tenant: tenantLabels.peek(tenantId) });
      metrics.processorProcessed.inc({ queue: group, outcome: 'dead_lettered', tenant: tenantLabels.label(tenantId) });
      this.log.error({ tenant_id: tenantId, seq: e.seq, type: e.type, deliveries, error }, 'entry dead-lettered');
    }
    if (again.length) {
      this.log.info({ tenant_id: tenantId, count: again.length, first: again[0]?.seq }, 'claimed idle entries');
      await this.processUntilDone(tenantId, again);
    }
  }

  /** Processes until nothing is left but poison; dependency failures are retried with backoff. */
  private async processUntilDone(tenantId: string, events: StreamEvent[]): Promise<void> {
    let pending = events;
    let attempt = 0;
    while (pending.length) {
      pending = await this.process(tenantId, pending);
      if (!pending.length || !this.running) return; // on stop, what is left stays pending for a claim
      attempt++;
      await sleep(backoffDelay(attempt), this.abort.signal);
    }
  }

  /**
   * Handles and acks one tenant batch; returns the entries to retry after a dependency failure. Each
   * wanted entry is decoded here, once (a retry keeps the decoded entry); one that does not decode
   * never reaches the handler: it is dead-lettered at once with its reason.
   */
  private async process(tenantId: string, events: StreamEvent[]): Promise<StreamEvent[]> {
    const queue = this.def.name;
    const done: StreamEvent[] = [];
    const wanted: DecodedEvent[] = [];
    let skipped = 0;
    for (const e of events) {
      if (!this.def.canHandle(e.type)) {
        done.push(e);
        skipped++;
        continue;
      }
      let decoded: DecodedEvent;
      try {
        decoded = decodeEvent(e);
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err;
        if (!(await this.deadLetterNow(tenantId, e, err.message))) this.remember(tenantId, e, err, false);
        continue;
      }
      wanted.push(decoded);
    }
    if (skipped) metrics.processorProcessed.inc({ queue, outcome: 'skipped', tenant: tenantLabels.label(tenantId, skipped) }, skipped);
    let retry: StreamEvent[] = [];
    let outage: unknown;
    if (wanted.length) {
      const err = await this.tryHandle(tenantId, wanted);
      if (!err) done.push(...this.succeeded(tenantId, wanted));
      else if (isDependencyError(err)) [retry, outage] = [wanted, err];
      else {
        const batch = { tenant_id: tenantId, count: wanted.length, first: wanted[0]?.seq, last: wanted.at(-1)?.seq };
        const fault = entryFault(err);
        // An entry's bad data is reported once, by the entry below: no stack here for it.
        if (fault !== undefined) this.log.debug({ ...batch, reason: fault }, 'batch failed on an entry\'s data; retrying entry by entry');
        else this.log.error({ err, ...batch }, 'batch failed; retrying entry by entry');
        for (const [i, e] of wanted.entries()) {
          const err1 = await this.tryHandle(tenantId, [e]);
          if (!err1) done.push(...this.succeeded(tenantId, [e]));
          else if (isDependencyError(err1)) {
            [retry, outage] = [wanted.slice(i), err1];
            break;
          } else {
            const reason = entryFault(err1);
            if (reason !== undefined && (await this.deadLetterNow(tenantId, e, reason))) continue;
            this.remember(tenantId, e, err1, false);
            metrics.processorProcessed.inc({ queue, outcome: 'failed', tenant: tenantLabels.label(tenantId) });
            this.log.error({ err: err1, tenant_id: tenantId, seq: e.seq, type: e.type }, 'entry failed; left pending');
          }
        }
      }
    }
    if (retry.length) {
      for (const e of retry) this.remember(tenantId, e, outage, true);
      metrics.processorProcessed.inc({ queue, outcome: 'retry', tenant: tenantLabels.label(tenantId, retry.length) }, retry.length);
      this.gateAttempts++;
      this.gateUntil = Date.now() + backoffDelay(this.gateAttempts);
      this.log.warn({ err: outage, tenant_id: tenantId, count: retry.length, attempt: this.gateAttempts }, 'dependency unavailable; will retry');
    }
    await this.ack(tenantId, done);
    return retry;
  }

  /**
   * Dead-letters an entry that failed by its own data (entryFault) at its first failure: one dead
   * letter with the short reason, one warning line without a stack. False when Redis refused: the
   * entry then stays pending and the claims take it up like any failure.
   */
  private async deadLetterNow(tenantId: string, e: StreamEvent, reason: string): Promise<boolean> {
    const { redis } = this.opts;
    const group = this.def.name;
    try {
      const counts = await deliveryCounts(redis, tenantId, group, this.consumer, e.seq, e.seq, 1, this.stream);
      const deliveries = counts.get(e.seq) ?? 1;
      await deadLetter(redis, tenantId, group, e, { error: reason, deliveries, consumer: this.consumer }, this.stream);
    } catch (err) {
      this.log.warn({ err, tenant_id: tenantId, seq: e.seq }, 'could not dead-letter an entry; it stays pending');
      return false;
    }
    this.failures.delete(`${tenantId}/${e.seq}`);
    metrics.deadLettered.inc({ queue: group, tenant: tenantLabels.peek(tenantId) });
    metrics.processorProcessed.inc({ queue: group, outcome: 'dead_lettered', tenant: tenantLabels.label(tenantId) });
    this.log.warn({ tenant_id: tenantId, seq: e.seq, type: e.type, reason }, 'entry dead-lettered: its data can never be applied');
    return true;
  }

  private async tryHandle(tenantId: string, events: DecodedEvent[]): Promise<unknown> {
    const end = metrics.processorBatchDuration.startTimer({ queue: this.def.name });
    try {
      const { sql, redis } = this.opts;
      await inBatchSpan(this.def.name, tenantId, events,
        () => this.def.handle({ tenantId, events, sql, redis, config: this.opts.config, log: this.log.child({ tenant_id: tenantId }) }));
      return undefined;
    } catch (err) {
      return err ?? new Error('handler threw a nullish value');
    } finally {
      end();
    }
  }

  private succeeded(tenantId: string, events: StreamEvent[]): StreamEvent[] {
    this.gateAttempts = 0;
    this.gateUntil = 0;
    for (const e of events) this.failures.delete(`${tenantId}/${e.seq}`);
    metrics.processorProcessed.inc({ queue: this.def.name, outcome: 'ok', tenant: tenantLabels.label(tenantId, events.length) }, events.length);
    if (logSampler.take('batch')) this.log.info({ tenant_id: tenantId, count: events.length, last: events.at(-1)?.seq, sampled_1_in: logSampler.rate }, 'batch processed');
    return events;
  }

  private remember(tenantId: string, e: StreamEvent, err: unknown, dependency: boolean): void {
    const key = `${tenantId}/${e.seq}`;
    const known = this.failures.get(key);
    // A real error is the better dead-letter reason: an outage does not overwrite it.
    if (dependency && known && !known.dependency) return;
    this.failures.delete(key);
    if (this.failures.size >= MEMO_LIMIT) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(key, { message: String((err as Error)?.message ?? err), dependency });
  }

  private async ack(tenantId: string, events: StreamEvent[]): Promise<void> {
    if (!events.length) return;
    try {
      await ack(this.opts.redis, tenantId, this.def.name, events.map((e) => e.seq), this.stream);
    } catch (err) {
      // Unacked entries are claimed and handled again later: handlers are idempotent.
      this.log.warn({ err, tenant_id: tenantId, count: events.length }, 'ack failed; entries will be redelivered');
      return;
    }
    const now = Date.now();
    for (const e of events) metrics.processorLagSeconds.observe({ queue: this.def.name }, (now - seqMillis(e.seq)) / 1000);
  }
}
