// GET /api/sync: the user's state as of a stream position `seq` (docs/read-models.md, "Sync").
// 1. seq = the tenant stream's head H.
// 2. Wait (bounded) until the groups the snapshot reads, `counters` and `inbox`, have finished
//    every entry ≤ H: last-delivered-id ≥ H and no pending entry ≤ H. An entry is acknowledged only
//    after its transaction committed, so from then on Postgres holds every effect of every entry ≤ H.
// 3. Read the inbox's first page in one statement (one snapshot).
// The snapshot may also reflect entries after H (the processors keep going); replaying those on
// /ws?lastSeq=H is harmless: message events are keyed by id and inbox.updated / read_receipt.updated
// carry absolute values, so the client converges to the same state.
import type { Sql } from '../core/db.js';
import { AppError } from '../core/errors.js';
import { metrics } from '../core/metrics.js';
import type { RedisClient } from '../core/redis.js';
import { compareSeq, type Seq } from '../core/seq.js';
import { groupProgress, streamInfo } from '../core/stream-commands.js';
import { sleep } from '../core/backoff.js';
import { readInbox, type InboxPage } from './inbox.js';

/** The consumer groups whose tables the snapshot reads. */
export const SYNC_GROUPS = ['counters', 'inbox'] as const;

export interface SyncOptions {
  /** Longest wait for the groups to reach the head, then 503 (default 3000 ms). */
  maxWaitMs?: number;
  pollMs?: number;
}

export interface SyncSnapshot {
  seq: string;
  inbox: InboxPage;
  /** Filled by the route (gateway/routes/read-state.ts) from the presence store: not stream state. */
  presence: unknown[];
}

/** Whether `group` has finished every entry ≤ head of the tenant's stream. */
export async function groupReached(r: RedisClient, tenantId: string, group: string, head: Seq): Promise<boolean> {
  const p = await groupProgress(r, tenantId, group);
  if (!p) return false;
  return compareSeq(p.lastDelivered, head) >= 0 && (p.oldestPending === null || compareSeq(p.oldestPending, head) > 0);
}

/** Waits until every group reached `head`; throws 503 with Retry-After after maxWaitMs. */
export async function awaitGroups(r: RedisClient, tenantId: string, head: Seq, opts: SyncOptions = {}): Promise<void> {
  const maxWaitMs = opts.maxWaitMs ?? 3000;
  const pollMs = opts.pollMs ?? 20;
  const started = Date.now();
  const waiting = new Set<string>(SYNC_GROUPS);
  for (;;) {
    const done = await Promise.all([...waiting].map(async (g) => [g, await groupReached(r, tenantId, g, head)] as const));
    for (const [g, ok] of done) if (ok) waiting.delete(g);
    if (!waiting.size) break;
    if (Date.now() - started >= maxWaitMs) {
      throw new AppError('dependency_unavailable', `read models are behind the stream (waiting for ${[...waiting].join(', ')})`,
        { waitingFor: [...waiting] }, 1);
    }
    await sleep(pollMs);
  }
  metrics.syncWait.observe((Date.now() - started) / 1000);
}

export async function readSync(sql: Sql, r: RedisClient, tenantId: string, userId: string, opts: SyncOptions = {}): Promise<SyncSnapshot> {
  // The last id ever generated, not the newest entry held: a stream trimmed to empty must still
  // give a position the websocket accepts as a resume point (no resync loop).
  const head = (await streamInfo(r, tenantId)).lastGeneratedId;
  // An empty stream has nothing to wait for (and no groups yet).
  if (compareSeq(head, '0-0' as Seq) > 0) await awaitGroups(r, tenantId, head, opts);
  const inbox = await readInbox(sql, tenantId, userId);
  return { seq: head, inbox, presence: [] };
}
