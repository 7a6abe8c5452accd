// Helpers of the read-model integration tests: the processor groups in this process (restricted to
// the test's tenants), waiting until groups reached the stream head, and the read models as a
// straightforward recomputation from the persist and receipts groups' tables (messages,
// thread_participants, threads, read_receipts) to compare with what the counters and inbox
// groups maintain incrementally.
import type { Config } from '../../config/index.js';
import { createSql, withTenant, type Sql } from '../../core/db.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis.js';
import { seqSortKey, type Seq } from '../../core/seq.js';
import { headSeq } from '../../core/stream-commands.js';
import type { ProcessorDefinition } from '../../processors/definition.js';
import { startProcessorGroup, type ProcessorGroup } from '../../processors/group.js';
import { persist } from '../../processors/persist.js';
import { countersProcessor } from '../../processors/counters.js';
import { inbox } from '../../processors/inbox.js';
import { receipts } from '../../processors/receipts.js';
import { projectorProcessor } from '../../processors/projector.js';
import { previewText } from '../../processors/read-model-facts.js';
import { groupReached } from '../../projections/sync.js';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Authenticator } from '../../core/auth.js';
import { config as testConfig, createAuthenticator, log as testLog, migrateDb, startTestGateway, testRedis, type Tenant, type TestGateway, type User } from './api.js';

/** The read models as npm start runs them: one projector group (processors/projector.ts). */
export const READ_MODEL_GROUPS = ['projector'] as const;
/** The same read models as four groups of their own, which a deployment may run instead. */
export const SEPARATE_READ_MODEL_GROUPS = ['persist', 'counters', 'inbox', 'receipts'] as const;
export type GroupName = (typeof READ_MODEL_GROUPS)[number] | (typeof SEPARATE_READ_MODEL_GROUPS)[number];

export function definitionOf(name: GroupName): ProcessorDefinition {
  switch (name) {
    case 'projector': return projectorProcessor();
    case 'persist': return persist;
    case 'counters': return countersProcessor();
    case 'inbox': return inbox;
    case 'receipts': return receipts;
  }
}

/** Starts the groups in this process, serving only the tenants `accept` admits. */
export async function startGroups(
  config: Config, sql: Sql, log: Logger, accept: (tenantId: string) => boolean,
  names: readonly GroupName[] = READ_MODEL_GROUPS, consumers = 1,
): Promise<ProcessorGroup[]> {
  return Promise.all(names.map((n) => startProcessorGroup({ definition: definitionOf(n), config, sql, log, consumers, accept })));
}

export async function stopGroups(groups: ProcessorGroup[] | undefined): Promise<void> {
  await Promise.all((groups ?? []).map((g) => g.stop()));
}

export interface ReadModelHarness {
  sql: Sql;
  redis: RedisClient;
  auth: Authenticator;
  gw: TestGateway;
  groups: ProcessorGroup[];
  /** Tenants whose streams the in-process groups serve (a test adds the ones it creates). */
  tenants: Set<string>;
}

/**
 * Registers the before/after hooks of a read-model test file: migrations, a Postgres pool, Redis,
 * a gateway and the read-model projector group in this process, serving the tenants in `tenants`.
 * The fields are set once `before` ran.
 */
export function readModelHarness(app: string): ReadModelHarness {
  const h = { groups: [] as ProcessorGroup[], tenants: new Set<string>() } as ReadModelHarness;
  before(async () => {
    await migrateDb(testConfig);
    h.sql = createSql(testConfig, { max: 6, app });
    h.redis = testRedis(testConfig);
    h.auth = await createAuthenticator(testConfig);
    h.gw = await startTestGateway(testConfig);
    h.groups = await startGroups(testConfig, h.sql, testLog, (t) => h.tenants.has(t));
  });
  after(async () => {
    await stopGroups(h.groups);
    await h.gw?.close();
    h.redis?.disconnect();
    await h.sql?.end({ timeout: 5 });
  });
  return h;
}

