// Presence as readers see it: the status vocabulary and the read of users' presence on the Redis
// clock (lua/presence-read.lua). The gateway writes presence (gateway/presence/); anyone below it
// that must know who is online (notification delivery) reads it here.
import type { RedisClient } from './redis.js';
import { keys } from './keys.js';
import { luaScript } from './lua-script.js';

export const STATUSES = ['online', 'away', 'dnd', 'offline'] as const;
export type Status = (typeof STATUSES)[number];

export function isStatus(v: unknown): v is Status {
  return typeof v === 'string' && (STATUSES as readonly string[]).includes(v);
}

const readScript = luaScript('core/lua/presence-read.lua');

/** Users per read script call: keeps each script short so it never stalls Redis. */
const READ_CHUNK = 200;

const iso = (ms: number) => new Date(ms).toISOString();

export interface PresenceRecord {
  userId: string;
  status: Status;
  version: number;
  /** When the status took its value; null for a user never seen. */
  at: string | null;
  lastSeenAt: string | null;
}

/** The presence of users of one tenant, in the order given (unknown users: offline, version 0). */
export async function readPresence(r: RedisClient, tenantId: string, userIds: string[]): Promise<PresenceRecord[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < userIds.length; i += READ_CHUNK) chunks.push(userIds.slice(i, i + READ_CHUNK));
  const replies = await Promise.all(chunks.map((c) => readScript.run(r, c.map((u) => keys.presenceUser(tenantId, u)), []) as Promise<(string | number)[]>));
  const out: PresenceRecord[] = [];
  chunks.forEach((c, ci) => {
    const flat = replies[ci]!;
    c.forEach((userId, i) => {
      const status = String(flat[i * 4]);
      const at = Number(flat[i * 4 + 2]);
      const seen = Number(flat[i * 4 + 3]);
      out.push({
        userId,
        status: isStatus(status) ? status : 'offline',
        version: Number(flat[i * 4 + 1]),
        at: at > 0 ? iso(at) : null,
        lastSeenAt: seen > 0 ? iso(seen) : null,
      });
    });
  });
  return out;
}
