// What the filter needs to know right before delivery, read in bulk for a batch of jobs: is the
// message deleted, is the recipient still a participant, has the recipient read it, and is the
// recipient active elsewhere (presence: the gateway keeps it in Redis, core/presence.ts reads it;
// "online" means a live, heartbeating connection, which received message.created as a critical event).
import { keys } from '../../core/keys.js';
import type { RedisClient } from '../../core/redis.js';
import type { Sql } from '../../core/db.js';
import { seqSortKey, isSeq } from '../../core/seq.js';
import { readPresence } from '../../core/presence.js';
import { deletedMessages, readPositions } from './store.js';

export interface ItemRef {
  messageId: string;
  threadId: string;
  userId: string;
  seq: string;
}

export interface DeliveryFacts {
  deleted(messageId: string): boolean;
  participant(threadId: string, userId: string): boolean;
  read(item: ItemRef): boolean;
  active(userId: string): boolean;
}

/** Reads the facts of every item in four round trips (pipelined Redis reads, two Postgres queries). */
export async function loadFacts(
  r: RedisClient, sql: Sql, tenantId: string, items: ItemRef[], opts: { presence: boolean },
): Promise<DeliveryFacts> {
  const messageIds = [...new Set(items.map((i) => i.messageId))];
  const pairs = [...new Map(items.map((i) => [`${i.threadId}\n${i.userId}`, { thread_id: i.threadId, user_id: i.userId }])).values()];
  const users = [...new Set(items.map((i) => i.userId))];

  const p = r.pipeline();
  for (const m of messageIds) p.hmget(keys.message(tenantId, m), 'seq', 'deleted');
  for (const x of pairs) p.sismember(keys.threadMembers(tenantId, x.thread_id), x.user_id);
  const [replies, positions, presence] = await Promise.all([
    p.exec(),
    readPositions(sql, tenantId, pairs),
    opts.presence && users.length ? readPresence(r, tenantId, users) : Promise.resolve([]),
  ]);
  if (!replies) throw new Error('facts pipeline returned nothing');
  const failed = replies.find(([err]) => err);
  if (failed?.[0]) throw failed[0];

  const deleted = new Set<string>();
  const unknown: string[] = [];
  messageIds.forEach((m, i) => {
    const [seq, del] = replies[i]![1] as [string | null, string | null];
    if (del === '1') deleted.add(m);
    else if (seq === null) unknown.push(m); // metadata expired (older than CHORUS_MESSAGE_META_TTL_S): ask Postgres
  });
  for (const m of await deletedMessages(sql, tenantId, unknown)) deleted.add(m);

  const members = new Set<string>();
  pairs.forEach((x, i) => {
    if (Number(replies[messageIds.length + i]![1]) === 1) members.add(`${x.thread_id}\n${x.user_id}`);
  });
  const online = new Set(presence.filter((u) => u.status === 'online').map((u) => u.userId));

  return {
    deleted: (m) => deleted.has(m),
    participant: (t, u) => members.has(`${t}\n${u}`),
    read: (i) => {
      const pos = positions.get(`${i.userId}\n${i.threadId}`);
      return pos !== undefined && isSeq(i.seq) && pos >= seqSortKey(i.seq);
    },
    active: (u) => online.has(u),
  };
}

export interface ThreadInfo {
  members: string[];
  title: string | null;
}

/** Members and title of threads (Redis: the write path's membership authority). */
export async function threadInfo(r: RedisClient, tenantId: string, threadIds: string[]): Promise<Map<string, ThreadInfo>> {
  const out = new Map<string, ThreadInfo>();
  if (!threadIds.length) return out;
  const p = r.pipeline();
  for (const t of threadIds) p.smembers(keys.threadMembers(tenantId, t)).hget(keys.thread(tenantId, t), 'title');
  const replies = await p.exec();
  if (!replies) throw new Error('thread info pipeline returned nothing');
  threadIds.forEach((t, i) => {
    const [e1, members] = replies[i * 2]!;
    const [e2, title] = replies[i * 2 + 1]!;
    if (e1 || e2) throw (e1 ?? e2) as Error;
    out.set(t, { members: members as string[], title: (title as string | null) || null });
  });
  return out;
}