/** Waits until every group finished every entry up to the head (the head moves: counters append). */
export async function caughtUp(redis: RedisClient, tenantId: string, groups: readonly string[] = READ_MODEL_GROUPS, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  for (;;) {
    const head = await headSeq(redis, tenantId);
    const ok = (await Promise.all(groups.map((g) => groupReached(redis, tenantId, g, head)))).every(Boolean);
    // Twice in a row at the same head: the inbox.updated entries of the last batch were handled too.
    if (ok && (await headSeq(redis, tenantId)) === head) {
      if (++stable >= 2) return;
    } else stable = 0;
    if (Date.now() > deadline) throw new Error(`groups ${groups.join(', ')} did not catch up with ${head} of ${tenantId} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface CounterRow {
  unread: number;
  lastRead: string | null;
  activity: string;
}

export interface ProjectionRow {
  title: string | null;
  lastMessageId: string | null;
  lastMessageAt: string | null;
  lastSenderId: string | null;
  lastPreviewText: string | null;
  attachmentFlag: boolean;
}

export interface ReadModelState {
  /** `${thread}/${user}` → row */
  counters: Record<string, CounterRow>;
  /** thread → row */
  projection: Record<string, ProjectionRow>;
}

/** The read models recomputed from messages, thread_participants, threads and read_receipts. */
export async function expectedState(sql: Sql, tenantId: string): Promise<ReadModelState> {
  return withTenant(sql, tenantId, async (tx) => {
    const threads = await tx<{ id: string; title: string | null; seq_key: string }[]>`select id, title, seq_key from threads`;
    const members = await tx<{ thread_id: string; user_id: string }[]>`
      select thread_id, user_id from thread_participants where removed_at is null`;
    const messages = await tx<{ id: string; thread_id: string; sender_id: string; seq: string; body: string; attachment_ids: string[]; created_at: Date }[]>`
      select id, thread_id, sender_id, seq, body, attachment_ids, created_at from messages where deleted_at is null`;
    const reads = await tx<{ thread_id: string; user_id: string; last_read_seq_key: string; last_read_message_id: string }[]>`
      select thread_id, user_id, last_read_seq_key, last_read_message_id from read_receipts`;
    const byThread = new Map<string, { id: string; sender: string; key: string; body: string; att: boolean; at: Date }[]>();
    for (const m of messages) {
      let l = byThread.get(m.thread_id);
      if (!l) byThread.set(m.thread_id, (l = []));
      l.push({ id: m.id, sender: m.sender_id, key: seqSortKey(m.seq as Seq), body: m.body, att: m.attachment_ids.length > 0, at: m.created_at });
    }
    for (const l of byThread.values()) l.sort((a, b) => (a.key < b.key ? -1 : 1));
    const readOf = new Map(reads.map((r) => [`${r.thread_id}/${r.user_id}`, r]));
    const created = new Map(threads.map((t) => [t.id, t.seq_key]));
    const state: ReadModelState = { counters: {}, projection: {} };
    for (const m of members) {
      const r = readOf.get(`${m.thread_id}/${m.user_id}`);
      const list = byThread.get(m.thread_id) ?? [];
      state.counters[`${m.thread_id}/${m.user_id}`] = {
        unread: list.filter((x) => x.sender !== m.user_id && x.key > (r?.last_read_seq_key ?? '')).length,
        lastRead: r?.last_read_message_id ?? null,
        activity: list.at(-1)?.key ?? created.get(m.thread_id) ?? '',
      };
    }
    for (const t of threads) {
      const last = byThread.get(t.id)?.at(-1);
      state.projection[t.id] = {
        title: t.title,
        lastMessageId: last?.id ?? null,
        lastMessageAt: last ? last.at.toISOString() : null,
        lastSenderId: last?.sender ?? null,
        lastPreviewText: last ? previewText(last.body) : null,
        attachmentFlag: last?.att ?? false,
      };
    }
    return state;
  });
}

/** What the counters and inbox groups hold. */
export async function actualState(sql: Sql, tenantId: string): Promise<ReadModelState> {
  return withTenant(sql, tenantId, async (tx) => {
    const counters = await tx<{ thread_id: string; user_id: string; unread_count: number; last_read_message_id: string | null; activity_key: string }[]>`
      select thread_id, user_id, unread_count, last_read_message_id, activity_key from thread_user_counters`;
    const projection = await tx<{
      thread_id: string; title: string | null; last_message_id: string | null; last_message_at: Date | null;
      last_sender_id: string | null; last_preview_text: string | null; attachment_flag: boolean;
    }[]>`
      select thread_id, title, last_message_id, last_message_at, last_sender_id, last_preview_text, attachment_flag
      from thread_inbox_projection`;
    const state: ReadModelState = { counters: {}, projection: {} };
    for (const c of counters) {
      state.counters[`${c.thread_id}/${c.user_id}`] = { unread: c.unread_count, lastRead: c.last_read_message_id, activity: c.activity_key };
    }
    for (const p of projection) {
      state.projection[p.thread_id] = {
        title: p.title,
        lastMessageId: p.last_message_id,
        lastMessageAt: p.last_message_at ? p.last_message_at.toISOString() : null,
        lastSenderId: p.last_sender_id,
        lastPreviewText: p.last_preview_text,
        attachmentFlag: p.attachment_flag,
      };
    }
    return state;
  });
}

// ---------------------------------------------------------------------------------------------
// Random traffic through the HTTP API

/** mulberry32 (the harness' seeded generator), so a failing run can be repeated (the seed is in the message). */
export { seededRng as rng } from '../../benchmarks/lib/rng.js';

interface ModelMessage { id: string; threadId: string; sender: string; deleted: boolean }

/** Random traffic through the HTTP API; the model only steers choices, the server is the truth. */
export class Traffic {
  readonly threads = new Map<string, Set<string>>();
  readonly messages: ModelMessage[] = [];
  readonly statuses = new Map<number, number>();
  constructor(private readonly users: User[], private readonly admin: User, private readonly random: () => number) {}

  private pick<T>(xs: T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.random() * xs.length)] : undefined;
  }

  private count(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  private body(): string {
    const r = this.random();
    if (r < 0.1) return '🎉'.repeat(150) + 'x'.repeat(Math.floor(this.random() * 5)); // 300+ chars of surrogate pairs
    if (r < 0.2) return 'x'.repeat(199) + '😀' + 'tail';
    return `msg ${Math.floor(this.random() * 1e6)}`;
  }

  async op(): Promise<void> {
    const u = this.pick(this.users)!;
    const mine = [...this.threads].filter(([, m]) => m.has(u.userId)).map(([id]) => id);
    const r = this.random();
    if (r < 0.08 || !mine.length) {
      const others = this.users.filter((x) => x !== u && this.random() < 0.5).map((x) => x.userId);
      const res = await u.createThread(others, this.random() < 0.5 ? `t${Math.floor(this.random() * 1000)}` : undefined);
      this.count(res.status);
      if (res.status === 201) this.threads.set(res.body.thread.id, new Set(res.body.thread.participantIds));
      return;
    }
    const th = this.pick(mine)!;
    if (r < 0.48) {
      const res = await u.post({ threadId: th, body: this.body() });
      this.count(res.status);
      if (res.status === 202) this.messages.push({ id: res.body.message.id, threadId: th, sender: u.userId, deleted: false });
    } else if (r < 0.56) {
      const m = this.pick(this.messages.filter((x) => x.sender === u.userId && !x.deleted));
      if (m) this.count((await u.edit(m.id, this.body())).status);
    } else if (r < 0.64) {
      const admin = this.random() < 0.2;
      const m = this.pick(this.messages.filter((x) => (admin || x.sender === u.userId) && !x.deleted));
      if (m) {
        m.deleted = true;
        this.count((await (admin ? this.admin : u).remove(m.id)).status);
      }
    } else if (r < 0.84) {
      const m = this.pick(this.messages.filter((x) => x.threadId === th));
      if (m) this.count((await u.api.post(`/api/threads/${th}/read`, u.token, { lastReadMessageId: m.id })).status);
    } else if (r < 0.92) {
      const out = this.users.filter((x) => !this.threads.get(th)!.has(x.userId));
      const who = this.pick(out);
      if (who) {
        const res = await u.addParticipant(th, who.userId);
        this.count(res.status);
        if (res.status === 204) this.threads.get(th)!.add(who.userId);
      }
    } else {
      const res = await u.removeParticipant(th, u.userId);
      this.count(res.status);
      if (res.status === 204) this.threads.get(th)!.delete(u.userId);
    }
  }

  /** `ops` operations by `workers` concurrent clients (so the stream interleaves users and threads). */
  async run(ops: number, workers = 4, between?: (done: number) => Promise<void>): Promise<void> {
    let done = 0;
    await Promise.all(Array.from({ length: workers }, async () => {
      while (done < ops) {
        done++;
        await this.op();
        await between?.(done);
      }
    }));
  }

  assertNoServerErrors(): void {
    const bad = [...this.statuses].filter(([s]) => s >= 500 || (s >= 400 && ![403, 404, 409].includes(s)));
    assert.deepEqual(bad, [], `unexpected statuses: ${JSON.stringify([...this.statuses])}`);
  }
}

export async function people(t: Tenant, n: number): Promise<{ users: User[]; admin: User }> {
  const users = await Promise.all(Array.from({ length: n }, (_, i) => t.user(`u${i}`)));
  return { users, admin: await t.user('root', { admin: true }) };
}

