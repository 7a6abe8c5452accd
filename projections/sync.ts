// GET /api/sync: the user's state as of a stream position `seq` (docs/read-models.md, "Sync").
// 1. seq = the tenant stream's head H.
// 2. Wait (bounded) until the groups the snapshot reads have finished every entry ≤ H
//    (last-delivered-id ≥ H and no pending entry ≤ H): the `projector`, or `counters` and `inbox`
//    where a deployment runs those as groups of their own; whichever set gets there first. An entry is acknowledged only
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

/** The consumer groups whose tables the snapshot reads: any one of these sets having reached H is enough. */
export const SYNC_GROUP_SETS: readonly (readonly string[])[] = [['projector'], ['counters', 'inbox']];

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
  const reached = new Set<string>();
  const groups = [...new Set(SYNC_GROUP_SETS.flat())];
  for (;;) {
    const done = await Promise.all(groups.filter((g) => !reached.has(g)).map(async (g) => [g, await groupReached(r, tenantId, g, head)] as const));
    for (const [g, ok] of done) if (ok) reached.add(g);
    if (SYNC_GROUP_SETS.some((set) => set.every((g) => reached.has(g)))) break;
    if (Date.now() - started >= maxWaitMs) {
      const waiting = groups.filter((g) => !reached.has(g));
      throw new AppError('dependency_unavailable', `read models are behind the stream (waiting for ${waiting.join(', ')})`,
        { waitingFor: waiting }, 1);
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
