// Rebuild of one read model (`inbox` or `counters`) of one tenant from the event log, while live
// traffic continues (`npm run chorus -- rebuild inbox|counters --tenant T`):
// 1. Bulk, without locks: the stream as retained, then event_archive below the stream's first entry
//    (an entry is trimmed only after every group, persist included, finished it), folded into the
//    rebuild twins (`*_rebuild` tables). The fold is order-independent, so the two sources may
//    overlap and come in any order.
// 2. Swap, in one transaction holding the group's tenant lock exclusive (live batches of the tenant
//    wait at their first statement): the twins take the stream up to the current head H; the live
//    tables take every entry the group may not have finished (after its safe watermark) up to H, so
//    both hold exactly the effects of every entry ≤ H; checksums of both are compared; the tenant's
//    live rows are replaced by the twins' rows. Readers see the old rows until the commit, then the
//    new ones. Entries after H, and entries the group redelivers, are applied by the live group
//    afterwards as usual (idempotently).
import type { Sql, Tx } from '../core/db.js';
import { withTenant } from '../core/db.js';
import { EVENT, InvalidEventError, decodeEvent, type StreamEvent } from '../core/events/index.js';
import { keys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis.js';
import { compareSeq, seqSortKey, ZERO_SEQ, type Seq } from '../core/seq.js';
import { firstSeq, groupProgress, headSeq, rangeAfter } from '../core/stream-commands.js';
import {
  COUNTERS_REBUILD_TABLES, COUNTERS_TABLES, applyCounterFacts, applyCounters, deriveAllCounters,
} from './counters-store.js';
import { INBOX_REBUILD_TABLES, INBOX_TABLES, applyInbox } from './inbox.js';
import { liveGroupsOf, lockTenantExclusive, type LockedGroup } from './read-model-sql.js';
import { MEMBERSHIP_EVENTS, MESSAGE_EVENTS, emptyFacts, foldEvent, type FactBatch } from './read-model-facts.js';
import type { ArchiveRow as PersistArchiveRow } from './persist-reducer.js';

export type RebuildKind = 'inbox' | 'counters';

interface TableSpec {
  live: string;
  twin: string;
  /** Compared columns (updated_at is not: it records when, not what). */
  cols: string[];
  key: string[];
}

const MESSAGE_COLS = ['message_id', 'thread_id', 'seq_key', 'sender_id', 'created_at', 'preview', 'attachment_flag', 'body_key', 'deleted'];

interface Target {
  group: LockedGroup;
  handles: ReadonlySet<string>;
  tables: TableSpec[];
  /** Bulk phase: fold a page into the twins. */
  bulk(tx: Tx, tenantId: string, batch: FactBatch): Promise<void>;
  /** After the bulk phase: derive what the bulk phase did not. */
  finish(tx: Tx, tenantId: string): Promise<void>;
  /** A complete, incremental apply to the live tables (twin: false) or the finished twins. */
  apply(tx: Tx, tenantId: string, batch: FactBatch, twin: boolean): Promise<void>;
}

const TARGETS: Record<RebuildKind, Target> = {
  counters: {
    group: 'counters',
    handles: new Set([...MESSAGE_EVENTS, ...MEMBERSHIP_EVENTS, EVENT.readReceiptUpdated]),
    tables: [
      { live: COUNTERS_TABLES.messages, twin: COUNTERS_REBUILD_TABLES.messages, cols: MESSAGE_COLS, key: ['message_id'] },
      { live: COUNTERS_TABLES.members, twin: COUNTERS_REBUILD_TABLES.members, cols: ['thread_id', 'user_id', 'active', 'seq_key'], key: ['thread_id', 'user_id'] },
      { live: COUNTERS_TABLES.reads, twin: COUNTERS_REBUILD_TABLES.reads, cols: ['thread_id', 'user_id', 'read_seq_key', 'last_read_message_id'], key: ['thread_id', 'user_id'] },
      { live: COUNTERS_TABLES.threads, twin: COUNTERS_REBUILD_TABLES.threads, cols: ['thread_id', 'created_key'], key: ['thread_id'] },
      {
        live: COUNTERS_TABLES.counters, twin: COUNTERS_REBUILD_TABLES.counters, key: ['thread_id', 'user_id'],
        cols: ['thread_id', 'user_id', 'unread_count', 'last_read_message_id', 'last_read_seq_key', 'activity_key'],
      },
    ],
    bulk: (tx, t, b) => applyCounterFacts(tx, COUNTERS_REBUILD_TABLES, t, b),
    finish: (tx, t) => deriveAllCounters(tx, COUNTERS_REBUILD_TABLES, t),
    apply: async (tx, t, b, twin) => {
      await applyCounters(tx, twin ? COUNTERS_REBUILD_TABLES : COUNTERS_TABLES, t, b);
    },
  },
  inbox: {
    group: 'inbox',
    handles: new Set([...MESSAGE_EVENTS, EVENT.threadCreated]),
    tables: [
      { live: INBOX_TABLES.messages, twin: INBOX_REBUILD_TABLES.messages, cols: MESSAGE_COLS, key: ['message_id'] },
      {
        live: INBOX_TABLES.projection, twin: INBOX_REBUILD_TABLES.projection, key: ['thread_id'],
        cols: ['thread_id', 'title', 'created_at', 'created_key', 'last_message_id', 'last_message_at', 'last_sender_id',
          'last_preview_text', 'attachment_flag', 'last_seq_key'],
      },
    ],
    bulk: (tx, t, b) => applyInbox(tx, INBOX_REBUILD_TABLES, t, b),
    finish: async () => undefined,
    apply: (tx, t, b, twin) => applyInbox(tx, twin ? INBOX_REBUILD_TABLES : INBOX_TABLES, t, b),
  },
};

export interface RebuildResult {
  kind: RebuildKind;
  tenantId: string;
  /** Stream position the swapped state is exact at. */
  head: string;
  /** Entries folded (stream and archive; overlaps counted twice) and invalid entries skipped. */
  events: number;
  skipped: number;
  /** Entries re-applied to the live tables under the lock (those the group might not have finished). */
  caughtUp: number;
  checksums: Record<string, { live: string; rebuilt: string }>;
  equal: boolean;
  lockedMs: number;
}

const PAGE = 2000;
const MAX_SUB = 18446744073709551615n;

/** The id just before `s`: XRANGE after it starts at `s` itself. */
export function seqBefore(s: Seq): Seq {
  const i = s.indexOf('-');
  const ms = BigInt(s.slice(0, i));
  const n = BigInt(s.slice(i + 1));
  if (n > 0n) return `${ms}-${n - 1n}` as Seq;
  return (ms > 0n ? `${ms - 1n}-${MAX_SUB}` : '0-0') as Seq;
}

type ArchiveRow = PersistArchiveRow;

function fromArchive(r: ArchiveRow): StreamEvent {
  return {
    seq: r.seq as Seq, type: r.type, v: r.v, data: JSON.stringify(r.data),
    ...(r.thread_id ? { threadId: r.thread_id } : {}), ...(r.users ? { users: r.users } : {}), ...(r.actor ? { actor: r.actor } : {}),
  };
}

class Folder {
  events = 0;
  skipped = 0;
  constructor(private readonly target: Target, private readonly log: Logger, private readonly tenantId: string) {}

  /** Folds the entries the group handles; invalid ones are skipped as the live group dead-letters them. */
  fold(events: StreamEvent[]): FactBatch {
    const batch = emptyFacts();
    for (const e of events) {
      if (!this.target.handles.has(e.type)) continue;
      try {
        foldEvent(batch, decodeEvent(e));
        this.events++;
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err;
        this.skipped++;
        this.log.warn({ tenant_id: this.tenantId, seq: e.seq, type: e.type, err }, 'invalid entry skipped by the rebuild');
      }
    }
    return batch;
  }
}

/** Every entry in (after, until], page by page. */
async function* streamPages(redis: RedisClient, tenantId: string, after: Seq, until: Seq): AsyncGenerator<StreamEvent[]> {
  let from = after;
  while (compareSeq(from, until) < 0) {
    const page = await rangeAfter(redis, tenantId, from, until, PAGE);
    if (!page.length) return;
    yield page;
    from = page[page.length - 1]!.seq;
  }
}

async function checksum(tx: Tx, table: string, spec: TableSpec, tenantId: string): Promise<string> {
  const [row] = await tx<{ sum: string }[]>`
    select md5(coalesce(string_agg(row(${tx(spec.cols)})::text, '|' order by ${tx(spec.key)}), '')) as sum
    from ${tx(table)} where tenant_id = ${tenantId}`;
  return row?.sum ?? '';
}

export async function rebuildTenant(opts: {
  kind: RebuildKind; sql: Sql; redis: RedisClient; tenantId: string; log: Logger;
}): Promise<RebuildResult> {
  const { kind, sql, redis, tenantId, log } = opts;
  const target = TARGETS[kind];
  const lockKey = keys.rebuildLock(tenantId, kind);
  if ((await redis.set(lockKey, String(process.pid), 'PX', 3_600_000, 'NX')) !== 'OK') {
    throw new Error(`a rebuild of ${kind} for tenant ${tenantId} is already running`);
  }
  try {
    const folder = new Folder(target, log, tenantId);
    await withTenant(sql, tenantId, async (tx) => {
      for (const s of target.tables) await tx`delete from ${tx(s.twin)} where tenant_id = ${tenantId}`;
    });

    // 1. Bulk: the retained stream, then the archive below its first entry.
    const h1 = await headSeq(redis, tenantId);
    for await (const page of streamPages(redis, tenantId, ZERO_SEQ, h1)) {
      const batch = folder.fold(page);
      await withTenant(sql, tenantId, (tx) => target.bulk(tx, tenantId, batch));
    }
    const first = await firstSeq(redis, tenantId);
    // '~' sorts after every seq key: with no stream left, the whole archive.
    const below = first ? seqSortKey(first) : '~';
    let afterKey = '';
    for (;;) {
      const rows = await withTenant(sql, tenantId, (tx) => tx<ArchiveRow[]>`
        select seq_key, seq, type, v, thread_id, users, actor, data from event_archive
        where tenant_id = ${tenantId} and seq_key > ${afterKey} and seq_key < ${below}
        order by seq_key limit ${PAGE}`);
      if (!rows.length) break;
      afterKey = rows[rows.length - 1]!.seq_key;
      const batch = folder.fold(rows.map(fromArchive));
      await withTenant(sql, tenantId, (tx) => target.bulk(tx, tenantId, batch));
    }
    await withTenant(sql, tenantId, (tx) => target.finish(tx, tenantId));
    log.info({ tenant_id: tenantId, kind, events: folder.events, head: h1 }, 'rebuild: bulk phase done');

    // 2. Catch up and swap under the group's tenant lock.
    let lockedAt = 0;
    const result = await withTenant(sql, tenantId, async (tx) => {
      await lockTenantExclusive(tx, target.group, tenantId);
      lockedAt = Date.now();
      const h2 = await headSeq(redis, tenantId);
      for await (const page of streamPages(redis, tenantId, h1, h2)) await target.apply(tx, tenantId, folder.fold(page), true);
      // Everything ≤ the watermark was acknowledged by the groups that keep the model live (the
      // projector, or the model's own group, whichever exist), hence committed to the live tables.
      const progress = (await Promise.all(liveGroupsOf(target.group).map((g) => groupProgress(redis, tenantId, g))))
        .filter((p) => p !== null);
      let watermark: Seq | null = null;
      for (const p of progress) {
        let w = p.lastDelivered;
        if (p.oldestPending) {
          const before = seqBefore(p.oldestPending);
          if (compareSeq(before, w) < 0) w = before;
        }
        if (watermark === null || compareSeq(w, watermark) < 0) watermark = w;
      }
      watermark ??= ZERO_SEQ;
      let caughtUp = 0;
      const live = new Folder(target, log, tenantId);
      for await (const page of streamPages(redis, tenantId, watermark, h2)) {
        await target.apply(tx, tenantId, live.fold(page), false);
        caughtUp += page.length;
      }
      const checksums: RebuildResult['checksums'] = {};
      for (const s of target.tables) {
        checksums[s.live] = { live: await checksum(tx, s.live, s, tenantId), rebuilt: await checksum(tx, s.twin, s, tenantId) };
      }
      for (const s of target.tables) {
        await tx`delete from ${tx(s.live)} where tenant_id = ${tenantId}`;
        await tx`insert into ${tx(s.live)} select * from ${tx(s.twin)} where tenant_id = ${tenantId}`;
        await tx`delete from ${tx(s.twin)} where tenant_id = ${tenantId}`;
      }
      return { head: h2, caughtUp, checksums };
    });
    const equal = Object.values(result.checksums).every((c) => c.live === c.rebuilt);
    return {
      kind, tenantId, head: result.head, events: folder.events, skipped: folder.skipped, caughtUp: result.caughtUp,
      checksums: result.checksums, equal, lockedMs: Date.now() - lockedAt,
    };
  } finally {
    await redis.del(lockKey);
  }
}
